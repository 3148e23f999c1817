package cuda

import (
	"fmt"

	"mnistgpu/kernels"
)

// The step ops (kernels.StepOps), launches of step.cu's kernels: what
// changes between training steps is read from the step counter on the
// device, so a captured step replays unchanged.

// counter checks a step counter buffer.
func (d *Device) counter(op string, ctr kernels.Buffer) (*buffer, error) {
	return d.buf(op, "ctr", ctr, kernels.I32, kernels.CtrLen)
}

// GatherBatch gathers the n samples perm lists from ctr[CtrOffset] on
// into images and batchLabels, in one kernel. The offset and perm's
// entries are on the device: a batch past the end of perm, or an entry
// outside the data set, is not read (its row keeps what it held) but
// flagged, and the next Sync or Download returns an error wrapping
// kernels.ErrRange (rangecheck.go).
func (d *Device) GatherBatch(n, dim int, data, labels, perm, ctr, images, batchLabels kernels.Buffer, mean, std float32) error {
	const op = "GatherBatch"
	if err := kernels.CheckGatherBatch(n, dim, data, labels, perm, ctr, images, batchLabels, std); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	ga, err := d.gatherArgs(op, n, data, labels, perm, ctr, batchLabels, mean, std)
	if err != nil {
		return err
	}
	ob, err := d.f32(op, "images", images, n*dim)
	if err != nil {
		return err
	}
	if n*dim == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kGatherBatch, d.grid(n*dim), argPtr(ga.data), argPtr(ga.labels), argPtr(ga.perm), argPtr(ga.ctr), argPtr(ob), argPtr(ga.batchLabels),
		argInt(n), argInt(dim), argInt(ga.perm.n), argF32(mean), argF32(std), argInt(batchRows(ga.data, ga.labels, dim)), argPtr(d.rng.buf))
}

// DropoutForwardAt is DropoutForward with the generator's step
// ctr[CtrStep]<<8 | sub, the key computed on the device.
func (d *Device) DropoutForwardAt(count int, p float32, seed, sub uint64, ctr, x, mask, y kernels.Buffer) error {
	const op = "DropoutForwardAt"
	if err := kernels.CheckDropoutAt(count, p, ctr, x, mask, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	cb, err := d.counter(op, ctr)
	if err != nil {
		return err
	}
	xb, err := d.f32(op, "x", x, count)
	if err != nil {
		return err
	}
	mb, err := d.f32(op, "mask", mask, count)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	if count <= 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var scale float32
	if p < 1 {
		scale = 1 / (1 - p)
	}
	return d.launch(kDropoutForwardAt, d.grid(count), argPtr(xb), argPtr(mb), argPtr(yb), argPtr(cb), argInt(count),
		argF32(p), argF32(scale), seed, sub)
}

// SGDAt is SGD, then the counter's advance by a batch of n, in one
// launch (the last block to finish advances it).
func (d *Device) SGDAt(count int, lr, momentum, wd float32, n int, ctr, params, grads, vel kernels.Buffer) error {
	const op = "SGDAt"
	if err := kernels.CheckSGDAt(count, momentum, n, ctr, params, grads, vel); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	cb, err := d.counter(op, ctr)
	if err != nil {
		return err
	}
	pb, err := d.f32(op, "params", params, count)
	if err != nil {
		return err
	}
	gb, err := d.f32(op, "grads", grads, count)
	if err != nil {
		return err
	}
	var vb *buffer
	if momentum != 0 {
		if vb, err = d.f32(op, "vel", vel, count); err != nil {
			return err
		}
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kSGDAt, max(1, d.grid(count)), argPtr(pb), argPtr(gb), argPtr(vb), argPtr(cb), argInt(max(count, 0)),
		argInt(n), argF32(lr), argF32(momentum), argF32(wd))
}

// AdamAt is Adam at step ctr[CtrStep] + 1, the bias corrections computed
// in double on the device, then the counter's advance, in one launch.
func (d *Device) AdamAt(count int, lr, beta1, beta2, eps, wd float32, n int, ctr, params, grads, m, v kernels.Buffer) error {
	const op = "AdamAt"
	if err := kernels.CheckAdamAt(count, n, ctr, params, grads, m, v); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	cb, err := d.counter(op, ctr)
	if err != nil {
		return err
	}
	pb, err := d.f32(op, "params", params, count)
	if err != nil {
		return err
	}
	gb, err := d.f32(op, "grads", grads, count)
	if err != nil {
		return err
	}
	mb, err := d.f32(op, "m", m, count)
	if err != nil {
		return err
	}
	vb, err := d.f32(op, "v", v, count)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kAdamAt, max(1, d.grid(count)), argPtr(pb), argPtr(gb), argPtr(mb), argPtr(vb), argPtr(cb), argInt(max(count, 0)),
		argInt(n), argF32(lr), argF32(beta1), argF32(beta2), argF32(eps), argF32(wd))
}

