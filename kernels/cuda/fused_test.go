package cuda_test

import (
	"fmt"
	"testing"

	"mnistgpu/kernels"
)

// TestGPUDense checks the fused dense layer (DenseForward, DenseBackward)
// against the CPU device, which composes the separate ops, for every
// activation, with and without dropout and input gradient, on shapes that
// are not multiples of the GPU's 16×16 tiles (tolerance 1e-4: fp32 sums
// in another order).
func TestGPUDense(t *testing.T) {
	g := gpu(t)
	for _, c := range []struct {
		n, in, out int
		act        kernels.Activation
		drop, dx   bool
	}{
		{37, 50, 21, kernels.ReLU, true, true},
		{16, 32, 16, kernels.Sigmoid, false, true},
		{5, 19, 40, kernels.Tanh, true, false},
		{64, 64, 10, kernels.Identity, false, true},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d-%v-drop%v-dx%v", c.n, c.in, c.out, c.act, c.drop, c.dx), func(t *testing.T) {
			e := newEnv(t, g)
			x, w, b := e.f32(e.randn(c.n*c.in, 1, 0)), e.f32(e.randn(c.out*c.in, 0.3, 0)), e.f32(e.randn(c.out, 0.1, 0))
			ctr := e.i32([]int32{0, 7, 0})
			a := e.garbage(c.n * c.out)
			var mask, y pair
			if c.drop {
				mask, y = e.garbage(c.n*c.out), e.garbage(c.n*c.out)
			}
			dy := e.f32(e.randn(c.n*c.out, 1, 0))
			dw, db := e.garbage(c.out*c.in), e.garbage(c.out)
			var dx, pa, pmask pair
			if c.dx {
				dx = e.garbage(c.n * c.in)
				pa = e.f32(e.randn(c.n*c.in, 0.5, 0.5)) // previous layer's activation output
				if c.act == kernels.ReLU || c.act == kernels.Identity {
					pa = e.f32(e.randn(c.n*c.in, 1, 0))
				}
				pmask = e.f32(e.randn(c.n*c.in, 1, 0))
			}
			e.run("dense", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				opt := func(q pair) kernels.Buffer {
					if q.g == nil {
						return nil
					}
					return p(q)
				}
				if err := d.DenseForward(c.n, c.in, c.out, c.act, 0.3, 11, 3, p(ctr), p(x), p(w), p(b), p(a), opt(mask), opt(y)); err != nil {
					return err
				}
				return d.DenseBackward(c.n, c.in, c.out, p(dy), p(x), p(w), p(dw), p(db), c.act, opt(pa), opt(pmask), opt(dx))
			})
			e.close("a", a, -1, 1e-4)
			if c.drop {
				e.close("mask", mask, -1, 0)
				e.close("y", y, -1, 1e-4)
			}
			e.close("dw", dw, -1, 1e-4)
			e.close("db", db, -1, 1e-4)
			if c.dx {
				e.close("dx", dx, -1, 1e-4)
			}
		})
	}
}

