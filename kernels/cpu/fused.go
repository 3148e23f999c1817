package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// The step ops (kernels.StepOps): the same work as GatherImages,
// GatherLabels, DropoutForward and Adam, with the batch offset and the step
// number read from the step counter buffer. The CPU device runs them at
// once, so reading the counter on the host is the device reading it.

// counter returns the step counter's slice.
func (d *Device) counter(op string, ctr kernels.Buffer) ([]int32, error) {
	return d.i32(op, "ctr", ctr, kernels.CtrLen)
}

// GatherBatch gathers the n samples perm lists from ctr[CtrOffset] on.
func (d *Device) GatherBatch(n, dim int, data, labels, perm, ctr, images, batchLabels kernels.Buffer, mean, std float32) error {
	const op = "GatherBatch"
	if err := kernels.CheckGatherBatch(n, dim, data, labels, perm, ctr, images, batchLabels, std); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	c, err := d.counter(op, ctr)
	if err != nil {
		return err
	}
	ds, err := d.u8(op, "data", data)
	if err != nil {
		return err
	}
	ls, err := d.u8(op, "labels", labels)
	if err != nil {
		return err
	}
	pb, err := d.buf(op, "perm", perm)
	if err != nil {
		return err
	}
	ps := pb.i32
	off := int(c[kernels.CtrOffset])
	rows := 0
	if dim > 0 {
		rows = len(ds) / dim
	}
	if err := kernels.CheckBatchRange(op, ps, off, n, rows, len(ls)); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	is := ps[off : off+n : off+n]
	out, err := d.f32(op, "images", images, n*dim)
	if err != nil {
		return err
	}
	lo, err := d.i32(op, "batchLabels", batchLabels, n)
	if err != nil {
		return err
	}
	d.gatherRows(dim, ds, is, out, mean, std)
	gatherLabels(ls, is, lo)
	return nil
}