// SetCounter writes offset and step into ctr (and clears CtrDone) with a
// one-thread kernel
// (queued like any op: no host copy, no wait).
func (d *Device) SetCounter(ctr kernels.Buffer, offset, step int) error {
	if err := kernels.CheckSetCounter(ctr, offset, step); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	cb, err := d.counter("SetCounter", ctr)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kSetCounter, 1, argPtr(cb), argInt(offset), argInt(step))
}

// DenseForward is the dense layer, its activation and its dropout in one
// launch of dense_forward (tiled fp32 GEMM, TF32 never used).
func (d *Device) DenseForward(n, in, out int, act kernels.Activation, p float32, seed, sub uint64, ctr, x, w, b, a, mask, y kernels.Buffer) error {
	const op = "DenseForward"
	if err := kernels.CheckDenseForward(n, in, out, act, p, ctr, x, w, b, a, mask, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, out*in)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "b", b, out)
	if err != nil {
		return err
	}
	ab, err := d.f32(op, "a", a, n*out)
	if err != nil {
		return err
	}
	var mb, yb, cb *buffer
	var scale float32
	if !isNil(mask) {
		if mb, err = d.f32(op, "mask", mask, n*out); err != nil {
			return err
		}
		if yb, err = d.f32(op, "y", y, n*out); err != nil {
			return err
		}
		if cb, err = d.counter(op, ctr); err != nil {
			return err
		}
		if p < 1 {
			scale = 1 / (1 - p)
		}
	}
	if n*out == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	tiles := ceilDiv(n, denseTile) * ceilDiv(out, denseTile)
	return d.launch(kDenseForward, min(tiles, d.maxBlocks), argPtr(xb), argPtr(wb), argPtr(bb), argPtr(ab), argPtr(mb), argPtr(yb),
		argPtr(cb), argInt(n), argInt(in), argInt(out), argInt(int(act)), argF32(p), argF32(scale), seed, sub)
}

// denseTile is TILE in step_dense.cu.
const denseTile = 16

// DenseBackward is the dense layer's backward (weight, bias and input
// gradients, the input gradient through the previous dropout and
// activation) in one launch of dense_backward.
func (d *Device) DenseBackward(n, in, out int, dy, x, w, dw, db kernels.Buffer, act kernels.Activation, a, mask, dx kernels.Buffer) error {
	const op = "DenseBackward"
	if err := kernels.CheckDenseBackward(n, in, out, dy, x, w, dw, db, act, a, mask, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	dyb, err := d.f32(op, "dy", dy, n*out)
	if err != nil {
		return err
	}
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, out*in)
	if err != nil {
		return err
	}
	dwb, err := d.f32(op, "dw", dw, out*in)
	if err != nil {
		return err
	}
	dbb, err := d.f32(op, "db", db, out)
	if err != nil {
		return err
	}
	var dxb, ab, mb *buffer
	if !isNil(dx) {
		if dxb, err = d.f32(op, "dx", dx, n*in); err != nil {
			return err
		}
		if !isNil(a) && act != kernels.Identity {
			if ab, err = d.f32(op, "a", a, n*in); err != nil {
				return err
			}
		}
		if !isNil(mask) {
			if mb, err = d.f32(op, "mask", mask, n*in); err != nil {
				return err
			}
		}
	}
	if out*in == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	items := ceilDiv(out, denseTile)*ceilDiv(in, denseTile) + ceilDiv(out, blockSize)
	if dxb != nil {
		items += ceilDiv(n, denseTile) * ceilDiv(in, denseTile)
	}
	return d.launch(kDenseBackward, min(items, d.maxBlocks), argPtr(dyb), argPtr(xb), argPtr(wb), argPtr(dwb), argPtr(dbb), argPtr(dxb),
		argPtr(ab), argPtr(mb), argInt(n), argInt(in), argInt(out), argInt(int(act)))
}

// denseLossWork is the most multiply-adds (n·in·out) DenseLoss runs in
// its one block; a larger layer takes the separate kernels.
const denseLossWork = 1 << 20

