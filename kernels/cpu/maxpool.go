package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// maxPool is a 2×2, stride-2 max-pool over [n, ch, h, w] planned for
// batches of up to maxN; the output is [n, ch, h/2, w/2] (floor: a trailing
// odd row or column is dropped). It runs in parallel over the n·ch planes.
//
// The window is scanned in row-major order, (0,0) (0,1) (1,0) (1,1), and an
// element becomes the maximum when v > max or v is NaN, as PyTorch's CPU
// kernel does: ties keep the first element, and a NaN propagates. Backward
// recomputes that arg-max from x. (The forward value is Go's max, which
// differs from that rule only in the sign of a zero: max(-0, +0) = +0.)
type maxPool struct {
	d              *Device
	ch, h, w, maxN int
	task           poolTask
	planes         planeTask // the fused ops' pass (fused_planes.go)
	bnSums         []float32 // per plane: Σ dy, Σ dy·x̂ of a batch norm's backward
	bnK, bnMdy     []float32 // per channel: a batch norm's backward coefficients
	bnMdyx         []float32
}

// poolTask is the plan's preallocated parallel pass over planes.
type poolTask struct {
	p            *maxPool
	backward     bool
	x, y, dy, dx []float32
}

// NewMaxPool plans a 2×2 stride-2 max-pool over [n, ch, h, w].
func (d *Device) NewMaxPool(ch, h, w, maxN int) (kernels.MaxPool, error) {
	if err := kernels.CheckMaxPoolShape(ch, h, w, maxN); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	p := &maxPool{d: d, ch: ch, h: h, w: w, maxN: maxN}
	p.task.p = p
	p.planes.p = p
	p.bnSums = make([]float32, 2*maxN*ch)
	p.bnK, p.bnMdy, p.bnMdyx = make([]float32, ch), make([]float32, ch), make([]float32, ch)
	return p, nil
}

// Forward writes y [n, C, H/2, W/2].
func (p *maxPool) Forward(n int, x, y kernels.Buffer) error {
	const op = "MaxPool.Forward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, x, y, nil, nil); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d, t := p.d, &p.task
	var err error
	if t.x, err = d.f32(op, "x", x, n*p.ch*p.h*p.w); err != nil {
		return err
	}
	if t.y, err = d.f32(op, "y", y, n*p.ch*(p.h/2)*(p.w/2)); err != nil {
		return err
	}
	t.backward = false
	d.pool.parallel(t, n*p.ch, ceilDiv(elemGrain, p.h*p.w))
	*t = poolTask{p: p}
	return nil
}

// Backward routes dy to the arg-max of each window in dx and zeroes the
// rest of dx. y is checked but not read: the arg-max is recomputed from x.
func (p *maxPool) Backward(n int, x, y, dy, dx kernels.Buffer) error {
	const op = "MaxPool.Backward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, x, y, dy, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d, t := p.d, &p.task
	var err error
	in, out := n*p.ch*p.h*p.w, n*p.ch*(p.h/2)*(p.w/2)
	if t.x, err = d.f32(op, "x", x, in); err != nil {
		return err
	}
	if t.y, err = d.f32(op, "y", y, out); err != nil {
		return err
	}
	if t.dy, err = d.f32(op, "dy", dy, out); err != nil {
		return err
	}
	if t.dx, err = d.f32(op, "dx", dx, in); err != nil {
		return err
	}
	t.backward = true
	d.pool.parallel(t, n*p.ch, ceilDiv(elemGrain, p.h*p.w))
	*t = poolTask{p: p}
	return nil
}

// run pools planes [lo, hi).
func (t *poolTask) run(_, lo, hi int) {
	h, w := t.p.h, t.p.w
	oh, ow := h/2, w/2
	for pl := lo; pl < hi; pl++ {
		x := t.x[pl*h*w : (pl+1)*h*w]
		if !t.backward && maxPoolFwdVec(x, t.y[pl*oh*ow:(pl+1)*oh*ow], oh, ow, w) {
			continue // the vector path (simd_*.go)
		}
		var dx []float32
		if t.backward {
			dx = t.dx[pl*h*w : (pl+1)*h*w]
			clear(dx)
			if maxPoolBackVec(x, t.dy[pl*oh*ow:(pl+1)*oh*ow], dx, oh, ow, w) {
				continue // the vector path (simd_*.go)
			}
		}
		for oy := 0; oy < oh; oy++ {
			r0 := x[2*oy*w : 2*oy*w+w]
			r1 := x[(2*oy+1)*w : (2*oy+1)*w+w]
			if !t.backward {
				y := t.y[(pl*oh+oy)*ow : (pl*oh+oy+1)*ow]
				for ox := range y {
					// Go's max is branch-free and, like PyTorch's rule,
					// returns NaN if any element is NaN.
					y[ox] = max(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				}
				continue
			}
			dy := t.dy[(pl*oh+oy)*ow : (pl*oh+oy+1)*ow]
			for ox, g := range dy {
				k := argmax4(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				// k: 0 (0,0), 1 (0,1), 2 (1,0), 3 (1,1)
				dx[(2*oy+k>>1)*w+2*ox+k&1] = g
			}
		}
	}
}

// argmax4 returns the position (0-3) of the maximum of a window given in
// row-major order, with PyTorch's rule: v replaces the maximum when v > max
// or v is NaN, so ties keep the first and the last NaN wins. Without NaNs
// that is the first element equal to the max, found with integer selects
// (CMOVs) instead of data-dependent branches.
func argmax4(a, b, c, d float32) int {
	m := max(a, b, c, d)
	if m != m { // a NaN: the exact scan
		k, mv := 0, a
		for i, v := range [3]float32{b, c, d} {
			if v > mv || v != v {
				k, mv = i+1, v
			}
		}
		return k
	}
	k := 3
	if c == m {
		k = 2
	}
	if b == m {
		k = 1
	}
	if a == m {
		k = 0
	}
	return k
}