// TestGPUDenseLoss checks DenseLoss (the last dense layer, the loss and
// the layer's backward in one launch) against the CPU device, which
// composes Gemm, AddBias, LossForward and DenseBackward, for each loss,
// with and without the previous layer's activation and dropout, on shapes
// that are not multiples of the tiles, and on one too large for the single
// block (the separate kernels).
func TestGPUDenseLoss(t *testing.T) {
	g := gpu(t)
	for _, c := range []struct {
		n, in, out int
		loss       kernels.Loss
		act        kernels.Activation
		mask, dx   bool
	}{
		{64, 64, 10, kernels.CrossEntropy, kernels.ReLU, true, true},
		{37, 50, 21, kernels.NLL, kernels.Tanh, false, true},
		{5, 19, 10, kernels.MSE, kernels.Sigmoid, true, true},
		{64, 196, 10, kernels.CrossEntropy, kernels.Identity, false, false},
		{300, 400, 10, kernels.CrossEntropy, kernels.ReLU, false, true}, // > denseLossWork
	} {
		t.Run(fmt.Sprintf("%dx%dx%d-%v-%v-mask%v-dx%v", c.n, c.in, c.out, c.loss, c.act, c.mask, c.dx), func(t *testing.T) {
			e := newEnv(t, g)
			x, w, b := e.f32(e.randn(c.n*c.in, 1, 0)), e.f32(e.randn(c.out*c.in, 0.3, 0)), e.f32(e.randn(c.out, 0.1, 0))
			lab := make([]int32, c.n)
			for i := range lab {
				lab[i] = int32(i * 7 % c.out)
			}
			labels := e.i32(lab)
			logits, dlogits := e.garbage(c.n*c.out), e.garbage(c.n*c.out)
			sum, correct := e.f32([]float32{1.5}), e.f32([]float32{2})
			dw, db := e.garbage(c.out*c.in), e.garbage(c.out)
			var dx, pa, pmask pair
			if c.dx {
				dx = e.garbage(c.n * c.in)
				pa = e.f32(e.randn(c.n*c.in, 0.5, 0.5))
				if c.act == kernels.ReLU || c.act == kernels.Identity {
					pa = e.f32(e.randn(c.n*c.in, 1, 0))
				}
				if c.mask {
					pmask = e.f32(e.randn(c.n*c.in, 1, 0))
				}
			}
			e.run("DenseLoss", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				opt := func(q pair) kernels.Buffer {
					if q.g == nil {
						return nil
					}
					return p(q)
				}
				return d.DenseLoss(c.loss, c.n, c.in, c.out, p(x), p(w), p(b), p(logits), p(labels), p(dlogits), p(sum), p(correct),
					p(dw), p(db), c.act, opt(pa), opt(pmask), opt(dx))
			})
			e.close("logits", logits, -1, 1e-4)
			e.close("dlogits", dlogits, -1, 1e-4)
			e.close("lossSum", sum, -1, 1e-4)
			e.close("correct", correct, -1, 0)
			e.close("dw", dw, -1, 1e-4)
			e.close("db", db, -1, 1e-4)
			if c.dx {
				e.close("dx", dx, -1, 1e-4)
			}
		})
	}
}

// TestGPUDenseGather checks DenseForwardGather (the first dense layer
// reading the data set through the permutation) against the CPU device:
// the gathered input and labels, and the layer's outputs.
func TestGPUDenseGather(t *testing.T) {
	e := newEnv(t, gpu(t))
	const rows, in, out, n = 50, 40, 21, 19
	px := make([]uint8, rows*in)
	for i := range px {
		px[i] = uint8(i * 53 % 256)
	}
	lab := make([]uint8, rows)
	for i := range lab {
		lab[i] = uint8(i * 3 % 10)
	}
	perm := make([]int32, rows)
	for i := range perm {
		perm[i] = int32((i*31 + 7) % rows)
	}
	data, labels, pm := e.u8(px), e.u8(lab), e.i32(perm)
	ctr := e.i32([]int32{23, 5, 0})
	x, bl := e.garbage(n*in), e.i32(make([]int32, n))
	w, b := e.f32(e.randn(out*in, 0.2, 0)), e.f32(e.randn(out, 0.1, 0))
	a, mask, y := e.garbage(n*out), e.garbage(n*out), e.garbage(n*out)
	e.run("DenseForwardGather", func(d kernels.Device, p func(pair) kernels.Buffer) error {
		return d.DenseForwardGather(n, in, out, p(data), p(labels), p(pm), p(ctr), 0.1307, 0.3081, p(x), p(bl),
			kernels.ReLU, 0.3, 5, 1, p(w), p(b), p(a), p(mask), p(y))
	})
	e.close("x", x, -1, 0)
	e.close("a", a, -1, 1e-4)
	e.close("mask", mask, -1, 0)
	e.close("y", y, -1, 1e-4)
	gv, cv := make([]int32, n), make([]int32, n)
	if err := e.g.Download(gv, bl.g); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Download(cv, bl.c); err != nil {
		t.Fatal(err)
	}
	for i := range gv {
		if gv[i] != cv[i] || cv[i] != int32(lab[perm[23+i]]) {
			t.Fatalf("labels: GPU %v, CPU %v", gv, cv)
		}
	}
}