// DenseLoss is the last dense layer, the loss and the layer's backward in
// one launch of dense_loss (a single block: the layer is small, and the
// block's barriers stand in for the two kernel boundaries), or, for a layer
// of more than denseLossWork multiply-adds, DenseForward, LossForward and
// DenseBackward.
func (d *Device) DenseLoss(loss kernels.Loss, n, in, out int, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db kernels.Buffer,
	act kernels.Activation, a, mask, dx kernels.Buffer) error {
	const op = "DenseLoss"
	if err := kernels.CheckDenseLoss(loss, n, in, out, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db, act, a, mask, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if n == 0 || n*in*out > denseLossWork {
		if err := d.DenseForward(n, in, out, kernels.Identity, 0, 0, 0, nil, x, w, b, logits, nil, nil); err != nil {
			return err
		}
		if err := d.LossForward(loss, n, out, logits, labels, dlogits, lossSum, correct); err != nil {
			return err
		}
		return d.DenseBackward(n, in, out, dlogits, x, w, dw, db, act, a, mask, dx)
	}
	var bufs [9]*buffer
	var err error
	for i, q := range []struct {
		name string
		b    kernels.Buffer
		n    int
	}{{"x", x, n * in}, {"w", w, out * in}, {"b", b, out}, {"logits", logits, n * out}, {"dlogits", dlogits, n * out},
		{"lossSum", lossSum, 1}, {"correct", correct, 1}, {"dw", dw, out * in}, {"db", db, out}} {
		if bufs[i], err = d.f32(op, q.name, q.b, q.n); err != nil {
			return err
		}
	}
	lb, err := d.buf(op, "labels", labels, kernels.I32, n)
	if err != nil {
		return err
	}
	var dxb, ab, mb *buffer
	if !isNil(dx) {
		if dxb, err = d.f32(op, "dx", dx, n*in); err != nil {
			return err
		}
		if !isNil(a) && act != kernels.Identity {
			if ab, err = d.f32(op, "a", a, n*in); err != nil {
				return err
			}
		}
		if !isNil(mask) {
			if mb, err = d.f32(op, "mask", mask, n*in); err != nil {
				return err
			}
		}
	}
	xb, wb, bb, zb, gb, sb, cb, dwb, dbb := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6], bufs[7], bufs[8]
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kDenseLoss, 1, argInt(int(loss)), argPtr(xb), argPtr(wb), argPtr(bb), argPtr(zb), argPtr(lb), argPtr(gb),
		argPtr(sb), argPtr(cb), argPtr(dwb), argPtr(dbb), argPtr(dxb), argPtr(ab), argPtr(mb), argInt(n), argInt(in), argInt(out),
		argInt(int(act)), argPtr(d.rng.buf))
}

// DenseForwardGather is GatherBatch and DenseForward in one launch of
// dense_forward_gather.
func (d *Device) DenseForwardGather(n, in, out int, data, labels, perm, ctr kernels.Buffer, mean, std float32, x, batchLabels kernels.Buffer,
	act kernels.Activation, p float32, seed, sub uint64, w, b, a, mask, y kernels.Buffer) error {
	const op = "DenseForwardGather"
	if err := kernels.CheckDenseForwardGather(n, in, out, data, labels, perm, ctr, std, x, batchLabels, act, p, w, b, a, mask, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	ga, err := d.gatherArgs(op, n, data, labels, perm, ctr, batchLabels, mean, std)
	if err != nil {
		return err
	}
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, out*in)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "b", b, out)
	if err != nil {
		return err
	}
	ab, err := d.f32(op, "a", a, n*out)
	if err != nil {
		return err
	}
	var mb, yb *buffer
	var scale float32
	if !isNil(mask) {
		if mb, err = d.f32(op, "mask", mask, n*out); err != nil {
			return err
		}
		if yb, err = d.f32(op, "y", y, n*out); err != nil {
			return err
		}
		if p < 1 {
			scale = 1 / (1 - p)
		}
	}
	if n*out == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	tiles := ceilDiv(n, denseTile) * ceilDiv(out, denseTile)
	return d.launch(kDenseForwardGather, min(tiles, d.maxBlocks), argPtr(ga.data), argPtr(ga.labels), argPtr(ga.perm), argPtr(ga.ctr), argPtr(xb), argPtr(ga.batchLabels),
		argPtr(wb), argPtr(bb), argPtr(ab), argPtr(mb), argPtr(yb), argInt(n), argInt(in), argInt(out), argInt(int(act)), argInt(ga.perm.n),
		argF32(mean), argF32(std), argF32(p), argF32(scale), seed, sub, argInt(batchRows(ga.data, ga.labels, in)), argPtr(d.rng.buf))
}

