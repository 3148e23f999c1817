// Package model holds mnistgpu's layers (each with an explicit forward and
// backward), the task-1 MLP and task-2 CNN built from them, the losses and
// optimizers, the training loop and checkpoints in the safetensors format.
//
// A model is written once against kernels.Device. Parameters and their
// gradients live in two flat device buffers; every layer sees its part
// through views, so an optimizer updates all parameters in one pass.
// Activations are allocated when the network is built, for batches of up to
// MaxBatch, so a training step allocates nothing.
package model

import (
	"fmt"
	"strings"

	"mnistgpu/kernels"
)

// Param is one named parameter tensor: a view into the network's flat
// parameter buffer and the same view into the gradient buffer. Names and
// shapes follow PyTorch (fc1.weight is [out, in], conv1.weight is
// [out, in, kh, kw]).
type Param struct {
	Name  string
	Shape []int
	// Off is the offset of the tensor in the flat buffers, in elements.
	Off int
	// W and G are the parameter and gradient views.
	W, G kernels.Buffer
	// fanIn sets PyTorch's default uniform initialisation bound
	// 1/sqrt(fanIn); zero means a constant init (see init).
	fanIn int
	// init is the constant for fanIn == 0 (batch norm's weight 1, bias 0).
	init float32
}

// Len is the number of elements of p.
func (p *Param) Len() int { return prod(p.Shape) }

// State is a named non-trained tensor saved with a checkpoint, such as batch
// norm's running averages.
type State struct {
	Name  string
	Shape []int
	Buf   kernels.Buffer
	init  float32
}

// layer is one stage of a network. Each layer owns its output buffer y and
// the gradient buffer dx it writes for the layer before it (nil for the first
// layer, which needs no input gradient). x and dy are the neighbours'.
type layer interface {
	// forward reads x, writes y.
	forward(n int, train bool) error
	// backward reads dy (and saved forward values), writes parameter
	// gradients and dx.
	backward(n int) error
}

// node ties a layer to its buffers and shape.
type node struct {
	name     string
	l        layer
	out      []int // per-sample output shape
	y, dy    kernels.Buffer
	x, dx    kernels.Buffer
	describe string
}

// Network is a feed-forward stack of layers on one device.
type Network struct {
	dev      kernels.Device
	maxBatch int
	in       []int // per-sample input shape
	nodes    []*node

	params []*Param
	states []*State
	flatW  kernels.Buffer
	flatG  kernels.Buffer
	nParam int

	// input is the batch buffer the first layer reads: [maxBatch, in...].
	input kernels.Buffer
	// dlogits is the loss gradient the last layer's backward reads.
	dlogits kernels.Buffer

	// seed and step key the dropout masks: step counts training steps.
	seed, step uint64
	// ctr, when a Trainer has set it, is the device step counter dropout
	// reads its step from (kernels.StepOps) instead of step.
	ctr kernels.Buffer

	mem arena // every buffer above
}

// Device is the device the network lives on.
func (net *Network) Device() kernels.Device { return net.dev }

// MaxBatch is the largest batch the network's buffers hold.
func (net *Network) MaxBatch() int { return net.maxBatch }

// Params lists the trainable parameters in checkpoint order.
func (net *Network) Params() []*Param { return net.params }

// States lists the non-trained tensors saved with a checkpoint.
func (net *Network) States() []*State { return net.states }

// NumParams is the number of trainable scalars.
func (net *Network) NumParams() int { return net.nParam }

// FlatParams is the one buffer that holds every parameter.
func (net *Network) FlatParams() kernels.Buffer { return net.flatW }

// FlatGrads is the one buffer that holds every parameter gradient.
func (net *Network) FlatGrads() kernels.Buffer { return net.flatG }

// Input is the batch buffer, [MaxBatch, InputSize], that Forward reads.
func (net *Network) Input() kernels.Buffer { return net.input }

// InputSize is the number of values per sample of the input.
func (net *Network) InputSize() int { return prod(net.in) }

// Classes is the number of outputs per sample of the last layer.
func (net *Network) Classes() int { return prod(net.nodes[len(net.nodes)-1].out) }

// Logits is the last layer's output buffer, [MaxBatch, Classes].
func (net *Network) Logits() kernels.Buffer { return net.nodes[len(net.nodes)-1].y }

// DLogits is the buffer the loss writes its gradient into.
func (net *Network) DLogits() kernels.Buffer { return net.dlogits }

// Features is the input of the last layer (the penultimate activations) and
// its width per sample.
func (net *Network) Features() (kernels.Buffer, int) {
	last := net.nodes[len(net.nodes)-1]
	return last.x, prod(net.nodes[len(net.nodes)-2].out)
}

// Forward runs every layer on the first n samples of Input.
func (net *Network) Forward(n int, train bool) error {
	if n <= 0 || n > net.maxBatch {
		return fmt.Errorf("forward: batch of %d, want 1..%d", n, net.maxBatch)
	}
	for _, nd := range net.nodes {
		if err := nd.l.forward(n, train); err != nil {
			return fmt.Errorf("%s forward: %w", nd.name, err)
		}
	}
	return nil
}

// Backward runs every layer's backward from DLogits, writing FlatGrads.
func (net *Network) Backward(n int) error {
	for i := len(net.nodes) - 1; i >= 0; i-- {
		nd := net.nodes[i]
		if err := nd.l.backward(n); err != nil {
			return fmt.Errorf("%s backward: %w", nd.name, err)
		}
	}
	return nil
}

// Close frees the network's device buffers.
func (net *Network) Close() {
	net.mem.free()
}

// LayerInfo describes one layer for architecture tables.
type LayerInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Output   []int  `json:"output"`
	Params   int    `json:"params"`
	Describe string `json:"describe"`
}

// Layers describes the network layer by layer.
func (net *Network) Layers() []LayerInfo {
	var out []LayerInfo
	for _, nd := range net.nodes {
		np := 0
		for _, p := range net.params {
			if strings.HasPrefix(p.Name, nd.name+".") {
				np += p.Len()
			}
		}
		out = append(out, LayerInfo{Name: nd.name, Kind: kindOf(nd.l), Output: append([]int(nil), nd.out...), Params: np, Describe: nd.describe})
	}
	return out
}

func kindOf(l layer) string {
	switch l.(type) {
	case *linear:
		return "Linear"
	case *conv:
		return "Conv2d"
	case *batchNorm:
		return "BatchNorm2d"
	case *activation:
		return "Activation"
	case *maxPool:
		return "MaxPool2d"
	case *dropout:
		return "Dropout"
	}
	return fmt.Sprintf("%T", l)
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}