// TestGPUActPool checks ActPoolForward and PoolActBackward against the CPU
// device, on even and odd sizes (a trailing odd row or column is in no
// window) and with ties (ReLU's zeros).
func TestGPUActPool(t *testing.T) {
	g := gpu(t)
	for _, c := range []struct {
		n, ch, h, w int
		act         kernels.Activation
	}{
		{3, 4, 14, 14, kernels.ReLU},
		{2, 3, 7, 9, kernels.Tanh},
		{2, 2, 6, 5, kernels.Sigmoid},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d-%v", c.n, c.ch, c.h, c.w, c.act), func(t *testing.T) {
			e := newEnv(t, g)
			in, out := c.n*c.ch*c.h*c.w, c.n*c.ch*(c.h/2)*(c.w/2)
			x := e.f32(e.randn(in, 1, 0))
			y, pooled := e.garbage(in), e.garbage(out)
			dp, dx := e.f32(e.randn(out, 1, 0)), e.garbage(in)
			gp, err := g.NewMaxPool(c.ch, c.h, c.w, c.n)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := cpuDev().NewMaxPool(c.ch, c.h, c.w, c.n)
			if err != nil {
				t.Fatal(err)
			}
			e.run("act+pool", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				pool := cp
				if d == e.g {
					pool = gp
				}
				if err := d.ActPoolForward(c.act, pool, c.n, p(x), p(y), p(pooled)); err != nil {
					return err
				}
				return d.PoolActBackward(c.act, pool, c.n, p(y), p(dp), p(dx))
			})
			e.close("y", y, -1, 0)
			e.close("pooled", pooled, -1, 0)
			e.close("dx", dx, -1, 1e-6)
		})
	}
}

// TestGPUBNActPool checks BNActPoolForward (batch statistics, running
// averages, then the normalised, activated and pooled output) against the
// CPU device.
func TestGPUBNActPool(t *testing.T) {
	g := gpu(t)
	const n, ch, h, w = 5, 4, 14, 14
	e := newEnv(t, g)
	in, out := n*ch*h*w, n*ch*(h/2)*(w/2)
	x := e.f32(e.randn(in, 2, 0.5))
	gamma, beta := e.f32(e.randn(ch, 0.2, 1)), e.f32(e.randn(ch, 0.2, 0))
	rm, rv := e.f32(e.randn(ch, 0.1, 0)), e.f32(e.randn(ch, 0.1, 1))
	sm, si := e.garbage(ch), e.garbage(ch)
	bnY, y, pooled := e.garbage(in), e.garbage(in), e.garbage(out)
	gb, err := g.NewBatchNorm(ch, h*w, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cpuDev().NewBatchNorm(ch, h*w, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := g.NewMaxPool(ch, h, w, n)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cpuDev().NewMaxPool(ch, h, w, n)
	if err != nil {
		t.Fatal(err)
	}
	e.run("bn+act+pool", func(d kernels.Device, p func(pair) kernels.Buffer) error {
		bn, pool := cb, cp
		if d == e.g {
			bn, pool = gb, gp
		}
		return d.BNActPoolForward(bn, kernels.ReLU, pool, n, p(x), p(gamma), p(beta), p(rm), p(rv), p(sm), p(si), p(bnY), p(y), p(pooled))
	})
	e.close("saveMean", sm, -1, 1e-5)
	e.close("saveInvStd", si, -1, 1e-5)
	e.close("runMean", rm, -1, 1e-5)
	e.close("runVar", rv, -1, 1e-5)
	e.close("actY", y, -1, 1e-5)
	e.close("pooled", pooled, -1, 1e-5)
}

// TestGPUConvBias checks ConvBiasForward and ConvBiasBackward (the direct
// convolution kernels) against the CPU device, with and without the input
// gradient, for the study's shapes and a 5×5 kernel on an odd size.
func TestGPUConvBias(t *testing.T) {
	g := gpu(t)
	for _, c := range []struct {
		s  kernels.ConvShape
		n  int
		dx bool
	}{
		{kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, 3, false},
		{kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}, 5, true},
		{kernels.ConvShape{C: 2, H: 7, W: 9, K: 5, OutC: 3}, 2, true},
	} {
		t.Run(fmt.Sprintf("%+v-n%d-dx%v", c.s, c.n, c.dx), func(t *testing.T) {
			e := newEnv(t, g)
			s := c.s
			in, out, wn := c.n*s.C*s.H*s.W, c.n*s.OutC*s.H*s.W, s.OutC*s.C*s.K*s.K
			x, w, b := e.f32(e.randn(in, 1, 0)), e.f32(e.randn(wn, 0.3, 0)), e.f32(e.randn(s.OutC, 0.1, 0))
			y, dy := e.garbage(out), e.f32(e.randn(out, 1, 0))
			dw, db := e.garbage(wn), e.garbage(s.OutC)
			var dx pair
			if c.dx {
				dx = e.garbage(in)
			}
			gc, err := g.NewConv2D(s, c.n)
			if err != nil {
				t.Fatal(err)
			}
			cc, err := cpuDev().NewConv2D(s, c.n)
			if err != nil {
				t.Fatal(err)
			}
			e.run("conv+bias", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				plan := cc
				if d == e.g {
					plan = gc
				}
				var dxb kernels.Buffer
				if c.dx {
					dxb = p(dx)
				}
				if err := d.ConvBiasForward(s, plan, c.n, p(x), p(w), p(b), p(y)); err != nil {
					return err
				}
				return d.ConvBiasBackward(s, plan, c.n, p(x), p(dy), p(w), p(dw), p(db), dxb)
			})
			e.close("y", y, -1, 1e-4)
			e.close("dw", dw, -1, 1e-4)
			e.close("db", db, -1, 1e-4)
			if c.dx {
				e.close("dx", dx, -1, 1e-4)
			}
		})
	}
}