// ActPoolForward is ActForward and pool's Forward in one launch of
// act_maxpool_forward.
func (d *Device) ActPoolForward(act kernels.Activation, pool kernels.MaxPool, n int, x, y, pooled kernels.Buffer) error {
	const op = "ActPoolForward"
	p, pp, err := d.poolPlan(op, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckActPoolForward(act, pp, n, x, y, pooled); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	planes := n * p.ch
	in := planes * p.h * p.w
	xb, err := d.f32(op, "x", x, in)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, in)
	if err != nil {
		return err
	}
	pb, err := d.f32(op, "pooled", pooled, planes*(p.h/2)*(p.w/2))
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kActMaxPoolForward, d.grid(in), argInt(int(act)), argPtr(xb), argPtr(yb), argPtr(pb), argInt(planes), argInt(p.h), argInt(p.w))
}

// PoolActBackward is pool's Backward and ActBackward in one launch of
// maxpool_act_backward.
func (d *Device) PoolActBackward(act kernels.Activation, pool kernels.MaxPool, n int, y, dpooled, dx kernels.Buffer) error {
	const op = "PoolActBackward"
	p, pp, err := d.poolPlan(op, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBackward(act, pp, n, y, dpooled, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	planes := n * p.ch
	in := planes * p.h * p.w
	yb, err := d.f32(op, "y", y, in)
	if err != nil {
		return err
	}
	db, err := d.f32(op, "dpooled", dpooled, planes*(p.h/2)*(p.w/2))
	if err != nil {
		return err
	}
	dxb, err := d.f32(op, "dx", dx, in)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kMaxPoolActBackward, d.grid(in), argInt(int(act)), argPtr(yb), argPtr(db), argPtr(dxb), argInt(planes), argInt(p.h), argInt(p.w))
}

// BNActPoolForward is the batch norm's partial sums (bn_partial_stats) and
// then bn_stats_act_maxpool_forward: two launches where the separate ops
// take five (three with more than 256 channels). The batch norm's output bnY is not
// written. A batch norm run by cuDNN (Options.CuDNNBatchNorm) takes the
// separate ops.
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
		return fmt.Errorf("cuda: %w", err)
	}
	return d.bnActPool(op, nil, nil, nil, nil, nil, bn, act, pool, n, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// ConvBNActPoolForward is a conv block's forward in two launches:
// conv_bias_stats_forward (the convolution, its bias and the batch norm's
// partial sums) and bn_stats_act_maxpool_forward. With a batch norm run by
// cuDNN it takes ConvBiasForward and the separate ops.
func (d *Device) ConvBNActPoolForward(s kernels.ConvShape, conv kernels.Conv2D, bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool,
	n int, x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	const op = "ConvBNActPoolForward"
	c, cp, bp, pp, err := d.blockPlans(op, conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBNActPoolForward(cp, s, bp, act, pp, n, x, w, b, convY, gamma, beta, runMean, runVar,
		saveMean, saveInvStd, bnY, actY, pooled); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if bp, ok := bn.(*batchNorm); !ok || bp.cudnn || bp.ch != s.OutC || bp.spatial != s.H*s.W {
		if err := d.ConvBiasForward(s, conv, n, x, w, b, convY); err != nil {
			return err
		}
		return d.BNActPoolForward(bn, act, pool, n, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
	}
	in, _, wn := c.sizes()
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, wn)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "b", b, s.OutC)
	if err != nil {
		return err
	}
	return d.bnActPool(op, c, xb, wb, bb, nil, bn, act, pool, n, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// batchRows is the number of samples a batch gather may read: the fewer of
// data's images of dim values and labels' labels.
func batchRows(data, labels *buffer, dim int) int {
	if dim <= 0 {
		return 0
	}
	return min(data.n/dim, labels.n)
}

// gatherArgs are the data set, permutation and counter a first layer
// reads its batch from, and where it leaves the labels.
type gatherArgs struct {
	data, labels, perm, ctr, batchLabels *buffer
	mean, std                            float32
}

// gatherArgs resolves the buffers of a gathering op (GatherBatch and the
// ops that gather in their first launch): the resident data set and its
// labels, n permutation entries, the step counter and the n batch labels.
func (d *Device) gatherArgs(op string, n int, data, labels, perm, ctr, batchLabels kernels.Buffer, mean, std float32) (ga gatherArgs, err error) {
	ga.mean, ga.std = mean, std
	if ga.ctr, err = d.counter(op, ctr); err != nil {
		return ga, err
	}
	if ga.data, err = d.buf(op, "data", data, kernels.U8, 0); err != nil {
		return ga, err
	}
	if ga.labels, err = d.buf(op, "labels", labels, kernels.U8, 0); err != nil {
		return ga, err
	}
	if ga.perm, err = d.buf(op, "perm", perm, kernels.I32, n); err != nil {
		return ga, err
	}
	ga.batchLabels, err = d.buf(op, "batchLabels", batchLabels, kernels.I32, n)
	return ga, err
}

// ConvBNActPoolForwardGather is ConvBNActPoolForward with the batch
// gathered in the convolution's launch (conv_gather_stats_forward): two
// launches for the first conv block and the gather. Where
// ConvBNActPoolForward would take the separate ops, so does this.
func (d *Device) ConvBNActPoolForwardGather(data, labels, perm, ctr kernels.Buffer, mean, std float32, batchLabels kernels.Buffer,
	s kernels.ConvShape, conv kernels.Conv2D, bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int,
	x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	const op = "ConvBNActPoolForwardGather"
	c, cp, bp, pp, err := d.blockPlans(op, conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBNActPoolForwardGather(data, labels, perm, ctr, std, batchLabels, cp, s, bp, act, pp, n, x, w, b, convY,
		gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if bp, ok := bn.(*batchNorm); !ok || bp.cudnn || bp.ch != s.OutC || bp.spatial != s.H*s.W {
		if err := d.GatherBatch(n, s.C*s.H*s.W, data, labels, perm, ctr, x, batchLabels, mean, std); err != nil {
			return err
		}
		return d.ConvBNActPoolForward(s, conv, bn, act, pool, n, x, w, b, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
	}
	ga, err := d.gatherArgs(op, n, data, labels, perm, ctr, batchLabels, mean, std)
	if err != nil {
		return err
	}
	in, _, wn := c.sizes()
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, wn)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "b", b, s.OutC)
	if err != nil {
		return err
	}
	return d.bnActPool(op, c, xb, wb, bb, &ga, bn, act, pool, n, convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// bnActPool is BNActPoolForward, its input x computed by the convolution
// conv of (cx, cw, cbias) in the launch of the partial sums when conv is
// not nil, with cx gathered there too when ga is not nil.
func (d *Device) bnActPool(op string, conv *conv, cx, cw, cbias *buffer, ga *gatherArgs, bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool,
	n int, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled kernels.Buffer) error {
	b, ok := bn.(*batchNorm)
	if !ok || b.d != d {
		return fmt.Errorf("cuda: %s: bn is %T, not a batch norm of this device", op, bn)
	}
	p, ok := pool.(*maxPool)
	if !ok || p.d != d {
		return fmt.Errorf("cuda: %s: pool is %T, not a max-pool of this device", op, pool)
	}
	if b.cudnn {
		if conv != nil {
			return fmt.Errorf("cuda: %s: a cuDNN batch norm cannot take the convolution's partial sums", op)
		}
		if err := b.ForwardTrain(n, x, gamma, beta, runMean, runVar, bnY, saveMean, saveInvStd); err != nil {
			return err
		}
		return d.ActPoolForward(act, pool, n, bnY, actY, pooled)
	}
	count := n * b.ch * b.spatial
	xb, err := d.f32(op, "x", x, count)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "actY", actY, count)
	if err != nil {
		return err
	}
	pb, err := d.f32(op, "pooled", pooled, n*p.ch*(p.h/2)*(p.w/2))
	if err != nil {
		return err
	}
	var ch [6]*buffer
	for i, q := range []struct {
		name string
		b    kernels.Buffer
	}{{"gamma", gamma}, {"beta", beta}, {"runMean", runMean}, {"runVar", runVar}, {"saveMean", saveMean}, {"saveInvStd", saveInvStd}} {
		if ch[i], err = d.f32(op, q.name, q.b, b.ch); err != nil {
			return err
		}
	}
	g, be, rm, rv, sm, si := ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	P := b.partials(n)
	if conv != nil && ga != nil {
		// The gather, the convolution's output and the partial sums in one launch.
		s := conv.s
		if err := d.launch(kConvGatherStatsForward, b.ch*P, argPtr(ga.data), argPtr(ga.labels), argPtr(ga.perm), argPtr(ga.ctr), argPtr(cx),
			argPtr(ga.batchLabels), argPtr(cw), argPtr(cbias), argPtr(xb), b.part, argInt(n), argInt(s.C), argInt(s.H), argInt(s.W),
			argInt(s.K), argInt(s.OutC), argInt(P), argInt(ga.perm.n), argF32(ga.mean), argF32(ga.std),
			argInt(batchRows(ga.data, ga.labels, s.C*s.H*s.W)), argPtr(d.rng.buf)); err != nil {
			return err
		}
	} else if conv != nil {
		// The convolution's output and the partial sums in one launch.
		s := conv.s
		if err := d.launch(kConvBiasStatsForward, b.ch*P, argPtr(cx), argPtr(cw), argPtr(cbias), argPtr(xb), b.part,
			argInt(n), argInt(s.C), argInt(s.H), argInt(s.W), argInt(s.K), argInt(s.OutC), argInt(P)); err != nil {
			return err
		}
	} else if err := d.launch(kBNPartialStats, b.ch*P, argPtr(xb), b.part, argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P)); err != nil {
		return err
	}
	if b.ch <= blockSize {
		return d.launch(kBNStatsActMaxPoolForward, d.grid(count), argPtr(xb), argPtr(yb), argPtr(pb), b.part, argPtr(sm), argPtr(si),
			argPtr(rm), argPtr(rv), argPtr(g), argPtr(be), argInt(int(act)), argInt(n), argInt(b.ch), argInt(p.h), argInt(p.w),
			argInt(P), argF32(b.eps), argF32(b.momentum))
	}
	if err := d.launch(kBNFinalizeStats, ceilDiv(b.ch, blockSize), b.part, argPtr(sm), argPtr(si), argPtr(rm), argPtr(rv),
		argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P), argF32(b.eps), argF32(b.momentum)); err != nil {
		return err
	}
	return d.launch(kBNActMaxPoolForward, d.grid(count), argPtr(xb), argPtr(yb), argPtr(pb), argPtr(sm), argPtr(si), argPtr(g), argPtr(be),
		argInt(int(act)), argInt(n), argInt(b.ch), argInt(p.h), argInt(p.w))
}

// convPlan returns plan as a convolution of this device, and its shape.
func (d *Device) convPlan(op string, plan kernels.Conv2D) (*conv, kernels.ConvPlan, error) {
	c, ok := plan.(*conv)
	if !ok || c == nil || c.d != d {
		return nil, kernels.ConvPlan{}, fmt.Errorf("cuda: %s: conv is %T, not a convolution of this device", op, plan)
	}
	return c, kernels.ConvPlan{S: c.s, MaxN: c.maxN}, nil
}

// poolPlan returns pool as a max-pool of this device, and its shape.
func (d *Device) poolPlan(op string, pool kernels.MaxPool) (*maxPool, kernels.PoolPlan, error) {
	p, ok := pool.(*maxPool)
	if !ok || p == nil || p.d != d {
		return nil, kernels.PoolPlan{}, fmt.Errorf("cuda: %s: pool is %T, not a max-pool of this device", op, pool)
	}
	return p, kernels.PoolPlan{Ch: p.ch, H: p.h, W: p.w, MaxN: p.maxN}, nil
}

// bnPlan returns bn as a batch norm of this device, and its shape.
func (d *Device) bnPlan(op string, bn kernels.BatchNorm) (*batchNorm, kernels.BNPlan, error) {
	b, ok := bn.(*batchNorm)
	if !ok || b == nil || b.d != d {
		return nil, kernels.BNPlan{}, fmt.Errorf("cuda: %s: bn is %T, not a batch norm of this device", op, bn)
	}
	return b, kernels.BNPlan{Ch: b.ch, Spatial: b.spatial, MaxN: b.maxN}, nil
}

// blockPlans returns a conv block's plans, all of this device, and their
// shapes.
func (d *Device) blockPlans(op string, plan kernels.Conv2D, bn kernels.BatchNorm, pool kernels.MaxPool) (*conv, kernels.ConvPlan,
	kernels.BNPlan, kernels.PoolPlan, error) {
	c, cp, err := d.convPlan(op, plan)
	if err != nil {
		return nil, cp, kernels.BNPlan{}, kernels.PoolPlan{}, err
	}
	_, bp, err := d.bnPlan(op, bn)
	if err != nil {
		return nil, cp, bp, kernels.PoolPlan{}, err
	}
	_, pp, err := d.poolPlan(op, pool)
	return c, cp, bp, pp, err
}

// ConvBiasForward is the convolution and its bias in one launch of
// conv_bias_forward (direct loops in fp32; cuDNN is not called).
func (d *Device) ConvBiasForward(s kernels.ConvShape, conv kernels.Conv2D, n int, x, w, b, y kernels.Buffer) error {
	const op = "ConvBiasForward"
	c, cp, err := d.convPlan(op, conv)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBiasForward(cp, s, n, x, w, b, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	in, out, wn := c.sizes()
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, wn)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "b", b, s.OutC)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, n*out)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kConvBiasForward, d.grid(n*out), argPtr(xb), argPtr(wb), argPtr(bb), argPtr(yb),
		argInt(n), argInt(s.C), argInt(s.H), argInt(s.W), argInt(s.K), argInt(s.OutC))
}