// DropoutForwardAt is DropoutForward at step ctr[CtrStep]<<8 | sub.
func (d *Device) DropoutForwardAt(count int, p float32, seed, sub uint64, ctr, x, mask, y kernels.Buffer) error {
	if err := kernels.CheckDropoutAt(count, p, ctr, x, mask, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	c, err := d.counter("DropoutForwardAt", ctr)
	if err != nil {
		return err
	}
	return d.DropoutForward(count, p, seed, uint64(c[kernels.CtrStep])<<8|sub, x, mask, y)
}

// SGDAt is SGD, then the counter's advance by a batch of n.
func (d *Device) SGDAt(count int, lr, momentum, wd float32, n int, ctr, params, grads, vel kernels.Buffer) error {
	if err := kernels.CheckSGDAt(count, momentum, n, ctr, params, grads, vel); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	c, err := d.counter("SGDAt", ctr)
	if err != nil {
		return err
	}
	if err := d.SGD(count, lr, momentum, wd, params, grads, vel); err != nil {
		return err
	}
	advance(c, n)
	return nil
}

// AdamAt is Adam at step ctr[CtrStep] + 1, then the counter's advance.
func (d *Device) AdamAt(count int, lr, beta1, beta2, eps, wd float32, n int, ctr, params, grads, m, v kernels.Buffer) error {
	if err := kernels.CheckAdamAt(count, n, ctr, params, grads, m, v); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	c, err := d.counter("AdamAt", ctr)
	if err != nil {
		return err
	}
	if err := d.Adam(count, lr, beta1, beta2, eps, wd, int(c[kernels.CtrStep])+1, params, grads, m, v); err != nil {
		return err
	}
	advance(c, n)
	return nil
}

// advance moves the counter c to the next step after a batch of n.
func advance(c []int32, n int) {
	c[kernels.CtrOffset] += int32(n)
	c[kernels.CtrStep]++
}

// SetCounter writes offset and step into ctr.
func (d *Device) SetCounter(ctr kernels.Buffer, offset, step int) error {
	if err := kernels.CheckSetCounter(ctr, offset, step); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	c, err := d.counter("SetCounter", ctr)
	if err != nil {
		return err
	}
	c[kernels.CtrOffset], c[kernels.CtrStep], c[kernels.CtrDone] = int32(offset), int32(step), 0
	return nil
}

// DenseForward composes Gemm, AddBias, ActForward and DropoutForwardAt,
// which give the same bits as the separate layers.
func (d *Device) DenseForward(n, in, out int, act kernels.Activation, p float32, seed, sub uint64, ctr, x, w, b, a, mask, y kernels.Buffer) error {
	if err := kernels.CheckDenseForward(n, in, out, act, p, ctr, x, w, b, a, mask, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.Gemm(false, true, n, out, in, 1, x, w, 0, a); err != nil {
		return err
	}
	if err := d.AddBias(n, out, 1, a, b); err != nil {
		return err
	}
	if act != kernels.Identity {
		if err := d.ActForward(act, n*out, a, a); err != nil {
			return err
		}
	}
	if kernels.IsNil(mask) {
		return nil
	}
	return d.DropoutForwardAt(n*out, p, seed, sub, ctr, a, mask, y)
}

// DenseForwardGather composes GatherBatch and DenseForward.
func (d *Device) DenseForwardGather(n, in, out int, data, labels, perm, ctr kernels.Buffer, mean, std float32, x, batchLabels kernels.Buffer,
	act kernels.Activation, p float32, seed, sub uint64, w, b, a, mask, y kernels.Buffer) error {
	if err := kernels.CheckDenseForwardGather(n, in, out, data, labels, perm, ctr, std, x, batchLabels, act, p, w, b, a, mask, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.GatherBatch(n, in, data, labels, perm, ctr, x, batchLabels, mean, std); err != nil {
		return err
	}
	return d.DenseForward(n, in, out, act, p, seed, sub, ctr, x, w, b, a, mask, y)
}

// DenseBackward composes Gemm, BiasGrad, Mul and ActBackward.
func (d *Device) DenseBackward(n, in, out int, dy, x, w, dw, db kernels.Buffer, act kernels.Activation, a, mask, dx kernels.Buffer) error {
	if err := kernels.CheckDenseBackward(n, in, out, dy, x, w, dw, db, act, a, mask, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.Gemm(true, false, out, in, n, 1, dy, x, 0, dw); err != nil {
		return err
	}
	if err := d.BiasGrad(n, out, 1, dy, db); err != nil {
		return err
	}
	if kernels.IsNil(dx) {
		return nil
	}
	if err := d.Gemm(false, false, n, in, out, 1, dy, w, 0, dx); err != nil {
		return err
	}
	if !kernels.IsNil(mask) {
		if err := d.Mul(n*in, dx, mask, dx); err != nil {
			return err
		}
	}
	if kernels.IsNil(a) || act == kernels.Identity {
		return nil
	}
	return d.ActBackward(act, n*in, a, a, dx, dx)
}

// DenseLoss composes Gemm, AddBias, LossForward and DenseBackward.
func (d *Device) DenseLoss(loss kernels.Loss, n, in, out int, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db kernels.Buffer,
	act kernels.Activation, a, mask, dx kernels.Buffer) error {
	if err := kernels.CheckDenseLoss(loss, n, in, out, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db, act, a, mask, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.Gemm(false, true, n, out, in, 1, x, w, 0, logits); err != nil {
		return err
	}
	if err := d.AddBias(n, out, 1, logits, b); err != nil {
		return err
	}
	if err := d.LossForward(loss, n, out, logits, labels, dlogits, lossSum, correct); err != nil {
		return err
	}
	return d.DenseBackward(n, in, out, dlogits, x, w, dw, db, act, a, mask, dx)
}

// ActPoolForward is ActForward and pool.Forward, plane by plane
// (fused_planes.go): the same bits.
func (d *Device) ActPoolForward(act kernels.Activation, pool kernels.MaxPool, n int, x, y, pooled kernels.Buffer) error {
	p, pp, err := d.poolPlan("ActPoolForward", pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckActPoolForward(act, pp, n, x, y, pooled); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	return p.actPoolForward(act, n, x, y, pooled)
}

// BNActPoolForward is bn.ForwardTrain and ActPoolForward: with a batch norm
// and max-pool of this device over the same planes, the batch statistics
// first, then the batch norm's apply, the activation and the max-pool plane
// by plane (fused_planes.go): the same bits.
func (d *Device) BNActPoolForward(bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int, x, gamma, beta, runMean, runVar,
	saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	const op = "BNActPoolForward"
	_, bp, err := d.bnPlan(op, bn)
	if err != nil {
		return err
	}
	_, pp, err := d.poolPlan(op, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckBNActPoolForward(bp, act, pp, n, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if p, b, ok := d.fusedPool(pool, bn); ok && b != nil {
		return p.bnActPoolForward(b, act, n, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
	}
	if err := bn.ForwardTrain(n, x, gamma, beta, runMean, runVar, bnY, saveMean, saveInvStd); err != nil {
		return err
	}
	return d.ActPoolForward(act, pool, n, bnY, actY, pooled)
}

// PoolActBackward is pool.Backward and ActBackward (in place), plane by
// plane (fused_planes.go): the same bits.
func (d *Device) PoolActBackward(act kernels.Activation, pool kernels.MaxPool, n int, y, dpooled, dx kernels.Buffer) error {
	p, pp, err := d.poolPlan("PoolActBackward", pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBackward(act, pp, n, y, dpooled, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	return p.poolActBackward(act, n, y, dpooled, dx)
}

// ConvBiasForward is conv.Forward and AddBias: the convolution adds the
// bias to each output plane as it finishes it (the same bits as the two
// ops, one pass fewer over y).
func (d *Device) ConvBiasForward(s kernels.ConvShape, conv kernels.Conv2D, n int, x, w, b, y kernels.Buffer) error {
	c, cp, err := d.convPlan("ConvBiasForward", conv)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBiasForward(cp, s, n, x, w, b, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	return c.forwardBias(n, x, w, b, y)
}

// ConvBiasBackward is BiasGrad, conv.BackwardFilter and BackwardData: the
// bias gradient is summed in the filter gradient's pass over dy (the same
// bits as the separate ops).
func (d *Device) ConvBiasBackward(s kernels.ConvShape, conv kernels.Conv2D, n int, x, dy, w, dw, db, dx kernels.Buffer) error {
	c, cp, err := d.convPlan("ConvBiasBackward", conv)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBiasBackward(cp, s, n, x, dy, w, dw, db, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := c.backwardFilterBias(n, x, dy, dw, db); err != nil {
		return err
	}
	if kernels.IsNil(dx) {
		return nil
	}
	return c.BackwardData(n, dy, w, dx)
}

// ConvBNActPoolForward composes ConvBiasForward and BNActPoolForward.
func (d *Device) ConvBNActPoolForward(s kernels.ConvShape, conv kernels.Conv2D, bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool,
	n int, x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	cp, bp, pp, err := d.blockPlans("ConvBNActPoolForward", conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBNActPoolForward(cp, s, bp, act, pp, n, x, w, b, convY, gamma, beta, runMean, runVar,
		saveMean, saveInvStd, bnY, actY, pooled); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.ConvBiasForward(s, conv, n, x, w, b, convY); err != nil {
		return err
	}
	return d.BNActPoolForward(bn, act, pool, n, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// ConvBNActPoolForwardGather composes GatherBatch and ConvBNActPoolForward.
func (d *Device) ConvBNActPoolForwardGather(data, labels, perm, ctr kernels.Buffer, mean, std float32, batchLabels kernels.Buffer,
	s kernels.ConvShape, conv kernels.Conv2D, bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int,
	x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	cp, bp, pp, err := d.blockPlans("ConvBNActPoolForwardGather", conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBNActPoolForwardGather(data, labels, perm, ctr, std, batchLabels, cp, s, bp, act, pp, n, x, w, b, convY,
		gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.GatherBatch(n, s.C*s.H*s.W, data, labels, perm, ctr, x, batchLabels, mean, std); err != nil {
		return err
	}
	return d.ConvBNActPoolForward(s, conv, bn, act, pool, n, x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// PoolActBNBackward is PoolActBackward and bn.Backward: with a batch norm
// and max-pool of this device over the same planes, the pool's and the
// activation's backward and the batch norm's partial sums plane by plane,
// then the batch norm's dx plane by plane (fused_planes.go): the same bits.
func (d *Device) PoolActBNBackward(bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int, actY, dpooled, g, x, gamma,
	saveMean, saveInvStd, dx, dgamma, dbeta kernels.Buffer) error {
	const op = "PoolActBNBackward"
	_, bp, err := d.bnPlan(op, bn)
	if err != nil {
		return err
	}
	_, pp, err := d.poolPlan(op, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBNBackward(bp, act, pp, n, actY, dpooled, g, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if p, b, ok := d.fusedPool(pool, bn); ok && b != nil {
		return p.poolActBNBackward(b, act, n, actY, dpooled, g, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	}
	if err := d.PoolActBackward(act, pool, n, actY, dpooled, g); err != nil {
		return err
	}
	return bn.Backward(n, x, g, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
}

// PoolActBNConvBackward composes PoolActBNBackward and ConvBiasBackward.
func (d *Device) PoolActBNConvBackward(bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int, actY, dpooled, g, convY,
	gamma, saveMean, saveInvStd, dconv, dgamma, dbeta kernels.Buffer, s kernels.ConvShape, conv kernels.Conv2D, x, w, dw, db, dx kernels.Buffer) error {
	const op = "PoolActBNConvBackward"
	cp, bp, pp, err := d.blockPlans(op, conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBNConvBackward(bp, act, pp, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta,
		cp, s, x, w, dw, db, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if err := d.PoolActBNBackward(bn, act, pool, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta); err != nil {
		return err
	}
	return d.ConvBiasBackward(s, conv, n, x, dconv, w, dw, db, dx)
}

// poolPlan returns pool as a max-pool of this device, and its shape.
func (d *Device) poolPlan(op string, pool kernels.MaxPool) (*maxPool, kernels.PoolPlan, error) {
	p, ok := pool.(*maxPool)
	if !ok || p == nil || p.d != d {
		return nil, kernels.PoolPlan{}, fmt.Errorf("cpu: %s: pool is %T, not a max-pool of this device", op, pool)
	}
	return p, kernels.PoolPlan{Ch: p.ch, H: p.h, W: p.w, MaxN: p.maxN}, nil
}

// bnPlan returns bn as a batch norm of this device, and its shape.
func (d *Device) bnPlan(op string, bn kernels.BatchNorm) (*batchNorm, kernels.BNPlan, error) {
	b, ok := bn.(*batchNorm)
	if !ok || b == nil || b.d != d {
		return nil, kernels.BNPlan{}, fmt.Errorf("cpu: %s: bn is %T, not a batch norm of this device", op, bn)
	}
	return b, kernels.BNPlan{Ch: b.ch, Spatial: b.spatial, MaxN: b.maxN}, nil
}

// convPlan returns conv as a convolution of this device, and its shape.
func (d *Device) convPlan(op string, conv kernels.Conv2D) (*conv2D, kernels.ConvPlan, error) {
	c, ok := conv.(*conv2D)
	if !ok || c == nil || c.d != d {
		return nil, kernels.ConvPlan{}, fmt.Errorf("cpu: %s: conv is %T, not a convolution of this device", op, conv)
	}
	return c, kernels.ConvPlan{S: c.s, MaxN: c.maxN}, nil
}

// blockPlans returns the shapes of a conv block's plans, all of this device.
func (d *Device) blockPlans(op string, conv kernels.Conv2D, bn kernels.BatchNorm, pool kernels.MaxPool) (kernels.ConvPlan, kernels.BNPlan, kernels.PoolPlan, error) {
	_, cp, err := d.convPlan(op, conv)
	if err != nil {
		return cp, kernels.BNPlan{}, kernels.PoolPlan{}, err
	}
	_, bp, err := d.bnPlan(op, bn)
	if err != nil {
		return cp, bp, kernels.PoolPlan{}, err
	}
	_, pp, err := d.poolPlan(op, pool)
	return cp, bp, pp, err
}
