package cuda

import (
	"fmt"

	"mnistgpu/kernels"
)

// maxPool is the 2×2 stride-2 max-pool of maxpool.cu.
type maxPool struct {
	d              *Device
	ch, h, w, maxN int
}

// NewMaxPool plans a 2×2 stride-2 max-pool over [n, ch, h, w].
func (d *Device) NewMaxPool(ch, h, w, maxN int) (kernels.MaxPool, error) {
	if err := kernels.CheckMaxPoolShape(ch, h, w, maxN); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	return &maxPool{d: d, ch: ch, h: h, w: w, maxN: maxN}, nil
}

// Forward writes y [n, ch, h/2, w/2].
func (p *maxPool) Forward(n int, x, y kernels.Buffer) error {
	const op = "MaxPool.Forward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, x, y, nil, nil); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	d := p.d
	planes := n * p.ch
	xb, err := d.f32(op, "x", x, planes*p.h*p.w)
	if err != nil {
		return err
	}
	out := planes * (p.h / 2) * (p.w / 2)
	yb, err := d.f32(op, "y", y, out)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.launch(kMaxPoolForward, d.grid(out), argPtr(xb), argPtr(yb), argInt(planes), argInt(p.h), argInt(p.w))
}

// Backward routes dy to each window's arg-max (the first maximum in
// row-major order) and zeroes the rest of dx.
func (p *maxPool) Backward(n int, x, y, dy, dx kernels.Buffer) error {
	const op = "MaxPool.Backward"
	if err := kernels.CheckMaxPool(op, p.ch, p.h, p.w, p.maxN, n, x, y, dy, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	d := p.d
	planes := n * p.ch
	in, out := planes*p.h*p.w, planes*(p.h/2)*(p.w/2)
	xb, err := d.f32(op, "x", x, in)
	if err != nil {
		return err
	}
	if _, err := d.f32(op, "y", y, out); err != nil {
		return err
	}
	dyb, err := d.f32(op, "dy", dy, out)
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
	return d.launch(kMaxPoolBackward, d.grid(in), argPtr(xb), argPtr(dyb), argPtr(dxb), argInt(planes), argInt(p.h), argInt(p.w))
}