// ConvBiasBackward is the bias gradient, the filter gradient and the input
// gradient (when dx is not nil) in one launch of conv_bias_backward.
func (d *Device) ConvBiasBackward(s kernels.ConvShape, conv kernels.Conv2D, n int, x, dy, w, dw, db, dx kernels.Buffer) error {
	const op = "ConvBiasBackward"
	c, cp, err := d.convPlan(op, conv)
	if err != nil {
		return err
	}
	if err := kernels.CheckConvBiasBackward(cp, s, n, x, dy, w, dw, db, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	in, out, wn := c.sizes()
	xb, err := d.f32(op, "x", x, n*in)
	if err != nil {
		return err
	}
	dyb, err := d.f32(op, "dy", dy, n*out)
	if err != nil {
		return err
	}
	wb, err := d.f32(op, "w", w, wn)
	if err != nil {
		return err
	}
	dwb, err := d.f32(op, "dw", dw, wn)
	if err != nil {
		return err
	}
	dbb, err := d.f32(op, "db", db, s.OutC)
	if err != nil {
		return err
	}
	var dxb *buffer
	items := wn + s.OutC
	if !isNil(dx) {
		if dxb, err = d.f32(op, "dx", dx, n*in); err != nil {
			return err
		}
		items += ceilDiv(n*in, blockSize)
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kConvBiasBackward, min(items, d.maxBlocks), argPtr(xb), argPtr(dyb), argPtr(wb), argPtr(dwb), argPtr(dbb), argPtr(dxb),
		argInt(n), argInt(s.C), argInt(s.H), argInt(s.W), argInt(s.K), argInt(s.OutC))
}

// PoolActBNBackward is pool_act_bn_partial_grad (the pooled gradient
// through the pool and the activation, and the batch norm's partial sums)
// and bn_grad_dx: two launches where the separate ops take four. A batch
// norm run by cuDNN, or one of more than 256 channels, takes the separate ops.
func (d *Device) PoolActBNBackward(bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int, actY, dpooled, g, x, gamma,
	saveMean, saveInvStd, dx, dgamma, dbeta kernels.Buffer) error {
	const op = "PoolActBNBackward"
	b, bp, err := d.bnPlan(op, bn)
	if err != nil {
		return err
	}
	p, pp, err := d.poolPlan(op, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBNBackward(bp, act, pp, n, actY, dpooled, g, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if b.cudnn || b.ch > blockSize {
		if err := d.PoolActBackward(act, pool, n, actY, dpooled, g); err != nil {
			return err
		}
		return b.Backward(n, x, g, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	}
	return d.poolActBN(op, b, p, act, n, actY, dpooled, g, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta, nil)
}

// convBackward is the convolution whose backward bn_conv_backward runs
// with the batch norm's: its plan and its buffers.
type convBackward struct {
	c                *conv
	x, w, dw, db, dx *buffer
}

// poolActBN is PoolActBNBackward's two launches after its checks, or, when
// cv is not nil, PoolActBNConvBackward's: pool_act_bn_partial_grad and then
// bn_grad_dx, or bn_conv_backward (dx then not written).
func (d *Device) poolActBN(op string, b *batchNorm, p *maxPool, act kernels.Activation, n int, actY, dpooled, g, x, gamma, saveMean,
	saveInvStd, dx, dgamma, dbeta kernels.Buffer, cv *convBackward) error {
	var err error
	count := n * b.ch * b.spatial
	var big [4]*buffer
	for i, q := range []struct {
		name string
		b    kernels.Buffer
	}{{"actY", actY}, {"g", g}, {"x", x}, {"dx", dx}} {
		if cv != nil && q.name == "dx" {
			break // not written
		}
		if big[i], err = d.f32(op, q.name, q.b, count); err != nil {
			return err
		}
	}
	dpb, err := d.f32(op, "dpooled", dpooled, n*p.ch*(p.h/2)*(p.w/2))
	if err != nil {
		return err
	}
	var ch [5]*buffer
	for i, q := range []struct {
		name string
		b    kernels.Buffer
	}{{"gamma", gamma}, {"saveMean", saveMean}, {"saveInvStd", saveInvStd}, {"dgamma", dgamma}, {"dbeta", dbeta}} {
		if ch[i], err = d.f32(op, q.name, q.b, b.ch); err != nil {
			return err
		}
	}
	yb, gb, xb, dxb := big[0], big[1], big[2], big[3]
	gm, sm, si, dg, db := ch[0], ch[1], ch[2], ch[3], ch[4]
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	P := b.partials(n)
	if err := d.launch(kPoolActBNPartialGrad, b.ch*P, argInt(int(act)), argPtr(yb), argPtr(dpb), argPtr(gb), argPtr(xb), argPtr(sm), b.part,
		argInt(n), argInt(b.ch), argInt(p.h), argInt(p.w), argInt(P)); err != nil {
		return err
	}
	if cv != nil {
		cs := cv.c.s
		items := cs.OutC*cs.C*cs.K*cs.K + cs.OutC
		if cv.dx != nil {
			items += ceilDiv(n*cs.C*cs.H*cs.W, blockSize)
		}
		return d.launch(kBNConvBackward, min(items, d.maxBlocks), b.part, argPtr(xb), argPtr(gb), argPtr(sm), argPtr(si), argPtr(gm),
			argPtr(dg), argPtr(db), argPtr(cv.x), argPtr(cv.w), argPtr(cv.dw), argPtr(cv.db), argPtr(cv.dx),
			argInt(n), argInt(cs.C), argInt(cs.H), argInt(cs.W), argInt(cs.K), argInt(cs.OutC), argInt(P))
	}
	return d.launch(kBNGradDx, d.grid(count), b.part, argPtr(xb), argPtr(gb), argPtr(dxb), argPtr(sm), argPtr(si), argPtr(gm), argPtr(dg), argPtr(db),
		argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P))
}

// PoolActBNConvBackward is a conv block's backward in two launches where
// PoolActBNBackward and ConvBiasBackward take three:
// pool_act_bn_partial_grad and bn_conv_backward, which computes the
// convolution's output gradient where it reads it (dconv is not written).
// A batch norm run by cuDNN, or one of more than 256 channels, takes the
// separate ops.
func (d *Device) PoolActBNConvBackward(bn kernels.BatchNorm, act kernels.Activation, pool kernels.MaxPool, n int, actY, dpooled, g, convY,
	gamma, saveMean, saveInvStd, dconv, dgamma, dbeta kernels.Buffer, s kernels.ConvShape, conv kernels.Conv2D, x, w, dw, db, dx kernels.Buffer) error {
	const op = "PoolActBNConvBackward"
	c, cp, bp, pp, err := d.blockPlans(op, conv, bn, pool)
	if err != nil {
		return err
	}
	if err := kernels.CheckPoolActBNConvBackward(bp, act, pp, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta,
		cp, s, x, w, dw, db, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	b := bn.(*batchNorm)
	if b.cudnn || b.ch > blockSize {
		if err := d.PoolActBNBackward(bn, act, pool, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta); err != nil {
			return err
		}
		return d.ConvBiasBackward(s, conv, n, x, dconv, w, dw, db, dx)
	}
	in, _, wn := c.sizes()
	cv := &convBackward{c: c}
	if cv.x, err = d.f32(op, "x", x, n*in); err != nil {
		return err
	}
	if cv.w, err = d.f32(op, "w", w, wn); err != nil {
		return err
	}
	if cv.dw, err = d.f32(op, "dw", dw, wn); err != nil {
		return err
	}
	if cv.db, err = d.f32(op, "db", db, s.OutC); err != nil {
		return err
	}
	if !isNil(dx) {
		if cv.dx, err = d.f32(op, "dx", dx, n*in); err != nil {
			return err
		}
	}
	return d.poolActBN(op, b, pool.(*maxPool), act, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta, cv)
}
