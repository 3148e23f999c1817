package kernels

import (
	"fmt"
	"math"
)

// The contract of the step ops (StepOps): the shapes, buffers and plans of
// each call, checked once here for every device. A device passes the shape
// of its plans (PoolPlan, BNPlan, ConvPlan) after checking that the plans
// are its own. What only the device memory holds (the counter's offset, the
// permutation's entries) is checked where the values are, as for the
// gathers (see check.go).

// PoolPlan is the shape of a MaxPool plan: [Ch, H, W] images in batches of
// up to MaxN.
type PoolPlan struct{ Ch, H, W, MaxN int }

// BNPlan is the shape of a BatchNorm plan: Ch channels of Spatial values
// in batches of up to MaxN.
type BNPlan struct{ Ch, Spatial, MaxN int }

// ConvPlan is the shape of a Conv2D plan for batches of up to MaxN.
type ConvPlan struct {
	S    ConvShape
	MaxN int
}

// CheckCounter checks a step counter: an I32 buffer of CtrLen elements.
func CheckCounter(op string, ctr Buffer) error { return CheckBuf(op, "ctr", ctr, I32, CtrLen) }

// checkStd checks a gather's std: finite and not 0.
func checkStd(op string, std float32) error {
	if std == 0 || !(math.Abs(float64(std)) <= math.MaxFloat32) {
		return fmt.Errorf("%s: std is %v", op, std)
	}
	return nil
}

// checkP checks a dropout probability: p in [0, 1].
func checkP(op string, p float32) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%s: p = %v outside [0, 1]", op, p)
	}
	return nil
}

// checkGatherBatch checks a batch gather of n samples of d values into
// images (named imgName) and batchLabels.
func checkGatherBatch(op string, n, d int, data, labels, perm, ctr Buffer, imgName string, images, batchLabels Buffer, std float32) error {
	if n < 0 || d < 0 {
		return fmt.Errorf("%s: negative size n=%d d=%d", op, n, d)
	}
	if err := checkStd(op, std); err != nil {
		return err
	}
	if err := CheckCounter(op, ctr); err != nil {
		return err
	}
	if err := CheckBuf(op, "data", data, U8, 0); err != nil {
		return err
	}
	if err := CheckBuf(op, "labels", labels, U8, 0); err != nil {
		return err
	}
	if err := CheckBuf(op, "perm", perm, I32, n); err != nil {
		return err
	}
	if err := checkF32(op, imgName, images, n*d); err != nil {
		return err
	}
	return CheckBuf(op, "batchLabels", batchLabels, I32, n)
}

// CheckGatherBatch checks GatherBatch: n, d ≥ 0, std finite and not 0,
// U8 data and labels, at least n I32 perm entries, a counter, n·d F32
// images and n I32 batchLabels. The offset and the entries perm holds are
// checked where they are (CheckBatchRange on the host).
func CheckGatherBatch(n, d int, data, labels, perm, ctr, images, batchLabels Buffer, std float32) error {
	return checkGatherBatch("GatherBatch", n, d, data, labels, perm, ctr, "images", images, batchLabels, std)
}

// CheckBatchRange checks the values a batch gather reads: the batch
// [off, off+n) lies in perm, and its entries are rows of the data set
// (rows images, labels labels).
func CheckBatchRange(op string, perm []int32, off, n, rows, labels int) error {
	if off < 0 || off > len(perm) || n > len(perm)-off {
		return fmt.Errorf("%s: batch [%d, %d) outside the permutation's %d entries: %w", op, off, off+n, len(perm), ErrRange)
	}
	return CheckIndices(op, perm[off:off+n], min(rows, labels))
}

// CheckDropoutAt checks DropoutForwardAt: CheckDropout's arguments and a
// counter.
func CheckDropoutAt(count int, p float32, ctr, x, mask, y Buffer) error {
	const op = "DropoutForwardAt"
	if err := checkP(op, p); err != nil {
		return err
	}
	if err := CheckCounter(op, ctr); err != nil {
		return err
	}
	return CheckElementwise(op, count, [4]string{"x", "mask", "y"}, x, mask, y)
}

// CheckSGDAt checks SGDAt: CheckSGD's arguments, a batch n ≥ 0 and a
// counter.
func CheckSGDAt(count int, momentum float32, n int, ctr, params, grads, vel Buffer) error {
	const op = "SGDAt"
	if n < 0 {
		return fmt.Errorf("%s: negative batch n=%d", op, n)
	}
	if err := CheckCounter(op, ctr); err != nil {
		return err
	}
	if err := CheckElementwise(op, count, [4]string{"params", "grads"}, params, grads); err != nil {
		return err
	}
	if momentum != 0 {
		return checkF32(op, "vel", vel, count)
	}
	return nil
}

