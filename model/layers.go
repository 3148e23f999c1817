package model

import (
	"fmt"

	"mnistgpu/kernels"
)

// activation applies an elementwise nonlinearity; its backward uses the
// saved output y (ReLU: dy·[y>0]; sigmoid: dy·y(1-y); tanh: dy·(1-y²)).
type activation struct {
	dev  kernels.Device
	act  kernels.Activation
	size int // values per sample
	nd   *node
}

func (bd *builder) activation(name string, act kernels.Activation) {
	l := &activation{dev: bd.dev, act: act, size: prod(bd.shape)}
	bd.add(name, act.String(), bd.shape, func(nd *node) (layer, error) {
		l.nd = nd
		return l, nil
	})
}

func (l *activation) forward(n int, train bool) error {
	return l.dev.ActForward(l.act, n*l.size, l.nd.x, l.nd.y)
}

func (l *activation) backward(n int) error {
	if l.nd.dx == nil {
		return nil
	}
	return l.dev.ActBackward(l.act, n*l.size, l.nd.x, l.nd.y, l.nd.dy, l.nd.dx)
}

// maxPool is a 2×2 max-pool with stride 2.
type maxPool struct {
	plan kernels.MaxPool
	nd   *node
}

func (bd *builder) maxPool(name string) {
	c, h, w := bd.shape[0], bd.shape[1], bd.shape[2]
	l := &maxPool{}
	bd.add(name, "MaxPool2d(2)", []int{c, h / 2, w / 2}, func(nd *node) (layer, error) {
		l.nd = nd
		var err error
		l.plan, err = bd.dev.NewMaxPool(c, h, w, bd.maxN)
		return l, err
	})
}

func (l *maxPool) forward(n int, train bool) error { return l.plan.Forward(n, l.nd.x, l.nd.y) }

func (l *maxPool) backward(n int) error {
	if l.nd.dx == nil {
		return nil
	}
	return l.plan.Backward(n, l.nd.x, l.nd.y, l.nd.dy, l.nd.dx)
}

// dropout is inverted dropout: in training each value is kept with
// probability 1-p and scaled by 1/(1-p); in inference it is the identity.
// Masks come from the device's counter-based generator keyed by the run's
// seed and a per-call step number, so a run is reproducible.
type dropout struct {
	dev  kernels.Device
	p    float32
	size int
	id   uint64 // distinguishes the dropout layers of one network
	net  *Network
	mask kernels.Buffer
	nd   *node
}

func (bd *builder) dropout(name string, p float64, id uint64) {
	l := &dropout{dev: bd.dev, p: float32(p), size: prod(bd.shape), id: id, net: bd.net}
	bd.add(name, fmt.Sprintf("Dropout(p=%g)", p), bd.shape, func(nd *node) (layer, error) {
		l.nd = nd
		var err error
		l.mask, err = bd.alloc(kernels.F32, bd.maxN*l.size)
		return l, err
	})
}

func (l *dropout) forward(n int, train bool) error {
	if !train || l.p == 0 {
		return l.dev.Copy(l.dev.View(l.nd.y, 0, n*l.size), l.dev.View(l.nd.x, 0, n*l.size))
	}
	if l.net.ctr != nil {
		return l.dev.DropoutForwardAt(n*l.size, l.p, l.net.seed, l.id, l.net.ctr, l.nd.x, l.mask, l.nd.y)
	}
	step := l.net.step<<8 | l.id
	return l.dev.DropoutForward(n*l.size, l.p, l.net.seed, step, l.nd.x, l.mask, l.nd.y)
}

func (l *dropout) backward(n int) error {
	if l.nd.dx == nil {
		return nil
	}
	return l.dev.Mul(n*l.size, l.nd.dy, l.mask, l.nd.dx)
}
