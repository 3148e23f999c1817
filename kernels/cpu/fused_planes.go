package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// The fused CNN-block ops run [batch norm apply,] activation and max-pool,
// and their backwards, one [n, ch, h, w] plane at a time, so a plane is
// read from memory once and the later ops find it in cache: at batch 64
// the conv blocks' activations (800 KB for the 28×28 one) outgrow the L2
// cache, and separate ops each stream them again. Each plane goes through
// the separate ops' own loops (bnAffinePlane, actTask, poolTask,
// bnSumsPlane, bnDxPlane), and the batch norm's per-plane partial sums are
// added in image order as bnTask adds them, so the results are the
// separate ops' bits whatever the number of threads.

// planeTask is a max-pool plan's preallocated fused pass over planes.
type planeTask struct {
	p    *maxPool
	mode int
	act  kernels.Activation
	bn   bool

	x, bnY, actY, pooled      []float32 // forward; x is the batch norm's input, or the activation's without one
	dpooled, g                []float32 // backward: g is the activation's input gradient
	bnX, bnDx                 []float32 // backward: the batch norm's input and input gradient
	mean, invStd, gamma, beta []float32 // the batch norm's saved statistics and parameters
}

const (
	planeForward  = iota // [batch norm apply,] activation, max-pool
	planeBackward        // max-pool backward, activation backward[, batch norm sums]
	planeBNDx            // batch norm backward's dx
)

// run processes planes [lo, hi).
func (t *planeTask) run(_, lo, hi int) {
	p := t.p
	sp := p.h * p.w
	for pl := lo; pl < hi; pl++ {
		c := pl % p.ch
		a, b := pl*sp, (pl+1)*sp
		switch t.mode {
		case planeForward:
			in := t.x[a:b]
			if t.bn {
				y := t.bnY[a:b]
				bnAffinePlane(in, y, t.mean[c], t.invStd[c]*t.gamma[c], t.beta[c])
				in = y
			}
			at := actTask{act: t.act, x: in, y: t.actY[a:b]}
			at.run(0, 0, sp)
			pt := poolTask{p: p, x: t.actY, y: t.pooled}
			pt.run(0, pl, pl+1)
		case planeBackward:
			pt := poolTask{p: p, backward: true, x: t.actY, dy: t.dpooled, dx: t.g}
			pt.run(0, pl, pl+1)
			g := t.g[a:b]
			at := actTask{act: t.act, backward: true, y: t.actY[a:b], dy: g, dx: g}
			at.run(0, 0, sp)
			if t.bn {
				p.bnSums[2*pl], p.bnSums[2*pl+1] = bnSumsPlane(t.bnX[a:b], g, t.mean[c], t.invStd[c])
			}
		case planeBNDx:
			bnDxPlane(t.bnX[a:b], t.g[a:b], t.bnDx[a:b], t.mean[c], t.invStd[c], p.bnK[c], p.bnMdy[c], p.bnMdyx[c])
		}
	}
}

// runPlanes runs the task over the n·ch planes and drops its references.
func (p *maxPool) runPlanes(mode, n int) {
	t := &p.planes
	t.mode = mode
	p.d.pool.parallel(t, n*p.ch, ceilDiv(elemGrain, p.h*p.w))
}

// clearPlanes drops the task's references to buffers.
func (p *maxPool) clearPlanes() { p.planes = planeTask{p: p} }

// fusedPool returns pool as a max-pool of this device, and bn, when given,
// as a batch norm of this device over the same planes; ok is false when
// they are not (the caller then composes the separate ops).
func (d *Device) fusedPool(pool kernels.MaxPool, bn kernels.BatchNorm) (p *maxPool, b *batchNorm, ok bool) {
	p, ok = pool.(*maxPool)
	if !ok || p.d != d {
		return nil, nil, false
	}
	if bn == nil {
		return p, nil, true
	}
	b, ok = bn.(*batchNorm)
	if !ok || b.d != d || b.ch != p.ch || b.spatial != p.h*p.w || b.maxN != p.maxN {
		return nil, nil, false
	}
	return p, b, true
}