// CheckAdamAt checks AdamAt: count elements of params, grads, m and v, a
// batch n ≥ 0 and a counter (the step is on the device).
func CheckAdamAt(count, n int, ctr, params, grads, m, v Buffer) error {
	const op = "AdamAt"
	if n < 0 {
		return fmt.Errorf("%s: negative batch n=%d", op, n)
	}
	if err := CheckCounter(op, ctr); err != nil {
		return err
	}
	return CheckElementwise(op, count, [4]string{"params", "grads", "m", "v"}, params, grads, m, v)
}

// CheckSetCounter checks SetCounter: a counter, and an offset and a step
// that are ≥ 0 and fit its int32 elements.
func CheckSetCounter(ctr Buffer, offset, step int) error {
	const op = "SetCounter"
	if offset < 0 || step < 0 || offset > math.MaxInt32 || step > math.MaxInt32 {
		return fmt.Errorf("%s: offset %d or step %d outside [0, %d]", op, offset, step, math.MaxInt32)
	}
	return CheckCounter(op, ctr)
}

// checkDenseOut checks a dense layer's shape, activation, weights and
// outputs, and its dropout's when mask is not nil.
func checkDenseOut(op string, n, in, out int, p float32, ctr, w, b, a, mask, y Buffer) error {
	if err := checkF32(op, "w", w, out*in); err != nil {
		return err
	}
	if err := checkF32(op, "b", b, out); err != nil {
		return err
	}
	if err := checkF32(op, "a", a, n*out); err != nil {
		return err
	}
	if IsNil(mask) {
		return nil
	}
	if err := checkP(op, p); err != nil {
		return err
	}
	if err := CheckCounter(op, ctr); err != nil {
		return err
	}
	if err := checkF32(op, "mask", mask, n*out); err != nil {
		return err
	}
	return checkF32(op, "y", y, n*out)
}

// checkDenseShape checks a dense op's sizes and activation.
func checkDenseShape(op string, n, in, out int, act Activation) error {
	if n < 0 || in < 0 || out < 0 {
		return fmt.Errorf("%s: negative shape n=%d in=%d out=%d", op, n, in, out)
	}
	return CheckActivation(op, act)
}

// CheckDenseForward checks DenseForward: sizes ≥ 0, a known activation,
// x [n, in], w [out, in], b [out], a [n, out] and, when mask is not nil,
// p in [0, 1], a counter, mask and y [n, out].
func CheckDenseForward(n, in, out int, act Activation, p float32, ctr, x, w, b, a, mask, y Buffer) error {
	const op = "DenseForward"
	if err := checkDenseShape(op, n, in, out, act); err != nil {
		return err
	}
	if err := checkF32(op, "x", x, n*in); err != nil {
		return err
	}
	return checkDenseOut(op, n, in, out, p, ctr, w, b, a, mask, y)
}

// CheckDenseForwardGather checks DenseForwardGather: CheckGatherBatch's
// arguments (x the images, in values each) and CheckDenseForward's.
func CheckDenseForwardGather(n, in, out int, data, labels, perm, ctr Buffer, std float32, x, batchLabels Buffer,
	act Activation, p float32, w, b, a, mask, y Buffer) error {
	const op = "DenseForwardGather"
	if err := checkDenseShape(op, n, in, out, act); err != nil {
		return err
	}
	if err := checkGatherBatch(op, n, in, data, labels, perm, ctr, "x", x, batchLabels, std); err != nil {
		return err
	}
	return checkDenseOut(op, n, in, out, p, ctr, w, b, a, mask, y)
}

// CheckDenseBackward checks DenseBackward: sizes ≥ 0, a known activation,
// dy [n, out], x [n, in], w and dw [out, in], db [out] and, when dx is not
// nil, dx [n, in] and a and mask (each unless nil) [n, in].
func CheckDenseBackward(n, in, out int, dy, x, w, dw, db Buffer, act Activation, a, mask, dx Buffer) error {
	const op = "DenseBackward"
	if err := checkDenseShape(op, n, in, out, act); err != nil {
		return err
	}
	if err := checkF32(op, "dy", dy, n*out); err != nil {
		return err
	}
	return checkDenseBackwardBufs(op, n, in, out, x, w, dw, db, act, a, mask, dx)
}

