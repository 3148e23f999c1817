package cuda

import (
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// The ops below are launches of the kernels in gather.cu, bias.cu,
// elementwise.cu, dropout.cu, loss.cu, softmax.cu and optim.cu. Each checks
// its buffers on the host (no allocation unless it returns an error), makes
// the context current and queues one kernel: no synchronisation, no
// allocation, no host↔device copy.

// GatherImages writes dst[i*d+j] = (data[idx[i]*d+j]/255 - mean)/std.
// An index outside the data set is not read: the kernel flags it and the
// next Sync or Download returns the error (rangecheck.go).
func (d *Device) GatherImages(n, dim int, data, idx, dst kernels.Buffer, mean, std float32) error {
	const op = "GatherImages"
	if err := kernels.CheckGatherImages(n, dim, data, idx, dst, std); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	db, err := d.buf(op, "data", data, kernels.U8, 0)
	if err != nil {
		return err
	}
	ib, err := d.buf(op, "idx", idx, kernels.I32, n)
	if err != nil {
		return err
	}
	ob, err := d.f32(op, "dst", dst, n*dim)
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
	rows := 0
	if dim > 0 {
		rows = db.n / dim
	}
	return d.launch(kGatherImages, d.grid(n*dim), argPtr(db), argPtr(ib), argPtr(ob), argInt(n), argInt(dim), argInt(rows),
		argF32(mean), argF32(std), argPtr(d.rng.buf))
}

// GatherLabels writes dst[i] = int32(labels[idx[i]]).
func (d *Device) GatherLabels(n int, labels, idx, dst kernels.Buffer) error {
	const op = "GatherLabels"
	if err := kernels.CheckGatherLabels(n, labels, idx, dst); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	lb, err := d.buf(op, "labels", labels, kernels.U8, 0)
	if err != nil {
		return err
	}
	ib, err := d.buf(op, "idx", idx, kernels.I32, n)
	if err != nil {
		return err
	}
	ob, err := d.buf(op, "dst", dst, kernels.I32, n)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kGatherLabels, d.grid(n), argPtr(lb), argPtr(ib), argPtr(ob), argInt(n), argInt(lb.n), argPtr(d.rng.buf))
}

// AddBias adds bias[c] to y[i, c, s] for y of shape [n, ch, spatial].
func (d *Device) AddBias(n, ch, spatial int, y, bias kernels.Buffer) error {
	const op = "AddBias"
	if err := kernels.CheckBias(op, n, ch, spatial, y, bias); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	count := n * ch * spatial
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	bb, err := d.f32(op, "bias", bias, ch)
	if err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kAddBias, d.grid(count), argPtr(yb), argPtr(bb), argInt(n), argInt(ch), argInt(spatial))
}

// BiasGrad writes dbias[c] = Σ_{i,s} dy[i, c, s] (one block per channel).
func (d *Device) BiasGrad(n, ch, spatial int, dy, dbias kernels.Buffer) error {
	const op = "BiasGrad"
	if err := kernels.CheckBias(op, n, ch, spatial, dy, dbias); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	dyb, err := d.f32(op, "dy", dy, n*ch*spatial)
	if err != nil {
		return err
	}
	db, err := d.f32(op, "dbias", dbias, ch)
	if err != nil {
		return err
	}
	if ch == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kBiasGrad, min(ch, d.maxBlocks), argPtr(dyb), argPtr(db), argInt(n), argInt(ch), argInt(spatial))
}

