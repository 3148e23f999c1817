package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"mnistgpu/kernels"
)

// builder lays out a network: layers are declared with their shapes and
// parameters first, then build allocates the flat buffers and activations
// once and binds every layer to its views.
type builder struct {
	dev    kernels.Device
	maxN   int
	in     []int
	shape  []int // per-sample shape after the last declared layer
	specs  []spec
	params []*Param
	states []*State
	net    *Network
}

type spec struct {
	name     string
	out      []int
	describe string
	// make creates the layer once its node's buffers exist.
	make func(nd *node) (layer, error)
}

func newBuilder(dev kernels.Device, maxN int, in []int) *builder {
	b := &builder{dev: dev, maxN: maxN, in: append([]int(nil), in...), shape: append([]int(nil), in...)}
	b.net = &Network{dev: dev, maxBatch: maxN, in: b.in, mem: arena{dev: dev}}
	return b
}

func (b *builder) param(name string, shape []int, fanIn int, init float32) *Param {
	p := &Param{Name: name, Shape: shape, fanIn: fanIn, init: init}
	b.params = append(b.params, p)
	return p
}

func (b *builder) state(name string, shape []int, init float32) *State {
	s := &State{Name: name, Shape: shape, init: init}
	b.states = append(b.states, s)
	return s
}

func (b *builder) add(name, describe string, out []int, mk func(nd *node) (layer, error)) {
	b.specs = append(b.specs, spec{name: name, out: out, describe: describe, make: mk})
	b.shape = out
}

func (b *builder) alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	buf := b.net.mem.alloc(dt, n)
	return buf, b.net.mem.err
}

// build allocates everything and initialises the parameters as PyTorch does
// by default, from a generator seeded by seed.
func (b *builder) build(seed uint64) (net *Network, err error) {
	net = b.net
	defer func() {
		if err != nil {
			b.net.Close() // net is nil by then
		}
	}()
	total := 0
	for _, p := range b.params {
		p.Off = total
		total += p.Len()
	}
	if net.flatW, err = b.alloc(kernels.F32, total); err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	if net.flatG, err = b.alloc(kernels.F32, total); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	for _, p := range b.params {
		p.W = b.dev.View(net.flatW, p.Off, p.Len())
		p.G = b.dev.View(net.flatG, p.Off, p.Len())
	}
	for _, s := range b.states {
		if s.Buf, err = b.alloc(kernels.F32, prod(s.Shape)); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	net.params, net.states, net.nParam = b.params, b.states, total

	if net.input, err = b.alloc(kernels.F32, b.maxN*prod(b.in)); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	x, dx := net.input, kernels.Buffer(nil)
	for i, sp := range b.specs {
		nd := &node{name: sp.name, out: sp.out, x: x, dx: dx, describe: sp.describe}
		size := b.maxN * prod(sp.out)
		if nd.y, err = b.alloc(kernels.F32, size); err != nil {
			return nil, fmt.Errorf("%s output: %w", sp.name, err)
		}
		if nd.dy, err = b.alloc(kernels.F32, size); err != nil {
			return nil, fmt.Errorf("%s gradient: %w", sp.name, err)
		}
		if i == len(b.specs)-1 {
			net.dlogits = nd.dy
		}
		if nd.l, err = sp.make(nd); err != nil {
			return nil, fmt.Errorf("%s: %w", sp.name, err)
		}
		net.nodes = append(net.nodes, nd)
		x, dx = nd.y, nd.dy
	}
	if err := net.initParams(seed); err != nil {
		return nil, err
	}
	return net, nil
}

// initParams sets PyTorch's default initialisation: weights and biases of
// linear and conv layers uniform in ±1/sqrt(fan_in) (kaiming_uniform with
// a=√5 works out to this bound for the weight), batch norm weight 1 and bias
// 0, running mean 0 and running variance 1.
func (net *Network) initParams(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6d6e697374677075))
	host := make([]float32, net.nParam)
	for _, p := range net.params {
		v := host[p.Off : p.Off+p.Len()]
		if p.fanIn == 0 {
			for i := range v {
				v[i] = p.init
			}
			continue
		}
		bound := 1 / math.Sqrt(float64(p.fanIn))
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * bound)
		}
	}
	if err := net.dev.Upload(net.flatW, host); err != nil {
		return fmt.Errorf("upload parameters: %w", err)
	}
	for _, s := range net.states {
		if err := net.dev.Fill(s.Buf, s.init); err != nil {
			return fmt.Errorf("init %s: %w", s.Name, err)
		}
	}
	return nil
}