// checkDenseBackwardBufs checks a dense backward's buffers but dy.
func checkDenseBackwardBufs(op string, n, in, out int, x, w, dw, db Buffer, act Activation, a, mask, dx Buffer) error {
	if err := checkF32(op, "x", x, n*in); err != nil {
		return err
	}
	if err := checkF32(op, "w", w, out*in); err != nil {
		return err
	}
	if err := checkF32(op, "dw", dw, out*in); err != nil {
		return err
	}
	if err := checkF32(op, "db", db, out); err != nil {
		return err
	}
	if IsNil(dx) {
		return nil
	}
	if err := checkF32(op, "dx", dx, n*in); err != nil {
		return err
	}
	if !IsNil(a) && act != Identity {
		if err := checkF32(op, "a", a, n*in); err != nil {
			return err
		}
	}
	if !IsNil(mask) {
		return checkF32(op, "mask", mask, n*in)
	}
	return nil
}

// CheckDenseLoss checks DenseLoss: sizes ≥ 0 and out ≥ 1, a known loss
// and activation, x [n, in], w and dw [out, in], b and db [out], logits
// and dlogits [n, out], n I32 labels, one-element F32 lossSum and
// correct and, when dx is not nil, dx [n, in] and a and mask (each unless
// nil) [n, in]. The label values are checked as LossForward's.
func CheckDenseLoss(loss Loss, n, in, out int, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db Buffer,
	act Activation, a, mask, dx Buffer) error {
	const op = "DenseLoss"
	if loss < CrossEntropy || loss > MSE {
		return fmt.Errorf("%s: unknown loss %v", op, loss)
	}
	if err := checkDenseShape(op, n, in, out, act); err != nil {
		return err
	}
	if out < 1 {
		return fmt.Errorf("%s: bad shape out=%d classes", op, out)
	}
	if err := checkF32(op, "w", w, out*in); err != nil {
		return err
	}
	if err := checkF32(op, "b", b, out); err != nil {
		return err
	}
	if err := checkF32(op, "logits", logits, n*out); err != nil {
		return err
	}
	if err := CheckBuf(op, "labels", labels, I32, n); err != nil {
		return err
	}
	if err := checkF32(op, "dlogits", dlogits, n*out); err != nil {
		return err
	}
	if err := checkF32(op, "lossSum", lossSum, 1); err != nil {
		return err
	}
	if err := checkF32(op, "correct", correct, 1); err != nil {
		return err
	}
	return checkDenseBackwardBufs(op, n, in, out, x, w, dw, db, act, a, mask, dx)
}

// sizes returns a pool's input and output element counts for n images.
func (p PoolPlan) sizes(n int) (in, out int) {
	return n * p.Ch * p.H * p.W, n * p.Ch * (p.H / 2) * (p.W / 2)
}

// checkActPool checks an activation-and-pool op on pool for n images:
// a known activation, 0 ≤ n ≤ MaxN, and the F32 buffers with the pool's
// input size (big) and output size (small).
func checkActPool(op string, act Activation, pool PoolPlan, n int, big [2]string, bigBufs [2]Buffer, small string, smallBuf Buffer) error {
	if err := CheckActivation(op, act); err != nil {
		return err
	}
	if err := checkN(op, n, 0, pool.MaxN); err != nil {
		return err
	}
	in, out := pool.sizes(n)
	for i, b := range bigBufs {
		if err := checkF32(op, big[i], b, in); err != nil {
			return err
		}
	}
	return checkF32(op, small, smallBuf, out)
}

// CheckActPoolForward checks ActPoolForward: a known activation,
// 0 ≤ n ≤ pool.MaxN, x and y of the pool's input size, pooled of its
// output size.
func CheckActPoolForward(act Activation, pool PoolPlan, n int, x, y, pooled Buffer) error {
	return checkActPool("ActPoolForward", act, pool, n, [2]string{"x", "y"}, [2]Buffer{x, y}, "pooled", pooled)
}

// CheckPoolActBackward checks PoolActBackward: a known activation,
// 0 ≤ n ≤ pool.MaxN, y and dx of the pool's input size, dpooled of its
// output size.
func CheckPoolActBackward(act Activation, pool PoolPlan, n int, y, dpooled, dx Buffer) error {
	return checkActPool("PoolActBackward", act, pool, n, [2]string{"y", "dx"}, [2]Buffer{y, dx}, "dpooled", dpooled)
}

