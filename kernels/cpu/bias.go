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

// sum32 is Σ s in float32 with four partial sums (short rows, so the
// rounding error stays small; callers add the results in float64).
func sum32(s []float32) float32 {
	var a, b, c, d float32
	for len(s) >= 4 {
		a += s[0]
		b += s[1]
		c += s[2]
		d += s[3]
		s = s[4:]
	}
	for _, v := range s {
		a += v
	}
	return (a + b) + (c + d)
}
