package model

import (
	"fmt"

	"mnistgpu/kernels"
)

// conv is a 2-D convolution with "same" zero padding and stride 1 followed
// by a per-channel bias, W [outC, inC, k, k] as PyTorch's Conv2d.
type conv struct {
	dev  kernels.Device
	plan kernels.Conv2D
	s    kernels.ConvShape
	w, b *Param
	nd   *node
}

func (bd *builder) conv(name string, outC, k int) {
	c, h, w := bd.shape[0], bd.shape[1], bd.shape[2]
	l := &conv{dev: bd.dev, s: kernels.ConvShape{C: c, H: h, W: w, K: k, OutC: outC}}
	fan := c * k * k
	l.w = bd.param(name+".weight", []int{outC, c, k, k}, fan, 0)
	l.b = bd.param(name+".bias", []int{outC}, fan, 0)
	bd.add(name, fmt.Sprintf("Conv2d(%d, %d, kernel %d, padding %d)", c, outC, k, (k-1)/2), []int{outC, h, w},
		func(nd *node) (layer, error) {
			l.nd = nd
			var err error
			l.plan, err = bd.dev.NewConv2D(l.s, bd.maxN)
			return l, err
		})
}

func (l *conv) forward(n int, train bool) error {
	if err := l.plan.Forward(n, l.nd.x, l.w.W, l.nd.y); err != nil {
		return err
	}
	return l.dev.AddBias(n, l.s.OutC, l.s.H*l.s.W, l.nd.y, l.b.W)
}

func (l *conv) backward(n int) error {
	if err := l.dev.BiasGrad(n, l.s.OutC, l.s.H*l.s.W, l.nd.dy, l.b.G); err != nil {
		return err
	}
	if err := l.plan.BackwardFilter(n, l.nd.x, l.nd.dy, l.w.G); err != nil {
		return err
	}
	if l.nd.dx == nil {
		return nil
	}
	return l.plan.BackwardData(n, l.nd.dy, l.w.W, l.nd.dx)
}
