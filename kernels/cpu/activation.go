package cpu

import (
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// elemGrain is the least number of elements an elementwise op hands to a
// thread: below it a hand-off costs more than it saves.
const elemGrain = 1 << 14

// actTask is the Device's preallocated ActForward/ActBackward, parallel over
// contiguous element ranges.
type actTask struct {
	act          kernels.Activation
	backward     bool
	x, y, dy, dx []float32
}

// ActForward writes y = f(x) elementwise for the first count elements:
// ReLU max(x, 0) (NaN stays NaN as in torch.relu; -0 gives +0); Sigmoid
// 1/(1+e^-x) and
// Tanh evaluated in float64 and rounded; Identity copies.
func (d *Device) ActForward(act kernels.Activation, count int, x, y kernels.Buffer) error {
	if err := kernels.CheckActForward(act, count, x, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32("ActForward", "x", x, count)
	if err != nil {
		return err
	}
	ys, err := d.f32("ActForward", "y", y, count)
	if err != nil {
		return err
	}
	t := &d.act
	*t = actTask{act: act, x: xs, y: ys}
	d.pool.parallel(t, count, elemGrain)
	*t = actTask{}
	return nil
}

// ActBackward writes dx = dy·f'(x) with f' expressed through y = f(x), as
// PyTorch's backward formulas: ReLU dy where y > 0 else 0; Sigmoid
// dy·y·(1-y); Tanh dy·(1-y²); Identity dy. x is checked but not read.
func (d *Device) ActBackward(act kernels.Activation, count int, x, y, dy, dx kernels.Buffer) error {
	if err := kernels.CheckActBackward(act, count, x, y, dy, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32("ActBackward", "x", x, count)
	if err != nil {
		return err
	}
	ys, err := d.f32("ActBackward", "y", y, count)
	if err != nil {
		return err
	}
	dys, err := d.f32("ActBackward", "dy", dy, count)
	if err != nil {
		return err
	}
	dxs, err := d.f32("ActBackward", "dx", dx, count)
	if err != nil {
		return err
	}
	t := &d.act
	*t = actTask{act: act, backward: true, x: xs, y: ys, dy: dys, dx: dxs}
	d.pool.parallel(t, count, elemGrain)
	*t = actTask{}
	return nil
}

// run applies the activation or its derivative to elements [lo, hi).
func (t *actTask) run(_, lo, hi int) {
	y := t.y[lo:hi]
	if !t.backward {
		x := t.x[lo:hi]
		x = x[:len(y)]
		switch t.act {
		case kernels.ReLU:
			done := reluForwardVec(x, y) // the same bits (simd_*.go)
			for i, v := range x[done:] {
				y[done+i] = max(v, 0) // branch-free MAXSS; NaN propagates
			}
		case kernels.Sigmoid:
			for i, v := range x {
				y[i] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		case kernels.Tanh:
			for i, v := range x {
				y[i] = float32(math.Tanh(float64(v)))
			}
		case kernels.Identity:
			copy(y, x)
		}
		return
	}
	dy, dx := t.dy[lo:hi], t.dx[lo:hi]
	dy, dx = dy[:len(y)], dx[:len(y)]
	switch t.act {
	case kernels.ReLU:
		// dx = dy where y > 0, else 0 (NaN included). The select is done on
		// the bits with an integer mask, which compiles to a CMOV: a
		// branch on the sign of random activations mispredicts half the
		// time and is five times slower.
		done := reluBackwardVec(y, dy, dx) // the same bits (simd_*.go)
		for i, v := range y[done:] {
			i += done
			var m uint32
			if v > 0 {
				m = ^uint32(0)
			}
			dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
		}
	case kernels.Sigmoid:
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	case kernels.Tanh:
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case kernels.Identity:
		copy(dx, dy)
	}
}