// ActForward writes y = f(x) for the first count elements.
func (d *Device) ActForward(act kernels.Activation, count int, x, y kernels.Buffer) error {
	const op = "ActForward"
	if err := kernels.CheckActForward(act, count, x, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	xb, err := d.f32(op, "x", x, count)
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
	return d.launch(kActForward, d.grid(count), argInt(int(act)), argPtr(xb), argPtr(yb), argInt(count))
}

// ActBackward writes dx = dy·f'(x), with f' expressed through y = f(x).
func (d *Device) ActBackward(act kernels.Activation, count int, x, y, dy, dx kernels.Buffer) error {
	const op = "ActBackward"
	if err := kernels.CheckActBackward(act, count, x, y, dy, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if _, err := d.f32(op, "x", x, count); err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	dyb, err := d.f32(op, "dy", dy, count)
	if err != nil {
		return err
	}
	dxb, err := d.f32(op, "dx", dx, count)
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
	return d.launch(kActBackward, d.grid(count), argInt(int(act)), argPtr(yb), argPtr(dyb), argPtr(dxb), argInt(count))
}

// DropoutForward draws the keep mask from kernels.DropoutUniform (keyed
// by seed and step; the key is computed here, the per-element hash on the
// GPU), writes mask = keep/(1-p) and y = x·mask.
func (d *Device) DropoutForward(count int, p float32, seed, step uint64, x, mask, y kernels.Buffer) error {
	const op = "DropoutForward"
	if err := kernels.CheckDropout(count, p, x, mask, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
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
	key := kernels.DropoutKey(seed, step)
	return d.launch(kDropoutForward, d.grid(count), argPtr(xb), argPtr(mb), argPtr(yb), argInt(count), argF32(p), argF32(scale), key)
}

// Mul writes z = x·y elementwise.
func (d *Device) Mul(count int, x, y, z kernels.Buffer) error {
	const op = "Mul"
	if err := kernels.CheckMul(count, x, y, z); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	xb, err := d.f32(op, "x", x, count)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	zb, err := d.f32(op, "z", z, count)
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
	return d.launch(kMul, d.grid(count), argPtr(xb), argPtr(yb), argPtr(zb), argInt(count))
}

// LossForward adds the summed loss and the number of correct rows to the
// device accumulators lossSum[0] and correct[0], and writes the gradient of
// the batch-mean loss into dlogits unless it is nil. Labels are on the
// device: an out-of-range label makes the loss NaN and is flagged, and the
// next Sync or Download returns the error (rangecheck.go).
func (d *Device) LossForward(loss kernels.Loss, n, classes int, logits, labels, dlogits, lossSum, correct kernels.Buffer) error {
	const op = "LossForward"
	if err := kernels.CheckLoss(loss, n, classes, logits, labels, dlogits, lossSum, correct); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	zb, err := d.f32(op, "logits", logits, n*classes)
	if err != nil {
		return err
	}
	lb, err := d.buf(op, "labels", labels, kernels.I32, n)
	if err != nil {
		return err
	}
	var gb *buffer
	if !isNil(dlogits) {
		if gb, err = d.f32(op, "dlogits", dlogits, n*classes); err != nil {
			return err
		}
	}
	sb, err := d.f32(op, "lossSum", lossSum, 1)
	if err != nil {
		return err
	}
	cb, err := d.f32(op, "correct", correct, 1)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kLossForward, ceilDiv(n, blockSize), argInt(int(loss)), argPtr(zb), argPtr(lb), argPtr(gb),
		argPtr(sb), argPtr(cb), argInt(n), argInt(classes), argPtr(d.rng.buf))
}

// Softmax writes the row-wise softmax of x [n, classes] into y.
func (d *Device) Softmax(n, classes int, x, y kernels.Buffer) error {
	const op = "Softmax"
	if err := kernels.CheckSoftmax(n, classes, x, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	xb, err := d.f32(op, "x", x, n*classes)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, n*classes)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kSoftmax, d.grid(n), argPtr(xb), argPtr(yb), argInt(n), argInt(classes))
}

// SGD: g = grad + wd·p; v = momentum·v + g; p -= lr·v (v not used when
// momentum is 0, and may then be nil).
func (d *Device) SGD(count int, lr, momentum, wd float32, params, grads, vel kernels.Buffer) error {
	const op = "SGD"
	if err := kernels.CheckSGD(count, momentum, params, grads, vel); err != nil {
		return fmt.Errorf("cuda: %w", err)
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
	if count <= 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kSGD, d.grid(count), argPtr(pb), argPtr(gb), argPtr(vb), argInt(count), argF32(lr), argF32(momentum), argF32(wd))
}

// Adam updates params as PyTorch's Adam with L2 weight decay added to the
// gradient; the bias corrections are computed here in double.
func (d *Device) Adam(count int, lr, beta1, beta2, eps, wd float32, step int, params, grads, m, v kernels.Buffer) error {
	const op = "Adam"
	if err := kernels.CheckAdam(count, step, params, grads, m, v); err != nil {
		return fmt.Errorf("cuda: %w", err)
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
	if count <= 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	return d.launch(kAdam, d.grid(count), argPtr(pb), argPtr(gb), argPtr(mb), argPtr(vb), argInt(count),
		argF32(beta1), argF32(beta2), argF32(eps), argF32(wd), argF32(stepSize), argF32(bc2Sqrt))
}
