package cpu

import (
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// optTask is the Device's preallocated SGD/Adam, parallel over contiguous
// element ranges.
type optTask struct {
	adam                bool
	lr, momentum, wd    float32
	beta1, beta2, eps   float32
	stepSize, bc2Sqrt   float32
	params, grads, m, v []float32
}

// SGD updates params as torch.optim.SGD (dampening 0, no Nesterov):
//
//	g = grad + wd·p
//	v = momentum·v + g; g = v     (only when momentum != 0; vel may then be nil)
//	p = p - lr·g
//
// PyTorch sets v = g on the first step; with v zeroed by Alloc,
// momentum·0 + g is the same number.
func (d *Device) SGD(count int, lr, momentum, wd float32, params, grads, vel kernels.Buffer) error {
	if err := kernels.CheckSGD(count, momentum, params, grads, vel); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ps, err := d.f32("SGD", "params", params, count)
	if err != nil {
		return err
	}
	gs, err := d.f32("SGD", "grads", grads, count)
	if err != nil {
		return err
	}
	var vs []float32
	if momentum != 0 {
		if vs, err = d.f32("SGD", "vel", vel, count); err != nil {
			return err
		}
	}
	t := &d.opt
	*t = optTask{lr: lr, momentum: momentum, wd: wd, params: ps, grads: gs, v: vs}
	d.pool.parallel(t, ceilDiv(count, vecBlock), elemGrain/vecBlock)
	*t = optTask{}
	return nil
}

// Adam updates params as torch.optim.Adam (amsgrad off, L2 weight decay
// added to the gradient), step being the 1-based step number, following
// PyTorch's order of floating-point operations:
//
//	g  = grad + wd·p
//	m  = lerp(m, g, 1-beta1)             // = beta1·m + (1-beta1)·g, see lerp32
//	v  = beta2·v + (1-beta2)·g·g
//	bc1 = 1 - beta1^step, bc2 = 1 - beta2^step      (float64, as Python does)
//	stepSize = float32(lr / bc1), bc2Sqrt = float32(sqrt(bc2))
//	p  = p - stepSize · m / (sqrt(v)/bc2Sqrt + eps)
//
// which is p -= lr·m̂/(sqrt(v̂)+eps) with m̂ = m/bc1, v̂ = v/bc2.
func (d *Device) Adam(count int, lr, beta1, beta2, eps, wd float32, step int, params, grads, m, v kernels.Buffer) error {
	if err := kernels.CheckAdam(count, step, params, grads, m, v); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	ps, err := d.f32("Adam", "params", params, count)
	if err != nil {
		return err
	}
	gs, err := d.f32("Adam", "grads", grads, count)
	if err != nil {
		return err
	}
	ms, err := d.f32("Adam", "m", m, count)
	if err != nil {
		return err
	}
	vs, err := d.f32("Adam", "v", v, count)
	if err != nil {
		return err
	}
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	t := &d.opt
	*t = optTask{adam: true, lr: lr, wd: wd, beta1: beta1, beta2: beta2, eps: eps,
		stepSize: float32(float64(lr) / bc1), bc2Sqrt: float32(math.Sqrt(bc2)),
		params: ps, grads: gs, m: ms, v: vs}
	d.pool.parallel(t, ceilDiv(count, vecBlock), elemGrain/vecBlock)
	*t = optTask{}
	return nil
}

// run updates the blocks of vecBlock elements [lo, hi): the vector loops
// (simd_*.go) take the longest multiple of their width, the Go loops the
// rest. Chunks are whole blocks, so only the last elements of the buffer
// ever take the Go loop, whatever the number of threads: on arm64, where Go
// fuses a·b+c and the vector loops do not, that keeps the bits independent
// of the thread count.
func (t *optTask) run(_, lo, hi int) {
	lo, hi = lo*vecBlock, min(hi*vecBlock, len(t.params))
	p, g := t.params[lo:hi], t.grads[lo:hi]
	g = g[:len(p)]
	if !t.adam {
		if t.momentum == 0 {
			done := sgdVec(p, g, t.lr, t.wd)
			for i, gi := range g[done:] {
				i += done
				gi += t.wd * p[i]
				p[i] -= t.lr * gi
			}
			return
		}
		v := t.v[lo:hi]
		v = v[:len(p)]
		done := sgdMomentumVec(p, g, v, t.lr, t.momentum, t.wd)
		for i, gi := range g[done:] {
			i += done
			gi += t.wd * p[i]
			vi := t.momentum*v[i] + gi
			v[i] = vi
			p[i] -= t.lr * vi
		}
		return
	}
	m, v := t.m[lo:hi], t.v[lo:hi]
	m, v = m[:len(p)], v[:len(p)]
	w1, w2 := 1-t.beta1, 1-t.beta2
	done := adamVec(p, g, m, v, w1, t.beta2, w2, t.bc2Sqrt, t.eps, t.stepSize, t.wd)
	for i, gi := range g[done:] {
		i += done
		gi += t.wd * p[i]
		mi := lerp32(m[i], gi, w1)
		vi := t.beta2*v[i] + w2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/t.bc2Sqrt + t.eps
		p[i] -= t.stepSize * (mi / denom)
	}
}

// lerp32 is PyTorch's lerp(a, b, w) = a + w·(b-a), evaluated as PyTorch
// does for accuracy: a + w·(b-a) when |w| < 0.5, else b - (b-a)·(1-w).
func lerp32(a, b, w float32) float32 {
	if w < 0.5 && w > -0.5 {
		return a + w*(b-a)
	}
	return b - (b-a)*(1-w)
}