// checkBNPool checks that a batch norm and the max-pool after it describe
// the same images, and the batch size against both.
func checkBNPool(op string, bn BNPlan, act Activation, pool PoolPlan, n int) error {
	if err := CheckActivation(op, act); err != nil {
		return err
	}
	if bn.Ch != pool.Ch || bn.Spatial != pool.H*pool.W {
		return fmt.Errorf("%s: batch norm over %d×%d and max-pool over %d×%d×%d do not match", op, bn.Ch, bn.Spatial, pool.Ch, pool.H, pool.W)
	}
	if err := checkN(op, n, 1, min(bn.MaxN, pool.MaxN)); err != nil {
		return err
	}
	if n*bn.Spatial < 2 {
		return fmt.Errorf("%s: need more than 1 value per channel, got n=%d spatial=%d", op, n, bn.Spatial)
	}
	return nil
}

// checkBNActPoolBufs checks the buffers of a batch norm, activation and
// pool forward.
func checkBNActPoolBufs(op string, bn BNPlan, pool PoolPlan, n int, xName string, x, gamma, beta, runMean, runVar, saveMean, saveInvStd,
	bnY, actY, pooled Buffer) error {
	in, out := pool.sizes(n)
	if err := CheckElementwise(op, in, [4]string{xName, "bnY", "actY"}, x, bnY, actY); err != nil {
		return err
	}
	if err := checkF32(op, "pooled", pooled, out); err != nil {
		return err
	}
	if err := checkChannels(op, bn.Ch, [4]string{"gamma", "beta", "runMean", "runVar"}, gamma, beta, runMean, runVar); err != nil {
		return err
	}
	return checkChannels(op, bn.Ch, [4]string{"saveMean", "saveInvStd"}, saveMean, saveInvStd)
}

