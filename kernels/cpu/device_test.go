package cpu

import (
	"slices"
	"testing"

	"mnistgpu/kernels"
)

func TestName(t *testing.T) {
	for _, tc := range []struct {
		threads int
		want    string
	}{{1, "cpu (1 thread)"}, {2, "cpu (2 threads)"}, {8, "cpu (8 threads)"}} {
		d := New(tc.threads)
		if got := d.Name(); got != tc.want {
			t.Errorf("New(%d).Name() = %q, want %q", tc.threads, got, tc.want)
		}
		must(t, d.Close())
		must(t, d.Close())
	}
	if d := New(0); d.Threads() < 1 {
		t.Errorf("New(0) has %d threads", d.Threads())
	}
}

func TestBuffers(t *testing.T) {
	d := New(2)
	defer d.Close()
	for _, tc := range []struct {
		dt       kernels.DType
		src, dst any
		viewD    any // what downloading the view [2, 5) gives
	}{
		{kernels.F32, []float32{1, 2, 3, 4, 5, 6}, make([]float32, 6), []float32{3, 4, 5}},
		{kernels.U8, []uint8{1, 2, 3, 4, 5, 6}, make([]uint8, 6), []uint8{3, 4, 5}},
		{kernels.I32, []int32{1, -2, 3, -4, 5, -6}, make([]int32, 6), []int32{3, -4, 5}},
	} {
		b, err := d.Alloc(tc.dt, 7)
		must(t, err)
		if b.DType() != tc.dt || b.Len() != 7 {
			t.Fatalf("Alloc(%v, 7) gave %v[%d]", tc.dt, b.DType(), b.Len())
		}
		must(t, d.Upload(b, tc.src))
		must(t, d.Download(tc.dst, b))
		if !equalAny(tc.src, tc.dst) {
			t.Errorf("%v: downloaded %v, uploaded %v", tc.dt, tc.dst, tc.src)
		}
		v := d.View(b, 2, 3)
		if v.DType() != tc.dt || v.Len() != 3 {
			t.Fatalf("View gave %v[%d]", v.DType(), v.Len())
		}
		got := makeLike(tc.viewD)
		must(t, d.Download(got, v))
		if !equalAny(got, tc.viewD) {
			t.Errorf("%v: view downloads %v, want %v", tc.dt, got, tc.viewD)
		}
		// Writes through the view reach the buffer; the view cannot grow.
		must(t, d.Upload(v, makeLike(tc.viewD))) // zeros
		full := makeLike(tc.src)
		must(t, d.Download(full, b))
		if !equalAny(full, zeroRange(tc.src, 2, 5)) {
			t.Errorf("%v: after zeroing the view, buffer is %v", tc.dt, full)
		}
		if err := d.Upload(v, tc.src); err == nil {
			t.Errorf("%v: uploading 6 elements into a view of 3: no error", tc.dt)
		}
		// A view of a view.
		vv := d.View(v, 1, 2)
		if vv.Len() != 2 {
			t.Errorf("view of view has %d elements", vv.Len())
		}
		d.Free(v) // not an allocation: ignored
		d.Free(b)
	}
	if d.Allocated() != 0 {
		t.Errorf("Allocated() = %d after freeing everything", d.Allocated())
	}
}

func TestBufferErrors(t *testing.T) {
	d := New(1)
	defer d.Close()
	f, _ := d.Alloc(kernels.F32, 4)
	u, _ := d.Alloc(kernels.U8, 4)
	i, _ := d.Alloc(kernels.I32, 4)
	if got := d.Allocated(); got != 4*4+4+4*4 {
		t.Errorf("Allocated() = %d, want 36", got)
	}
	other := New(1)
	defer other.Close()
	o, _ := other.Alloc(kernels.F32, 4)
	for name, err := range map[string]error{
		"upload u8 into f32":     d.Upload(f, []uint8{1}),
		"upload f32 into i32":    d.Upload(i, []float32{1}),
		"upload too long":        d.Upload(u, []uint8{1, 2, 3, 4, 5}),
		"upload unsupported":     d.Upload(f, []float64{1}),
		"download into wrong":    d.Download(make([]int32, 1), f),
		"download too long":      d.Download(make([]float32, 5), f),
		"fill u8":                d.Fill(u, 1),
		"copy mismatched":        d.Copy(f, i),
		"foreign buffer":         d.Fill(o, 1),
		"gemm too short":         d.Gemm(false, false, 2, 2, 2, 1, f, f, 0, u),
		"act wrong type":         d.ActForward(kernels.ReLU, 4, i, f),
		"act unknown":            d.ActForward(kernels.Activation(9), 4, f, f),
		"dropout p > 1":          d.DropoutForward(4, 1.5, 0, 0, f, f, f),
		"conv n > maxN":          convErr(d, f),
		"alloc negative":         allocErr(d),
		"sgd short":              d.SGD(5, 0.1, 0, 0, f, f, nil),
		"loss unknown":           d.LossForward(kernels.Loss(7), 1, 4, f, i, nil, f, f),
		"bias grad wrong dbias":  d.BiasGrad(1, 4, 1, f, u),
		"gather labels wrong dt": d.GatherLabels(1, f, i, i),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	d.Free(f)
	if err := d.Fill(f, 1); err == nil {
		t.Error("fill of a freed buffer: no error")
	}
	must(t, d.Copy(u, u))
	if err := d.Fill(d.View(i, 0, 0), 0); err == nil {
		t.Error("fill of an i32 view: no error")
	}
}

func convErr(d *Device, f kernels.Buffer) error {
	c, err := d.NewConv2D(kernels.ConvShape{C: 1, H: 2, W: 2, K: 3, OutC: 1}, 1)
	if err != nil {
		return nil
	}
	return c.Forward(2, f, f, f)
}

func allocErr(d *Device) error {
	_, err := d.Alloc(kernels.F32, -1)
	return err
}

func TestFillCopy(t *testing.T) {
	d := New(2)
	defer d.Close()
	a, b := alloc32(t, d, nil, 5), alloc32(t, d, nil, 5)
	must(t, d.Fill(a, 2.5))
	must(t, d.Copy(b, a))
	if !slices.Equal(b.f32, []float32{2.5, 2.5, 2.5, 2.5, 2.5}) {
		t.Errorf("Copy gave %v", b.f32)
	}
	x, y := allocI32(t, d, []int32{1, 2}), allocI32(t, d, []int32{0, 0})
	must(t, d.Copy(y, x))
	if !slices.Equal(y.i32, []int32{1, 2}) {
		t.Errorf("Copy i32 gave %v", y.i32)
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []float32:
		return slices.Equal(a, b.([]float32))
	case []uint8:
		return slices.Equal(a, b.([]uint8))
	case []int32:
		return slices.Equal(a, b.([]int32))
	}
	return false
}

func makeLike(s any) any {
	switch s := s.(type) {
	case []float32:
		return make([]float32, len(s))
	case []uint8:
		return make([]uint8, len(s))
	case []int32:
		return make([]int32, len(s))
	}
	return nil
}

func zeroRange(s any, lo, hi int) any {
	switch s := s.(type) {
	case []float32:
		c := slices.Clone(s)
		clear(c[lo:hi])
		return c
	case []uint8:
		c := slices.Clone(s)
		clear(c[lo:hi])
		return c
	case []int32:
		c := slices.Clone(s)
		clear(c[lo:hi])
		return c
	}
	return nil
}
