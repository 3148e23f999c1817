package cpu

// Conv2d, batch norm and max-pool checked, forward and backward, against
// gorgonia.org/gorgonia's CPU ops (float64 graphs differentiated with
// G.Grad) as an independent implementation.

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"mnistgpu/kernels"
)

// gorgoniaRun builds a graph with inputs of the given shapes and values,
// lets build return the output node, sets cost = Σ out ⊙ R, and returns the
// output value and the gradients of cost with respect to each input.
func gorgoniaRun(t *testing.T, shapes [][]int, values [][]float32, outShape []int, r []float32,
	build func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)) (out []float64, grads [][]float64) {
	t.Helper()
	g := G.NewGraph()
	in := make([]*G.Node, len(shapes))
	for i, sh := range shapes {
		v := tensor.New(tensor.WithShape(sh...), tensor.WithBacking(f64(values[i])))
		in[i] = G.NewTensor(g, tensor.Float64, len(sh), G.WithShape(sh...), G.WithValue(v), G.WithName(fmt.Sprint("in", i)))
	}
	y, err := build(g, in)
	if err != nil {
		t.Fatalf("gorgonia graph: %v", err)
	}
	rv := tensor.New(tensor.WithShape(outShape...), tensor.WithBacking(f64(r)))
	rn := G.NewTensor(g, tensor.Float64, len(outShape), G.WithShape(outShape...), G.WithValue(rv), G.WithName("R"))
	prod, err := G.HadamardProd(y, rn)
	if err != nil {
		t.Fatalf("gorgonia: %v", err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatalf("gorgonia: %v", err)
	}
	if _, err := G.Grad(cost, in...); err != nil {
		t.Fatalf("gorgonia Grad: %v", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("gorgonia run: %v", err)
	}
	out = append([]float64(nil), y.Value().Data().([]float64)...)
	for _, n := range in {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("gorgonia grad of %v: %v", n.Name(), err)
		}
		grads = append(grads, append([]float64(nil), gv.Data().([]float64)...))
	}
	return out, grads
}

func TestGorgoniaConv(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(11)
	for _, tc := range []struct {
		s kernels.ConvShape
		n int
	}{
		{kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, 3},
		{kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}, 3},
		{kernels.ConvShape{C: 2, H: 9, W: 7, K: 5, OutC: 3}, 2},
		{kernels.ConvShape{C: 3, H: 5, W: 6, K: 1, OutC: 2}, 2},
	} {
		s, n := tc.s, tc.n
		name := fmt.Sprintf("conv %+v n=%d", s, n)
		xs, ws := randSlice(r, n*s.C*s.H*s.W), randSlice(r, s.OutC*s.C*s.K*s.K)
		rr := randSlice(r, n*s.OutC*s.H*s.W)
		p := (s.K - 1) / 2
		out, grads := gorgoniaRun(t, [][]int{{n, s.C, s.H, s.W}, {s.OutC, s.C, s.K, s.K}}, [][]float32{xs, ws},
			[]int{n, s.OutC, s.H, s.W}, rr, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return G.Conv2d(in[0], in[1], tensor.Shape{s.K, s.K}, []int{p, p}, []int{1, 1}, []int{1, 1})
			})
		cv, err := d.NewConv2D(s, n)
		must(t, err)
		xb, wb, rb := alloc32(t, d, xs, 0), alloc32(t, d, ws, 0), alloc32(t, d, rr, 0)
		yb, dxb, dwb := alloc32(t, d, nil, len(rr)), alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, len(ws))
		must(t, cv.Forward(n, xb, wb, yb))
		must(t, cv.BackwardData(n, rb, wb, dxb))
		must(t, cv.BackwardFilter(n, xb, rb, dwb))
		checkClose(t, name+" y", yb.f32, out, 1e-5)
		checkClose(t, name+" dx", dxb.f32, grads[0], 1e-5)
		checkClose(t, name+" dw", dwb.f32, grads[1], 1e-4)
	}
}

