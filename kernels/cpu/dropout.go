package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// dropTask is the Device's preallocated DropoutForward and Mul, parallel over
// contiguous element ranges.
type dropTask struct {
	mul      bool
	p, scale float32
	key      uint64    // kernels.DropoutKey(seed, step)
	x, y, z  []float32 // dropout: x, mask=y, out=z; Mul: z = x·y
}

// DropoutForward is inverted dropout: element i is kept when
// kernels.DropoutUniform(seed, step, i) >= p (the counter-based generator of
// kernels/rng.go that every device shares, so CPU and GPU draw the same
// masks); mask[i] = 1/(1-p) (computed in float32 as 1 / (1 - p)) when kept
// and 0 when dropped, and y[i] = x[i]·mask[i]. p = 0 keeps everything with
// mask 1; p = 1 drops everything.
func (d *Device) DropoutForward(count int, p float32, seed, step uint64, x, mask, y kernels.Buffer) error {
	if err := kernels.CheckDropout(count, p, x, mask, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32("DropoutForward", "x", x, count)
	if err != nil {
		return err
	}
	ms, err := d.f32("DropoutForward", "mask", mask, count)
	if err != nil {
		return err
	}
	ys, err := d.f32("DropoutForward", "y", y, count)
	if err != nil {
		return err
	}
	t := &d.drop
	*t = dropTask{p: p, key: kernels.DropoutKey(seed, step), x: xs, y: ms, z: ys}
	if p < 1 {
		t.scale = 1 / (1 - p)
	}
	d.pool.parallel(t, count, elemGrain)
	*t = dropTask{}
	return nil
}

// Mul writes z = x·y elementwise (dropout's backward: dx = dy·mask).
func (d *Device) Mul(count int, x, y, z kernels.Buffer) error {
	if err := kernels.CheckMul(count, x, y, z); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32("Mul", "x", x, count)
	if err != nil {
		return err
	}
	ys, err := d.f32("Mul", "y", y, count)
	if err != nil {
		return err
	}
	zs, err := d.f32("Mul", "z", z, count)
	if err != nil {
		return err
	}
	t := &d.drop
	*t = dropTask{mul: true, x: xs, y: ys, z: zs}
	d.pool.parallel(t, count, elemGrain)
	*t = dropTask{}
	return nil
}

// run processes elements [lo, hi).
func (t *dropTask) run(_, lo, hi int) {
	x, y, z := t.x[lo:hi], t.y[lo:hi], t.z[lo:hi]
	x, y = x[:len(z)], y[:len(z)]
	if t.mul {
		for i := range z {
			z[i] = x[i] * y[i]
		}
		return
	}
	// DropoutUniformKeyed < 1, so p = 1 drops everything (scale is then 0 too).
	for i := range z {
		var m float32
		if kernels.DropoutUniformKeyed(t.key, lo+i) >= t.p {
			m = t.scale
		}
		y[i] = m
		z[i] = x[i] * m
	}
}