// CheckBNActPoolForward checks BNActPoolForward: a batch norm and a pool
// over the same images, a known activation, 1 ≤ n ≤ both plans' MaxN with
// more than one value per channel, x, bnY and actY of the pool's input
// size, pooled of its output size, and the six per-channel buffers.
func CheckBNActPoolForward(bn BNPlan, act Activation, pool PoolPlan, n int, x, gamma, beta, runMean, runVar, saveMean, saveInvStd,
	bnY, actY, pooled Buffer) error {
	const op = "BNActPoolForward"
	if err := checkBNPool(op, bn, act, pool, n); err != nil {
		return err
	}
	return checkBNActPoolBufs(op, bn, pool, n, "x", x, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// checkConv checks a fused op's convolution: the plan is for s, 1 ≤ n ≤
// MaxN, x [n, C, H, W], w [OutC, C, K, K], and the bias (or its gradient)
// b, named bName, [OutC].
func checkConv(op string, conv ConvPlan, s ConvShape, n int, x, w Buffer, bName string, b Buffer) error {
	if conv.S != s {
		return fmt.Errorf("%s: shape %+v, the plan is for %+v", op, s, conv.S)
	}
	if err := checkN(op, n, 1, conv.MaxN); err != nil {
		return err
	}
	if err := checkF32(op, "x", x, n*s.C*s.H*s.W); err != nil {
		return err
	}
	if err := checkF32(op, "w", w, s.OutC*s.C*s.K*s.K); err != nil {
		return err
	}
	return checkF32(op, bName, b, s.OutC)
}

// CheckConvBiasForward checks ConvBiasForward: a plan for s, 1 ≤ n ≤ MaxN,
// x, w, b and y [n, OutC, H, W].
func CheckConvBiasForward(conv ConvPlan, s ConvShape, n int, x, w, b, y Buffer) error {
	const op = "ConvBiasForward"
	if err := checkConv(op, conv, s, n, x, w, "b", b); err != nil {
		return err
	}
	return checkF32(op, "y", y, n*s.OutC*s.H*s.W)
}

// CheckConvBiasBackward checks ConvBiasBackward: a plan for s,
// 1 ≤ n ≤ MaxN, x, dy [n, OutC, H, W], w and dw, db [OutC] and, unless
// nil, dx like x.
func CheckConvBiasBackward(conv ConvPlan, s ConvShape, n int, x, dy, w, dw, db, dx Buffer) error {
	const op = "ConvBiasBackward"
	if err := checkConv(op, conv, s, n, x, w, "db", db); err != nil {
		return err
	}
	if err := checkF32(op, "dy", dy, n*s.OutC*s.H*s.W); err != nil {
		return err
	}
	if err := checkF32(op, "dw", dw, s.OutC*s.C*s.K*s.K); err != nil {
		return err
	}
	if IsNil(dx) {
		return nil
	}
	return checkF32(op, "dx", dx, n*s.C*s.H*s.W)
}

// checkConvBlock checks a whole conv block's forward.
func checkConvBlock(op string, conv ConvPlan, s ConvShape, bn BNPlan, act Activation, pool PoolPlan, n int, x, w, b, convY, gamma, beta,
	runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled Buffer) error {
	if err := checkConv(op, conv, s, n, x, w, "b", b); err != nil {
		return err
	}
	if s.OutC != bn.Ch || s.H*s.W != bn.Spatial {
		return fmt.Errorf("%s: convolution to %d×%d×%d and batch norm over %d×%d do not match", op, s.OutC, s.H, s.W, bn.Ch, bn.Spatial)
	}
	if err := checkBNPool(op, bn, act, pool, n); err != nil {
		return err
	}
	return checkBNActPoolBufs(op, bn, pool, n, "convY", convY, gamma, beta, runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled)
}

// CheckConvBNActPoolForward checks ConvBNActPoolForward: the convolution's
// arguments as CheckConvBiasForward, its output channels and image the
// batch norm's, and the rest as CheckBNActPoolForward with convY as x.
func CheckConvBNActPoolForward(conv ConvPlan, s ConvShape, bn BNPlan, act Activation, pool PoolPlan, n int, x, w, b, convY, gamma, beta,
	runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled Buffer) error {
	return checkConvBlock("ConvBNActPoolForward", conv, s, bn, act, pool, n, x, w, b, convY, gamma, beta, runMean, runVar,
		saveMean, saveInvStd, bnY, actY, pooled)
}

// CheckConvBNActPoolForwardGather checks ConvBNActPoolForwardGather:
// CheckGatherBatch's arguments (x the images) and
// CheckConvBNActPoolForward's.
func CheckConvBNActPoolForwardGather(data, labels, perm, ctr Buffer, std float32, batchLabels Buffer,
	conv ConvPlan, s ConvShape, bn BNPlan, act Activation, pool PoolPlan, n int, x, w, b, convY, gamma, beta,
	runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled Buffer) error {
	const op = "ConvBNActPoolForwardGather"
	if err := checkGatherBatch(op, n, s.C*s.H*s.W, data, labels, perm, ctr, "x", x, batchLabels, std); err != nil {
		return err
	}
	return checkConvBlock(op, conv, s, bn, act, pool, n, x, w, b, convY, gamma, beta, runMean, runVar,
		saveMean, saveInvStd, bnY, actY, pooled)
}

// CheckPoolActBNConvBackward checks PoolActBNConvBackward: the batch
// norm's part as CheckPoolActBNBackward (convY its x, dconv its dx), the
// convolution's as CheckConvBiasBackward (dconv its dy), and that the
// convolution's output is the batch norm's input.
func CheckPoolActBNConvBackward(bn BNPlan, act Activation, pool PoolPlan, n int, actY, dpooled, g, convY, gamma, saveMean, saveInvStd,
	dconv, dgamma, dbeta Buffer, conv ConvPlan, s ConvShape, x, w, dw, db, dx Buffer) error {
	const op = "PoolActBNConvBackward"
	if s.OutC != bn.Ch || s.H*s.W != bn.Spatial {
		return fmt.Errorf("%s: convolution to %d×%d×%d and batch norm over %d×%d do not match", op, s.OutC, s.H, s.W, bn.Ch, bn.Spatial)
	}
	if err := CheckPoolActBNBackward(bn, act, pool, n, actY, dpooled, g, convY, gamma, saveMean, saveInvStd, dconv, dgamma, dbeta); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := CheckConvBiasBackward(conv, s, n, x, dconv, w, dw, db, dx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// CheckPoolActBNBackward checks PoolActBNBackward: a batch norm and a pool
// over the same images, a known activation, 1 ≤ n ≤ both plans' MaxN,
// actY, g, x and dx of the pool's input size, dpooled of its output size,
// gamma, saveMean, saveInvStd, dgamma and dbeta per channel.
func CheckPoolActBNBackward(bn BNPlan, act Activation, pool PoolPlan, n int, actY, dpooled, g, x, gamma, saveMean, saveInvStd,
	dx, dgamma, dbeta Buffer) error {
	const op = "PoolActBNBackward"
	if err := checkBNPool(op, bn, act, pool, n); err != nil {
		return err
	}
	in, out := pool.sizes(n)
	if err := CheckElementwise(op, in, [4]string{"actY", "g", "x", "dx"}, actY, g, x, dx); err != nil {
		return err
	}
	if err := checkF32(op, "dpooled", dpooled, out); err != nil {
		return err
	}
	if err := checkChannels(op, bn.Ch, [4]string{"gamma", "saveMean", "saveInvStd", "dgamma"}, gamma, saveMean, saveInvStd, dgamma); err != nil {
		return err
	}
	return checkF32(op, "dbeta", dbeta, bn.Ch)
}
