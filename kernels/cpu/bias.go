package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// biasTask is the Device's preallocated AddBias/BiasGrad. AddBias runs in
// parallel over the batch, BiasGrad over the channels.
type biasTask struct {
	grad        bool
	n, ch, sp   int
	y, bias, dy []float32
}

// AddBias adds bias[c] to y[i, c, s] for y of shape [n, ch, spatial].
func (d *Device) AddBias(n, ch, spatial int, y, bias kernels.Buffer) error {
	if err := kernels.CheckBias("AddBias", n, ch, spatial, y, bias); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ys, err := d.f32("AddBias", "y", y, n*ch*spatial)
	if err != nil {
		return err
	}
	bs, err := d.f32("AddBias", "bias", bias, ch)
	if err != nil {
		return err
	}
	t := &d.bias
	*t = biasTask{n: n, ch: ch, sp: spatial, y: ys, bias: bs}
	d.pool.parallel(t, n, ceilDiv(elemGrain, max(ch*spatial, 1)))
	t.y, t.bias = nil, nil
	return nil
}

// BiasGrad writes dbias[c] = Σ_{i,s} dy[i, c, s], summing in float64.
func (d *Device) BiasGrad(n, ch, spatial int, dy, dbias kernels.Buffer) error {
	if err := kernels.CheckBias("BiasGrad", n, ch, spatial, dy, dbias); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ds, err := d.f32("BiasGrad", "dy", dy, n*ch*spatial)
	if err != nil {
		return err
	}
	bs, err := d.f32("BiasGrad", "dbias", dbias, ch)
	if err != nil {
		return err
	}
	t := &d.bias
	*t = biasTask{grad: true, n: n, ch: ch, sp: spatial, dy: ds, bias: bs}
	d.pool.parallel(t, ch, ceilDiv(elemGrain, max(n*spatial, 1)))
	t.dy, t.bias = nil, nil
	return nil
}

// run adds the bias to images [lo, hi), or sums the gradient of channels
// [lo, hi).
func (t *biasTask) run(_, lo, hi int) {
	sp := t.sp
	if !t.grad {
		for i := lo; i < hi; i++ {
			img := t.y[i*t.ch*sp : (i+1)*t.ch*sp]
			for c, b := range t.bias {
				row := img[c*sp : (c+1)*sp]
				for s := range row {
					row[s] += b
				}
			}
		}
		return
	}
	for c := lo; c < hi; c++ {
		var sum float64
		for i := 0; i < t.n; i++ {
			sum += float64(sum32(t.dy[(i*t.ch+c)*sp : (i*t.ch+c+1)*sp]))
		}
		t.bias[c] = float32(sum)
	}
}

// sum32 is Σ s in float32 with eight partial sums, lane j taking the
// elements 8k+j in order and the last len(s)%8 going to lanes 0.. (short
// rows, so the rounding error stays small; callers add the results in
// float64). The vector path (simd_*.go) keeps the same eight chains in one
// register, so both paths give the same bits.
func sum32(s []float32) float32 {
	var l [8]float32
	done := sumLanesVec(s, &l)
	l0, l1, l2, l3, l4, l5, l6, l7 := l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]
	r := s[done:]
	for len(r) >= 8 {
		l0 += r[0]
		l1 += r[1]
		l2 += r[2]
		l3 += r[3]
		l4 += r[4]
		l5 += r[5]
		l6 += r[6]
		l7 += r[7]
		r = r[8:]
	}
	t := [8]float32{l0, l1, l2, l3, l4, l5, l6, l7}
	for j, v := range r {
		t[j] += v
	}
	return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]))
}
