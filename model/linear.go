package model

import (
	"fmt"

	"mnistgpu/kernels"
)

// linear is y = x·Wᵀ + b with W [out, in] (PyTorch's layout).
//
// Backward, for the batch-mean loss L:
//
//	dW = dyᵀ·x   [out, in]
//	db = Σ_rows dy
//	dx = dy·W    [n, in]
type linear struct {
	dev     kernels.Device
	in, out int
	w, b    *Param
	nd      *node
}

func (bd *builder) linear(name string, out int) {
	in := prod(bd.shape)
	l := &linear{dev: bd.dev, in: in, out: out}
	l.w = bd.param(name+".weight", []int{out, in}, in, 0)
	l.b = bd.param(name+".bias", []int{out}, in, 0)
	bd.add(name, fmt.Sprintf("Linear(%d, %d)", in, out), []int{out}, func(nd *node) (layer, error) {
		l.nd = nd
		return l, nil
	})
}

func (l *linear) forward(n int, train bool) error {
	if err := l.dev.Gemm(false, true, n, l.out, l.in, 1, l.nd.x, l.w.W, 0, l.nd.y); err != nil {
		return err
	}
	return l.dev.AddBias(n, l.out, 1, l.nd.y, l.b.W)
}

func (l *linear) backward(n int) error {
	if err := l.dev.Gemm(true, false, l.out, l.in, n, 1, l.nd.dy, l.nd.x, 0, l.w.G); err != nil {
		return err
	}
	if err := l.dev.BiasGrad(n, l.out, 1, l.nd.dy, l.b.G); err != nil {
		return err
	}
	if l.nd.dx == nil {
		return nil
	}
	return l.dev.Gemm(false, false, n, l.in, l.out, 1, l.nd.dy, l.w.W, 0, l.nd.dx)
}
