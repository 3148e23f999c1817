package model

import (
	"fmt"

	"mnistgpu/kernels"
)

// BatchNormEps and BatchNormMomentum are PyTorch's BatchNorm2d defaults.
const (
	BatchNormEps      = 1e-5
	BatchNormMomentum = 0.1
)

// batchNorm is spatial batch normalisation (PyTorch's BatchNorm2d): per
// channel, y = γ·(x-μ)/√(σ²+ε) + β with the batch's statistics in training
// and the running averages in inference.
type batchNorm struct {
	dev             kernels.Device
	plan            kernels.BatchNorm
	gamma, beta     *Param
	runMean, runVar *State
	// saveMean and saveInvStd hold the batch statistics for backward.
	saveMean, saveInvStd kernels.Buffer
	nd                   *node
}

func (bd *builder) batchNorm(name string) {
	c, spatial := bd.shape[0], prod(bd.shape[1:])
	l := &batchNorm{dev: bd.dev}
	l.gamma = bd.param(name+".weight", []int{c}, 0, 1)
	l.beta = bd.param(name+".bias", []int{c}, 0, 0)
	l.runMean = bd.state(name+".running_mean", []int{c}, 0)
	l.runVar = bd.state(name+".running_var", []int{c}, 1)
	bd.add(name, fmt.Sprintf("BatchNorm2d(%d)", c), bd.shape, func(nd *node) (layer, error) {
		l.nd = nd
		var err error
		if l.saveMean, err = bd.alloc(kernels.F32, c); err != nil {
			return nil, err
		}
		if l.saveInvStd, err = bd.alloc(kernels.F32, c); err != nil {
			return nil, err
		}
		l.plan, err = bd.dev.NewBatchNorm(c, spatial, bd.maxN, BatchNormEps, BatchNormMomentum)
		return l, err
	})
}

func (l *batchNorm) forward(n int, train bool) error {
	if train {
		return l.plan.ForwardTrain(n, l.nd.x, l.gamma.W, l.beta.W, l.runMean.Buf, l.runVar.Buf, l.nd.y, l.saveMean, l.saveInvStd)
	}
	return l.plan.ForwardInfer(n, l.nd.x, l.gamma.W, l.beta.W, l.runMean.Buf, l.runVar.Buf, l.nd.y)
}

func (l *batchNorm) backward(n int) error {
	dx := l.nd.dx
	if dx == nil {
		return fmt.Errorf("batch norm as the first layer is not supported")
	}
	return l.plan.Backward(n, l.nd.x, l.nd.dy, l.gamma.W, l.saveMean, l.saveInvStd, dx, l.gamma.G, l.beta.G)
}