// TestGPUPoolActBN checks PoolActBNBackward (the pooled gradient through
// the pool, the activation and the batch norm, from saved statistics)
// against the CPU device.
func TestGPUPoolActBN(t *testing.T) {
	g := gpu(t)
	const n, ch, h, w = 5, 4, 14, 14
	e := newEnv(t, g)
	in, out := n*ch*h*w, n*ch*(h/2)*(w/2)
	x, y := e.f32(e.randn(in, 2, 0.5)), e.f32(e.randn(in, 1, 0))
	dp := e.f32(e.randn(out, 1, 0))
	gamma := e.f32(e.randn(ch, 0.2, 1))
	sm, si := e.f32(e.randn(ch, 0.1, 0.5)), e.f32(e.randn(ch, 0.1, 0.7))
	gr, dx, dg, db := e.garbage(in), e.garbage(in), e.garbage(ch), e.garbage(ch)
	gb, err := g.NewBatchNorm(ch, h*w, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cpuDev().NewBatchNorm(ch, h*w, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := g.NewMaxPool(ch, h, w, n)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cpuDev().NewMaxPool(ch, h, w, n)
	if err != nil {
		t.Fatal(err)
	}
	e.run("pool+act+bn backward", func(d kernels.Device, p func(pair) kernels.Buffer) error {
		bn, pool := cb, cp
		if d == e.g {
			bn, pool = gb, gp
		}
		return d.PoolActBNBackward(bn, kernels.ReLU, pool, n, p(y), p(dp), p(gr), p(x), p(gamma), p(sm), p(si), p(dx), p(dg), p(db))
	})
	e.close("g", gr, -1, 0)
	e.close("dx", dx, -1, 1e-5)
	e.close("dgamma", dg, -1, 1e-5)
	e.close("dbeta", db, -1, 1e-5)
}

// TestGPUConvBNActPool checks ConvBNActPoolForward (a conv block's forward
// in two launches) against the CPU device.
func TestGPUConvBNActPool(t *testing.T) {
	g := gpu(t)
	s := kernels.ConvShape{C: 2, H: 14, W: 14, K: 3, OutC: 4}
	const n = 5
	e := newEnv(t, g)
	in, mid, out, wn := n*s.C*s.H*s.W, n*s.OutC*s.H*s.W, n*s.OutC*(s.H/2)*(s.W/2), s.OutC*s.C*s.K*s.K
	x, w, b := e.f32(e.randn(in, 1, 0)), e.f32(e.randn(wn, 0.3, 0)), e.f32(e.randn(s.OutC, 0.1, 0))
	gamma, beta := e.f32(e.randn(s.OutC, 0.2, 1)), e.f32(e.randn(s.OutC, 0.2, 0))
	rm, rv := e.f32(e.randn(s.OutC, 0.1, 0)), e.f32(e.randn(s.OutC, 0.1, 1))
	sm, si := e.garbage(s.OutC), e.garbage(s.OutC)
	convY, bnY, y, pooled := e.garbage(mid), e.garbage(mid), e.garbage(mid), e.garbage(out)
	gc, err := g.NewConv2D(s, n)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cpuDev().NewConv2D(s, n)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := g.NewBatchNorm(s.OutC, s.H*s.W, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cpuDev().NewBatchNorm(s.OutC, s.H*s.W, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := g.NewMaxPool(s.OutC, s.H, s.W, n)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cpuDev().NewMaxPool(s.OutC, s.H, s.W, n)
	if err != nil {
		t.Fatal(err)
	}
	e.run("conv+bn+act+pool", func(d kernels.Device, p func(pair) kernels.Buffer) error {
		conv, bn, pool := cc, cb, cp
		if d == e.g {
			conv, bn, pool = gc, gb, gp
		}
		return d.ConvBNActPoolForward(s, conv, bn, kernels.Tanh, pool, n, p(x), p(w), p(b), p(convY), p(gamma), p(beta), p(rm), p(rv),
			p(sm), p(si), p(bnY), p(y), p(pooled))
	})
	e.close("convY", convY, -1, 1e-5)
	e.close("saveMean", sm, -1, 1e-5)
	e.close("saveInvStd", si, -1, 1e-5)
	e.close("runMean", rm, -1, 1e-5)
	e.close("runVar", rv, -1, 1e-5)
	e.close("actY", y, -1, 1e-5)
	e.close("pooled", pooled, -1, 1e-5)
}

// TestGPUConvBNActPoolGather checks ConvBNActPoolForwardGather (the first
// conv block reading its batch from the data set) against the CPU device.
func TestGPUConvBNActPoolGather(t *testing.T) {
	g := gpu(t)
	s := kernels.ConvShape{C: 2, H: 6, W: 8, K: 3, OutC: 3}
	const n, rows = 5, 12
	e := newEnv(t, g)
	d := s.C * s.H * s.W
	px := make([]uint8, rows*d)
	for i := range px {
		px[i] = uint8(i * 41 % 256)
	}
	lab := make([]uint8, rows)
	for i := range lab {
		lab[i] = uint8(i % 10)
	}
	perm := make([]int32, rows)
	for i := range perm {
		perm[i] = int32((i*5 + 2) % rows)
	}
	data, labels, pm, ctr := e.u8(px), e.u8(lab), e.i32(perm), e.i32([]int32{6, 3, 0})
	mid, out, wn := n*s.OutC*s.H*s.W, n*s.OutC*(s.H/2)*(s.W/2), s.OutC*s.C*s.K*s.K
	x, bl := e.garbage(n*d), e.i32(make([]int32, n))
	w, b := e.f32(e.randn(wn, 0.3, 0)), e.f32(e.randn(s.OutC, 0.1, 0))
	gamma, beta := e.f32(e.randn(s.OutC, 0.2, 1)), e.f32(e.randn(s.OutC, 0.2, 0))
	rm, rv := e.f32(e.randn(s.OutC, 0.1, 0)), e.f32(e.randn(s.OutC, 0.1, 1))
	sm, si := e.garbage(s.OutC), e.garbage(s.OutC)
	convY, bnY, y, pooled := e.garbage(mid), e.garbage(mid), e.garbage(mid), e.garbage(out)
	gc, _ := g.NewConv2D(s, n)
	cc, _ := cpuDev().NewConv2D(s, n)
	gb, _ := g.NewBatchNorm(s.OutC, s.H*s.W, n, 1e-5, 0.1)
	cb, _ := cpuDev().NewBatchNorm(s.OutC, s.H*s.W, n, 1e-5, 0.1)
	gp, _ := g.NewMaxPool(s.OutC, s.H, s.W, n)
	cp, _ := cpuDev().NewMaxPool(s.OutC, s.H, s.W, n)
	if gc == nil || cc == nil || gb == nil || cb == nil || gp == nil || cp == nil {
		t.Fatal("planning the conv block failed")
	}
	e.run("gather+conv+bn+act+pool", func(dev kernels.Device, p func(pair) kernels.Buffer) error {
		conv, bn, pool := cc, cb, cp
		if dev == e.g {
			conv, bn, pool = gc, gb, gp
		}
		return dev.ConvBNActPoolForwardGather(p(data), p(labels), p(pm), p(ctr), 0.1307, 0.3081, p(bl), s, conv, bn, kernels.ReLU, pool, n,
			p(x), p(w), p(b), p(convY), p(gamma), p(beta), p(rm), p(rv), p(sm), p(si), p(bnY), p(y), p(pooled))
	})
	e.close("x", x, -1, 0)
	e.close("convY", convY, -1, 1e-5)
	e.close("saveMean", sm, -1, 1e-5)
	e.close("runVar", rv, -1, 1e-5)
	e.close("actY", y, -1, 1e-5)
	e.close("pooled", pooled, -1, 1e-5)
	gv, cv := make([]int32, n), make([]int32, n)
	if err := e.g.Download(gv, bl.g); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Download(cv, bl.c); err != nil {
		t.Fatal(err)
	}
	for i := range gv {
		if gv[i] != cv[i] || cv[i] != int32(lab[perm[6+i]]) {
			t.Fatalf("labels: GPU %v, CPU %v", gv, cv)
		}
	}
}

// TestGPUPoolActBNConvBackward checks a conv block's whole backward in one
// op (PoolActBNConvBackward: the pool, activation and batch norm's
// backward, then the convolution's, whose output gradient the GPU computes
// where it reads it) against the CPU device, which composes
// PoolActBNBackward and ConvBiasBackward, with and without the input
// gradient.
func TestGPUPoolActBNConvBackward(t *testing.T) {
	g := gpu(t)
	const n, c, ch, h, w = 5, 3, 4, 14, 14
	s := kernels.ConvShape{C: c, H: h, W: w, K: 3, OutC: ch}
	for _, withDx := range []bool{true, false} {
		t.Run(fmt.Sprintf("dx%v", withDx), func(t *testing.T) {
			e := newEnv(t, g)
			in, out := n*ch*h*w, n*ch*(h/2)*(w/2)
			convY, y := e.f32(e.randn(in, 2, 0.5)), e.f32(e.randn(in, 1, 0))
			dp := e.f32(e.randn(out, 1, 0))
			gamma := e.f32(e.randn(ch, 0.2, 1))
			sm, si := e.f32(e.randn(ch, 0.1, 0.5)), e.f32(e.randn(ch, 0.1, 0.7))
			gr, dconv, dg, db := e.garbage(in), e.garbage(in), e.garbage(ch), e.garbage(ch)
			x, wt := e.f32(e.randn(n*c*h*w, 1, 0)), e.f32(e.randn(ch*c*9, 0.3, 0))
			dw, dbias := e.garbage(ch*c*9), e.garbage(ch)
			var dx pair
			if withDx {
				dx = e.garbage(n * c * h * w)
			}
			var plans [2]struct {
				bn   kernels.BatchNorm
				pool kernels.MaxPool
				conv kernels.Conv2D
			}
			for i, d := range []kernels.Device{g, cpuDev()} {
				var err error
				if plans[i].bn, err = d.NewBatchNorm(ch, h*w, n, 1e-5, 0.1); err != nil {
					t.Fatal(err)
				}
				if plans[i].pool, err = d.NewMaxPool(ch, h, w, n); err != nil {
					t.Fatal(err)
				}
				if plans[i].conv, err = d.NewConv2D(s, n); err != nil {
					t.Fatal(err)
				}
			}
			e.run("conv block backward", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				pl := plans[1]
				if d == e.g {
					pl = plans[0]
				}
				var dxb kernels.Buffer
				if withDx {
					dxb = p(dx)
				}
				return d.PoolActBNConvBackward(pl.bn, kernels.ReLU, pl.pool, n, p(y), p(dp), p(gr), p(convY), p(gamma), p(sm), p(si),
					p(dconv), p(dg), p(db), s, pl.conv, p(x), p(wt), p(dw), p(dbias), dxb)
			})
			e.close("g", gr, -1, 0)
			e.close("dgamma", dg, -1, 1e-5)
			e.close("dbeta", db, -1, 1e-5)
			e.close("dw", dw, -1, 1e-4)
			e.close("db", dbias, -1, 1e-4)
			if withDx {
				e.close("dx", dx, -1, 1e-4)
			}
		})
	}
}