// actPoolSlices checks the activation's and the max-pool's arguments of a
// fused forward and sets the task's x, actY and pooled.
func (p *maxPool) actPoolSlices(act kernels.Activation, n int, x, y, pooled kernels.Buffer) error {
	d, t := p.d, &p.planes
	count := n * p.ch * p.h * p.w
	if err := kernels.CheckActForward(act, count, x, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	const op = "MaxPool.Forward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, y, pooled, nil, nil); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	var err error
	if t.x, err = d.f32("ActForward", "x", x, count); err != nil {
		return err
	}
	if t.actY, err = d.f32(op, "x", y, count); err != nil {
		return err
	}
	t.pooled, err = d.f32(op, "y", pooled, n*p.ch*(p.h/2)*(p.w/2))
	return err
}

// actPoolForward is ActForward and Forward, plane by plane.
func (p *maxPool) actPoolForward(act kernels.Activation, n int, x, y, pooled kernels.Buffer) error {
	defer p.clearPlanes()
	if err := p.actPoolSlices(act, n, x, y, pooled); err != nil {
		return err
	}
	p.planes.act = act
	p.runPlanes(planeForward, n)
	return nil
}

// bnActPoolForward is b.ForwardTrain, ActForward and Forward: the batch
// statistics over the channels, then the rest plane by plane.
func (p *maxPool) bnActPoolForward(b *batchNorm, act kernels.Activation, n int, x, gamma, beta, runMean, runVar,
	saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	defer p.clearPlanes()
	if err := kernels.CheckBatchNormTrain(b.ch, b.spatial, b.maxN, n, x, gamma, beta, runMean, runVar, bnY, saveMean, saveInvStd); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := p.actPoolSlices(act, n, bnY, actY, pooled); err != nil {
		return err
	}
	if err := b.forwardTrain(bnStats, n, x, gamma, beta, runMean, runVar, bnY, saveMean, saveInvStd); err != nil {
		return err
	}
	t := &p.planes
	t.bnY = t.x // actPoolSlices set x to the activation's input
	if err := p.bnSlices(n, x, gamma, saveMean, saveInvStd); err != nil {
		return err
	}
	var err error
	if t.beta, err = p.d.f32("BatchNorm.ForwardTrain", "beta", beta, p.ch); err != nil {
		return err
	}
	t.x, t.bnX = t.bnX, nil
	t.act, t.bn = act, true
	p.runPlanes(planeForward, n)
	return nil
}

// bnSlices sets the task's batch norm input, gamma and saved statistics.
func (p *maxPool) bnSlices(n int, x, gamma, saveMean, saveInvStd kernels.Buffer) error {
	const op = "BatchNorm"
	d, t := p.d, &p.planes
	var err error
	if t.bnX, err = d.f32(op, "x", x, n*p.ch*p.h*p.w); err != nil {
		return err
	}
	if t.gamma, err = d.f32(op, "gamma", gamma, p.ch); err != nil {
		return err
	}
	if t.mean, err = d.f32(op, "saveMean", saveMean, p.ch); err != nil {
		return err
	}
	t.invStd, err = d.f32(op, "saveInvStd", saveInvStd, p.ch)
	return err
}

// poolActSlices checks the max-pool's and the activation's arguments of a
// fused backward and sets the task's actY, dpooled and g.
func (p *maxPool) poolActSlices(act kernels.Activation, n int, y, dpooled, dx kernels.Buffer) error {
	d, t := p.d, &p.planes
	const op = "MaxPool.Backward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, y, dpooled, dpooled, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	count := n * p.ch * p.h * p.w
	if err := kernels.CheckActBackward(act, count, y, y, dx, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	var err error
	if t.actY, err = d.f32(op, "x", y, count); err != nil {
		return err
	}
	if t.dpooled, err = d.f32(op, "dy", dpooled, n*p.ch*(p.h/2)*(p.w/2)); err != nil {
		return err
	}
	t.g, err = d.f32(op, "dx", dx, count)
	return err
}

// poolActBackward is Backward and ActBackward, plane by plane.
func (p *maxPool) poolActBackward(act kernels.Activation, n int, y, dpooled, dx kernels.Buffer) error {
	defer p.clearPlanes()
	if err := p.poolActSlices(act, n, y, dpooled, dx); err != nil {
		return err
	}
	p.planes.act = act
	p.runPlanes(planeBackward, n)
	return nil
}

// poolActBNBackward is Backward, ActBackward and b.Backward: the first two
// and the batch norm's per-plane sums plane by plane, the sums' reduction
// per channel in image order, then the batch norm's dx plane by plane.
func (p *maxPool) poolActBNBackward(b *batchNorm, act kernels.Activation, n int, actY, dpooled, g, x, gamma,
	saveMean, saveInvStd, dx, dgamma, dbeta kernels.Buffer) error {
	defer p.clearPlanes()
	if err := p.poolActSlices(act, n, actY, dpooled, g); err != nil {
		return err
	}
	if err := kernels.CheckBatchNormBackward(b.ch, b.spatial, b.maxN, n, x, g, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := p.bnSlices(n, x, gamma, saveMean, saveInvStd); err != nil {
		return err
	}
	const op = "BatchNorm.Backward"
	d, t := p.d, &p.planes
	dxs, err := d.f32(op, "dx", dx, n*p.ch*p.h*p.w)
	if err != nil {
		return err
	}
	dgs, err := d.f32(op, "dgamma", dgamma, p.ch)
	if err != nil {
		return err
	}
	dbs, err := d.f32(op, "dbeta", dbeta, p.ch)
	if err != nil {
		return err
	}
	t.act, t.bn, t.bnDx = act, true, dxs
	p.runPlanes(planeBackward, n)
	N := float64(n * p.h * p.w)
	for c := 0; c < p.ch; c++ {
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			sdy += float64(p.bnSums[2*(i*p.ch+c)])
			sdyx += float64(p.bnSums[2*(i*p.ch+c)+1])
		}
		dbs[c], dgs[c] = float32(sdy), float32(sdyx)
		p.bnK[c] = t.gamma[c] * t.invStd[c]
		p.bnMdy[c], p.bnMdyx[c] = float32(sdy/N), float32(sdyx/N)
	}
	p.runPlanes(planeBNDx, n)
	return nil
}
