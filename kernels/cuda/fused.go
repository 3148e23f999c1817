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
// into images and batchLabels, in one kernel. The offset is on the device
// and is not checked on the host; positions past the end of perm are not
// read (their rows keep what they held).
func (d *Device) GatherBatch(n, dim int, data, labels, perm, ctr, images, batchLabels kernels.Buffer, mean, std float32) error {
	const op = "GatherBatch"
	if n < 0 || dim < 0 {
		return fmt.Errorf("cuda: %s: negative size n=%d d=%d", op, n, dim)
	}
	if std == 0 {
		return fmt.Errorf("cuda: %s: std is 0", op)
	}
	cb, err := d.counter(op, ctr)
	if err != nil {
		return err
	}
	db, err := d.buf(op, "data", data, kernels.U8, 0)
	if err != nil {
		return err
	}
	lb, err := d.buf(op, "labels", labels, kernels.U8, 0)
	if err != nil {
		return err
	}
	pb, err := d.buf(op, "perm", perm, kernels.I32, n)
	if err != nil {
		return err
	}
	ob, err := d.f32(op, "images", images, n*dim)
	if err != nil {
		return err
	}
	yb, err := d.buf(op, "batchLabels", batchLabels, kernels.I32, n)
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
	return d.launch(kGatherBatch, d.grid(n*dim), argPtr(db), argPtr(lb), argPtr(pb), argPtr(cb), argPtr(ob), argPtr(yb),
		argInt(n), argInt(dim), argInt(pb.n), argF32(mean), argF32(std))
}

// DropoutForwardAt is DropoutForward with the generator's step
// ctr[CtrStep]<<8 | sub, the key computed on the device.
func (d *Device) DropoutForwardAt(count int, p float32, seed, sub uint64, ctr, x, mask, y kernels.Buffer) error {
	const op = "DropoutForwardAt"
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("cuda: %s: p = %v outside [0, 1]", op, p)
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

// AdamAt is Adam at step ctr[CtrStep] + 1, the bias corrections computed
// in double on the device.
func (d *Device) AdamAt(count int, lr, beta1, beta2, eps, wd float32, ctr, params, grads, m, v kernels.Buffer) error {
	const op = "AdamAt"
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
	if count <= 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kAdamAt, d.grid(count), argPtr(pb), argPtr(gb), argPtr(mb), argPtr(vb), argPtr(cb), argInt(count),
		argF32(lr), argF32(beta1), argF32(beta2), argF32(eps), argF32(wd))
}

// SetCounter writes offset and step into ctr with a one-thread kernel
// (queued like any op: no host copy, no wait).
func (d *Device) SetCounter(ctr kernels.Buffer, offset, step int) error {
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

// AdvanceStep adds n to ctr[CtrOffset] and 1 to ctr[CtrStep] (one thread).
func (d *Device) AdvanceStep(n int, ctr kernels.Buffer) error {
	cb, err := d.counter("AdvanceStep", ctr)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kAdvanceStep, 1, argPtr(cb), argInt(n))
}
