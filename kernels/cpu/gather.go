package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// gatherTask is the Device's preallocated GatherImages, parallel over rows.
type gatherTask struct {
	d    int
	data []uint8
	idx  []int32
	dst  []float32
	lut  [256]float32 // lut[v] = (v/255 - mean)/std for this call's mean, std
}

// GatherImages writes dst[i·d+j] = (data[idx[i]·d+j]/255 - mean)/std for
// i < n, j < d. Every value is computed in float32 exactly as
// (float32(v)/255 - mean)/std (through a 256-entry table), which a CUDA
// kernel reproduces bit for bit with IEEE division (nvcc's default
// -prec-div=true, no --use_fast_math).
func (d *Device) GatherImages(n, dim int, data, idx, dst kernels.Buffer, mean, std float32) error {
	if err := kernels.CheckGatherImages(n, dim, data, idx, dst, std); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ds, err := d.u8("GatherImages", "data", data)
	if err != nil {
		return err
	}
	is, err := d.i32("GatherImages", "idx", idx, n)
	if err != nil {
		return err
	}
	out, err := d.f32("GatherImages", "dst", dst, n*dim)
	if err != nil {
		return err
	}
	rows := 0
	if dim > 0 {
		rows = len(ds) / dim
	}
	if err := kernels.CheckIndices("GatherImages", is, rows); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d.gatherRows(dim, ds, is, out, mean, std)
	return nil
}

// gatherRows writes out[i*dim:(i+1)*dim] = (ds row is[i] / 255 - mean) /
// std for every i, in parallel; the indices are checked.
func (d *Device) gatherRows(dim int, ds []uint8, is []int32, out []float32, mean, std float32) {
	t := &d.gather
	for v := range t.lut {
		t.lut[v] = (float32(v)/255 - mean) / std
	}
	t.d, t.data, t.idx, t.dst = dim, ds, is, out
	d.pool.parallel(t, len(is), ceilDiv(elemGrain, max(dim, 1)))
	t.data, t.idx, t.dst = nil, nil, nil
}

// run gathers rows [lo, hi).
func (t *gatherTask) run(_, lo, hi int) {
	dim := t.d
	for i := lo; i < hi; i++ {
		r := int(t.idx[i])
		src := t.data[r*dim : (r+1)*dim]
		out := t.dst[i*dim : (i+1)*dim]
		for j, v := range src {
			out[j] = t.lut[v]
		}
	}
}

// GatherLabels writes dst[i] = int32(labels[idx[i]]) for i < n.
func (d *Device) GatherLabels(n int, labels, idx, dst kernels.Buffer) error {
	if err := kernels.CheckGatherLabels(n, labels, idx, dst); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ls, err := d.u8("GatherLabels", "labels", labels)
	if err != nil {
		return err
	}
	is, err := d.i32("GatherLabels", "idx", idx, n)
	if err != nil {
		return err
	}
	out, err := d.i32("GatherLabels", "dst", dst, n)
	if err != nil {
		return err
	}
	if err := kernels.CheckIndices("GatherLabels", is, len(ls)); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	gatherLabels(ls, is, out)
	return nil
}

// gatherLabels writes out[i] = labels[is[i]]; the indices are checked.
func gatherLabels(labels []uint8, is, out []int32) {
	for i, r := range is {
		out[i] = int32(labels[r])
	}
}
