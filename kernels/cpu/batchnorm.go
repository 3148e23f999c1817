package cpu

import (
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// batchNorm is spatial batch normalisation planned for ch channels of
// spatial values each, in batches of up to maxN. Every op runs in parallel
// over the channels; per-channel sums are taken in float64.
//
// With N = n·spatial values per channel, mean μ and biased variance σ² of
// the batch, istd = 1/sqrt(σ² + eps) and x̂ = (x - μ)·istd:
//
//	forward (train): y = x̂·γ + β, computed as (x - μ)·(istd·γ) + β
//	running stats:   rμ = (1-m)·rμ + m·μ,  rσ² = (1-m)·rσ² + m·σ²·N/(N-1)
//	backward:        dβ = Σ dy,  dγ = Σ dy·x̂,
//	                 dx = γ·istd·(dy - dβ/N - x̂·dγ/N)
//	forward (infer): y = (x - rμ)·(γ/sqrt(rσ² + eps)) + β
type batchNorm struct {
	d             *Device
	ch, spatial   int
	maxN          int
	eps, momentum float32
	task          bnTask
}

// bnTask is the plan's preallocated parallel pass over channels.
type bnTask struct {
	b                        *batchNorm
	mode                     int
	n                        int
	x, y, dy, dx             []float32
	gamma, beta, rMean, rVar []float32
	sMean, sInvStd           []float32
	dGamma, dBeta            []float32
}

const (
	bnTrain = iota
	bnStats // bnTrain without writing y (the fused ops apply it plane by plane)
	bnInfer
	bnBackward
)

// NewBatchNorm plans batch normalisation over ch channels of spatial values
// for batches of up to maxN.
func (d *Device) NewBatchNorm(ch, spatial, maxN int, eps, momentum float32) (kernels.BatchNorm, error) {
	if err := kernels.CheckBatchNormShape(ch, spatial, maxN, eps); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	b := &batchNorm{d: d, ch: ch, spatial: spatial, maxN: maxN, eps: eps, momentum: momentum}
	b.task.b = b
	return b, nil
}

// ForwardTrain normalises x with the batch statistics, writes y, updates
// runMean and runVar, and saves the batch mean and 1/sqrt(var+eps) (biased
// variance) for Backward. Like PyTorch it needs more than one value per
// channel (the unbiased variance divides by N-1).
func (b *batchNorm) ForwardTrain(n int, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd kernels.Buffer) error {
	return b.forwardTrain(bnTrain, n, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd)
}

// forwardTrain is ForwardTrain (mode bnTrain) or, with mode bnStats, all of
// it but writing y.
func (b *batchNorm) forwardTrain(mode, n int, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd kernels.Buffer) error {
	const op = "BatchNorm.ForwardTrain"
	if err := kernels.CheckBatchNormTrain(b.ch, b.spatial, b.maxN, n, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d, t := b.d, &b.task
	var err error
	count := n * b.ch * b.spatial
	if t.x, err = d.f32(op, "x", x, count); err != nil {
		return err
	}
	if t.y, err = d.f32(op, "y", y, count); err != nil {
		return err
	}
	if err = b.params(op, gamma, beta); err != nil {
		return err
	}
	if t.rMean, err = d.f32(op, "runMean", runMean, b.ch); err != nil {
		return err
	}
	if t.rVar, err = d.f32(op, "runVar", runVar, b.ch); err != nil {
		return err
	}
	if t.sMean, err = d.f32(op, "saveMean", saveMean, b.ch); err != nil {
		return err
	}
	if t.sInvStd, err = d.f32(op, "saveInvStd", saveInvStd, b.ch); err != nil {
		return err
	}
	b.run(mode, n)
	return nil
}

// ForwardInfer normalises x with the running averages.
func (b *batchNorm) ForwardInfer(n int, x, gamma, beta, runMean, runVar, y kernels.Buffer) error {
	const op = "BatchNorm.ForwardInfer"
	if err := kernels.CheckBatchNormInfer(b.ch, b.spatial, b.maxN, n, x, gamma, beta, runMean, runVar, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d, t := b.d, &b.task
	var err error
	count := n * b.ch * b.spatial
	if t.x, err = d.f32(op, "x", x, count); err != nil {
		return err
	}
	if t.y, err = d.f32(op, "y", y, count); err != nil {
		return err
	}
	if err = b.params(op, gamma, beta); err != nil {
		return err
	}
	if t.rMean, err = d.f32(op, "runMean", runMean, b.ch); err != nil {
		return err
	}
	if t.rVar, err = d.f32(op, "runVar", runVar, b.ch); err != nil {
		return err
	}
	b.run(bnInfer, n)
	return nil
}

// Backward computes dx, dgamma and dbeta from the saved statistics.
func (b *batchNorm) Backward(n int, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta kernels.Buffer) error {
	const op = "BatchNorm.Backward"
	if err := kernels.CheckBatchNormBackward(b.ch, b.spatial, b.maxN, n, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	d, t := b.d, &b.task
	var err error
	count := n * b.ch * b.spatial
	if t.x, err = d.f32(op, "x", x, count); err != nil {
		return err
	}
	if t.dy, err = d.f32(op, "dy", dy, count); err != nil {
		return err
	}
	if t.dx, err = d.f32(op, "dx", dx, count); err != nil {
		return err
	}
	if t.gamma, err = d.f32(op, "gamma", gamma, b.ch); err != nil {
		return err
	}
	if t.sMean, err = d.f32(op, "saveMean", saveMean, b.ch); err != nil {
		return err
	}
	if t.sInvStd, err = d.f32(op, "saveInvStd", saveInvStd, b.ch); err != nil {
		return err
	}
	if t.dGamma, err = d.f32(op, "dgamma", dgamma, b.ch); err != nil {
		return err
	}
	if t.dBeta, err = d.f32(op, "dbeta", dbeta, b.ch); err != nil {
		return err
	}
	b.run(bnBackward, n)
	return nil
}

// params checks gamma and beta into the task.
func (b *batchNorm) params(op string, gamma, beta kernels.Buffer) error {
	var err error
	t := &b.task
	if t.gamma, err = b.d.f32(op, "gamma", gamma, b.ch); err != nil {
		return err
	}
	t.beta, err = b.d.f32(op, "beta", beta, b.ch)
	return err
}

// run runs one pass over the channels and drops the task's references.
func (b *batchNorm) run(mode, n int) {
	t := &b.task
	t.mode, t.n = mode, n
	b.d.pool.parallel(t, b.ch, ceilDiv(elemGrain, n*b.spatial))
	*t = bnTask{b: b}
}

// run processes channels [lo, hi).
func (t *bnTask) run(_, lo, hi int) {
	b := t.b
	sp, stride := b.spatial, b.ch*b.spatial
	N := t.n * sp
	for c := lo; c < hi; c++ {
		switch t.mode {
		case bnTrain, bnStats:
			var sum float64
			for i := 0; i < t.n; i++ {
				sum += float64(sum32(t.x[i*stride+c*sp : i*stride+(c+1)*sp]))
			}
			mean := sum / float64(N)
			var ss float64 // Σ (x-μ)², two-pass for accuracy
			for i := 0; i < t.n; i++ {
				row := t.x[i*stride+c*sp : i*stride+(c+1)*sp]
				part, done := sqDevVec(row, mean) // the vector path (simd_*.go)
				ss += part
				for _, v := range row[done:] {
					e := float64(v) - mean
					ss += e * e
				}
			}
			varB := ss / float64(N)
			invStd := 1 / math.Sqrt(varB+float64(b.eps))
			t.sMean[c] = float32(mean)
			t.sInvStd[c] = float32(invStd)
			m := float64(b.momentum)
			t.rMean[c] = float32((1-m)*float64(t.rMean[c]) + m*mean)
			t.rVar[c] = float32((1-m)*float64(t.rVar[c]) + m*ss/float64(N-1))
			if t.mode == bnTrain {
				t.affine(c, float32(mean), float32(invStd)*t.gamma[c], t.beta[c])
			}
		case bnInfer:
			scale := float32(float64(t.gamma[c]) / math.Sqrt(float64(t.rVar[c])+float64(b.eps)))
			t.affine(c, t.rMean[c], scale, t.beta[c])
		case bnBackward:
			mean, istd := t.sMean[c], t.sInvStd[c]
			var sdy, sdyx float64
			for i := 0; i < t.n; i++ {
				x := t.x[i*stride+c*sp : i*stride+(c+1)*sp]
				dy := t.dy[i*stride+c*sp : i*stride+(c+1)*sp]
				a, g := bnSumsPlane(x, dy, mean, istd)
				sdy += float64(a)
				sdyx += float64(g)
			}
			t.dBeta[c] = float32(sdy)
			t.dGamma[c] = float32(sdyx)
			k := t.gamma[c] * istd
			mdy := float32(sdy / float64(N))
			mdyx := float32(sdyx / float64(N))
			for i := 0; i < t.n; i++ {
				x := t.x[i*stride+c*sp : i*stride+(c+1)*sp]
				dy := t.dy[i*stride+c*sp : i*stride+(c+1)*sp]
				dx := t.dx[i*stride+c*sp : i*stride+(c+1)*sp]
				bnDxPlane(x, dy, dx, mean, istd, k, mdy, mdyx)
			}
		}
	}
}

// affine writes y = (x - shift)·scale + beta over channel c.
func (t *bnTask) affine(c int, shift, scale, beta float32) {
	sp, stride := t.b.spatial, t.b.ch*t.b.spatial
	for i := 0; i < t.n; i++ {
		x := t.x[i*stride+c*sp : i*stride+(c+1)*sp]
		y := t.y[i*stride+c*sp : i*stride+(c+1)*sp]
		bnAffinePlane(x, y, shift, scale, beta)
	}
}

// bnAffinePlane writes y = (x - shift)·scale + beta over one plane.
func bnAffinePlane(x, y []float32, shift, scale, beta float32) {
	y = y[:len(x)]
	done := bnAffineVec(x, y, shift, scale, beta) // the same bits (simd_*.go)
	for j, v := range x[done:] {
		y[done+j] = (v-shift)*scale + beta
	}
}

// bnSumsPlane returns one plane's float32 partials Σ dy and Σ dy·x̂ of the
// backward pass, which callers add in float64; the vector path
// (simd_*.go) sums the first multiple of 8 in 8 lanes.
func bnSumsPlane(x, dy []float32, mean, istd float32) (a, g float32) {
	dy = dy[:len(x)]
	a, g, done := bnBackwardSumsVec(x, dy, mean, istd)
	for j, v := range x[done:] {
		j += done
		a += dy[j]
		g += dy[j] * ((v - mean) * istd)
	}
	return a, g
}

// bnDxPlane writes one plane of dx = k·(dy - mdy - x̂·mdyx).
func bnDxPlane(x, dy, dx []float32, mean, istd, k, mdy, mdyx float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	done := bnBackwardDxVec(x, dy, dx, mean, istd, k, mdy, mdyx) // the same bits
	for j, v := range x[done:] {
		j += done
		xh := (v - mean) * istd
		dx[j] = k * (dy[j] - mdy - xh*mdyx)
	}
}