func TestGorgoniaMaxPool(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(12)
	for _, sh := range [][4]int{{3, 4, 28, 28}, {2, 4, 14, 14}, {2, 3, 6, 10}} {
		n, ch, h, w := sh[0], sh[1], sh[2], sh[3]
		name := fmt.Sprint("maxpool ", sh)
		xs := randSlice(r, n*ch*h*w)
		oshape := []int{n, ch, h / 2, w / 2}
		rr := randSlice(r, n*ch*(h/2)*(w/2))
		out, grads := gorgoniaRun(t, [][]int{{n, ch, h, w}}, [][]float32{xs}, oshape, rr,
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return G.MaxPool2D(in[0], tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
			})
		mp, err := d.NewMaxPool(ch, h, w, n)
		must(t, err)
		xb, yb, rb, dxb := alloc32(t, d, xs, 0), alloc32(t, d, nil, len(rr)), alloc32(t, d, rr, 0), alloc32(t, d, nil, len(xs))
		must(t, mp.Forward(n, xb, yb))
		must(t, mp.Backward(n, xb, yb, rb, dxb))
		checkClose(t, name+" y", yb.f32, out, 0)
		checkClose(t, name+" dx", dxb.f32, grads[0], 0)
	}
}

func TestGorgoniaBatchNorm(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(13)
	for _, sh := range [][4]int{{4, 4, 14, 14}, {3, 2, 5, 5}} {
		n, ch, h, w := sh[0], sh[1], sh[2], sh[3]
		const eps, mom = 1e-5, 0.1
		name := fmt.Sprint("batchnorm ", sh)
		sp := h * w
		xs, rr := randSlice(r, n*ch*sp), randSlice(r, n*ch*sp)
		for i := range xs {
			xs[i] = 3*xs[i] - 1
		}
		gs, bs := randSlice(r, ch), randSlice(r, ch)
		// gorgonia's BatchNorm broadcasts scale and bias of x's full shape;
		// give it per-channel values repeated, and sum its gradients back
		// per channel.
		full := func(v []float32) []float32 {
			out := make([]float32, n*ch*sp)
			for i := range out {
				out[i] = v[(i/sp)%ch]
			}
			return out
		}
		var op *G.BatchNormOp
		shape := []int{n, ch, h, w}
		out, grads := gorgoniaRun(t, [][]int{shape, shape, shape}, [][]float32{xs, full(gs), full(bs)}, shape, rr,
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				y, _, _, o, err := G.BatchNorm(in[0], in[1], in[2], mom, eps)
				op = o
				return y, err
			})
		perChannel := func(v []float64) []float64 {
			out := make([]float64, ch)
			for i, x := range v {
				out[(i/sp)%ch] += x
			}
			return out
		}
		bn, err := d.NewBatchNorm(ch, sp, n, eps, mom)
		must(t, err)
		xb, gb, bb, rb := alloc32(t, d, xs, 0), alloc32(t, d, gs, 0), alloc32(t, d, bs, 0), alloc32(t, d, rr, 0)
		rmb, rvb := alloc32(t, d, nil, ch), alloc32(t, d, nil, ch)
		must(t, d.Fill(rvb, 1)) // the initial running_var of PyTorch and of gorgonia
		yb, smb, sib := alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, ch), alloc32(t, d, nil, ch)
		dxb, dgb, dbb := alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, ch), alloc32(t, d, nil, ch)
		must(t, bn.ForwardTrain(n, xb, gb, bb, rmb, rvb, yb, smb, sib))
		must(t, bn.Backward(n, xb, rb, gb, smb, sib, dxb, dgb, dbb))
		checkClose(t, name+" y", yb.f32, out, 1e-5)
		checkClose(t, name+" dx", dxb.f32, grads[0], 1e-4)
		checkClose(t, name+" dgamma", dgb.f32, perChannel(grads[1]), 1e-4)
		checkClose(t, name+" dbeta", dbb.f32, perChannel(grads[2]), 1e-4)
		// Running statistics (both start at mean 0, variance 1).
		gm, gv := op.Stats()
		checkClose(t, name+" runMean", rmb.f32, gm.Data().([]float64), 1e-6)
		checkClose(t, name+" runVar", rvb.f32, gv.Data().([]float64), 1e-6)
	}
}
