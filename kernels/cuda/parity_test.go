package cuda_test

import (
	"fmt"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cuda"
)

// Parity: every op on the GPU (TF32 off) against kernels/cpu on fresh
// random inputs, relative error <= 1e-4, for a full and a partial batch.

const tol = 1e-4

type picker = func(pair) kernels.Buffer

func TestGPUName(t *testing.T) {
	d := gpu(t)
	t.Logf("%s\n%s", d.Name(), cuda.Probe())
	if n := d.Name(); !strings.HasPrefix(n, "cuda:0 ") || !strings.Contains(n, "(sm_") {
		t.Errorf("Name() = %q, want \"cuda:0 <GPU name> (sm_XY)\"", n)
	}
}

func TestGPUBuffers(t *testing.T) {
	d := gpu(t)
	before := d.Allocated()
	f, err := d.Alloc(kernels.F32, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Allocated() - before; got != 4000 {
		t.Errorf("Allocated grew by %d, want 4000", got)
	}
	z := make([]float32, 1000)
	for i := range z {
		z[i] = -1
	}
	if err := d.Download(z, f); err != nil {
		t.Fatal(err)
	}
	for i, v := range z {
		if v != 0 {
			t.Fatalf("Alloc not zeroed: element %d = %v", i, v)
		}
	}
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(i) * 0.5
	}
	if err := d.Upload(f, src[:600]); err != nil {
		t.Fatal(err)
	}
	v := d.View(f, 100, 50)
	got := make([]float32, 50)
	if err := d.Download(got, v); err != nil {
		t.Fatal(err)
	}
	for i, x := range got {
		if x != src[100+i] {
			t.Fatalf("View element %d = %v, want %v", i, x, src[100+i])
		}
	}
	if err := d.Fill(d.View(f, 10, 5), 2.5); err != nil {
		t.Fatal(err)
	}
	g, _ := d.Alloc(kernels.F32, 1000)
	if err := d.Copy(g, f); err != nil {
		t.Fatal(err)
	}
	all := make([]float32, 1000)
	if err := d.Download(all, g); err != nil {
		t.Fatal(err)
	}
	for i, x := range all {
		want := float32(0)
		if i < 600 {
			want = src[i]
		}
		if i >= 10 && i < 15 {
			want = 2.5
		}
		if x != want {
			t.Fatalf("after Upload/Fill/Copy element %d = %v, want %v", i, x, want)
		}
	}
	// Other types round-trip.
	u, _ := d.Alloc(kernels.U8, 7)
	if err := d.Upload(u, []uint8{1, 2, 3, 250, 5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	ub := make([]uint8, 7)
	if err := d.Download(ub, u); err != nil || ub[3] != 250 || ub[6] != 7 {
		t.Fatalf("U8 round trip: %v %v", ub, err)
	}
	i32, _ := d.Alloc(kernels.I32, 3)
	if err := d.Upload(i32, []int32{-5, 7, 1 << 30}); err != nil {
		t.Fatal(err)
	}
	ib := make([]int32, 2) // the view's length: a longer slice is an error (the device contract)
	if err := d.Download(ib, d.View(i32, 1, 2)); err != nil || ib[0] != 7 || ib[1] != 1<<30 {
		t.Fatalf("I32 round trip: %v %v", ib, err)
	}
	// Misuse is an error, not a crash.
	if err := d.Upload(f, []int32{1}); err == nil {
		t.Error("Upload of []int32 into an F32 buffer succeeded")
	}
	if err := d.Upload(u, make([]uint8, 8)); err == nil {
		t.Error("Upload of 8 bytes into 7 succeeded")
	}
	if err := d.Copy(u, f); err == nil {
		t.Error("Copy between types succeeded")
	}
	if err := d.Gemm(false, false, 10, 10, 10, 1, f, f, 0, u); err == nil {
		t.Error("Gemm into a U8 buffer succeeded")
	}
	for _, b := range []kernels.Buffer{f, g, u, i32} {
		d.Free(b)
	}
	if got := d.Allocated(); got != before {
		t.Errorf("Allocated = %d after Free, want %d", got, before)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestGPUGemm(t *testing.T) {
	e := newEnv(t, gpu(t))
	for _, s := range []struct{ m, n, k int }{{64, 128, 784}, {37, 10, 64}, {5, 7, 1}, {1, 1, 300}, {128, 64, 37}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					name := fmt.Sprintf("m%d n%d k%d tA %v tB %v beta %v", s.m, s.n, s.k, ta, tb, beta)
					A, B := e.f32(e.randn(s.m*s.k, 1, 0)), e.f32(e.randn(s.k*s.n, 1, 0))
					C := e.f32(e.randn(s.m*s.n, 1, 0))
					e.run(name, func(d kernels.Device, b picker) error {
						return d.Gemm(ta, tb, s.m, s.n, s.k, 0.7, b(A), b(B), beta, b(C))
					})
					e.close(name, C, -1, tol)
				}
			}
		}
	}
}

func TestGPUConv(t *testing.T) {
	e := newEnv(t, gpu(t))
	const maxN = 64
	shapes := []kernels.ConvShape{
		{C: 1, H: 28, W: 28, K: 3, OutC: 4},
		{C: 4, H: 14, W: 14, K: 3, OutC: 4},
		{C: 1, H: 28, W: 28, K: 5, OutC: 4},
		{C: 3, H: 7, W: 9, K: 5, OutC: 2},
	}
	ns := []int{maxN, 37}
	if fakeGPU() {
		ns = []int{maxN, 5}
	}
	for _, s := range shapes {
		gp, err := e.g.NewConv2D(s, maxN)
		if err != nil {
			t.Fatalf("GPU NewConv2D(%+v): %v", s, err)
		}
		cp, err := e.c.NewConv2D(s, maxN)
		if err != nil {
			t.Fatalf("CPU NewConv2D(%+v): %v", s, err)
		}
		plan := func(d kernels.Device) kernels.Conv2D {
			if d == e.g {
				return gp
			}
			return cp
		}
		in, out, wn := s.C*s.H*s.W, s.OutC*s.H*s.W, s.OutC*s.C*s.K*s.K
		for _, n := range ns {
			name := fmt.Sprintf("%+v n=%d", s, n)
			x, w := e.f32(e.randn(maxN*in, 1, 0)), e.f32(e.randn(wn, 0.5, 0))
			dy := e.f32(e.randn(maxN*out, 1, 0))
			y, dx, dw := e.garbage(maxN*out), e.garbage(maxN*in), e.garbage(wn)
			if n != maxN {
				// Weights as parameters inside a flat buffer: views that
				// are not 16-byte aligned.
				name += " misaligned weights"
				wbig := e.f32(append(make([]float32, 3), e.randn(wn, 0.5, 0)...))
				dwbig := e.garbage(wn + 1)
				w = pair{e.g.View(wbig.g, 3, wn), e.c.View(wbig.c, 3, wn)}
				dw = pair{e.g.View(dwbig.g, 1, wn), e.c.View(dwbig.c, 1, wn)}
			}
			e.run(name+" forward", func(d kernels.Device, b picker) error { return plan(d).Forward(n, b(x), b(w), b(y)) })
			e.close(name+" forward", y, n*out, tol)
			e.run(name+" backward data", func(d kernels.Device, b picker) error { return plan(d).BackwardData(n, b(dy), b(w), b(dx)) })
			e.close(name+" backward data", dx, n*in, tol)
			e.run(name+" backward filter", func(d kernels.Device, b picker) error { return plan(d).BackwardFilter(n, b(x), b(dy), b(dw)) })
			e.close(name+" backward filter", dw, -1, tol)
		}
	}
}

func testBatchNorm(t *testing.T, g *cuda.Device) {
	e := newEnv(t, g)
	const maxN = 64
	for _, s := range []struct{ ch, sp int }{{4, 784}, {16, 1}, {3, 49}} {
		gb, err := e.g.NewBatchNorm(s.ch, s.sp, maxN, 1e-5, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := e.c.NewBatchNorm(s.ch, s.sp, maxN, 1e-5, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		plan := func(d kernels.Device) kernels.BatchNorm {
			if d == e.g {
				return gb
			}
			return cb
		}
		for _, n := range []int{maxN, 37} {
			name := fmt.Sprintf("ch=%d spatial=%d n=%d", s.ch, s.sp, n)
			count := n * s.ch * s.sp
			x := e.f32(e.randn(maxN*s.ch*s.sp, 2, 3)) // mean far from 0: the variance must not cancel
			gamma, beta := e.f32(e.randn(s.ch, 0.5, 1)), e.f32(e.randn(s.ch, 0.5, 0))
			rm, rv := e.f32(e.randn(s.ch, 0.1, 0)), e.f32(e.randn(s.ch, 0.1, 1))
			y, sm, si := e.garbage(maxN*s.ch*s.sp), e.garbage(s.ch), e.garbage(s.ch)
			e.run(name+" train", func(d kernels.Device, b picker) error {
				return plan(d).ForwardTrain(n, b(x), b(gamma), b(beta), b(rm), b(rv), b(y), b(sm), b(si))
			})
			e.close(name+" train y", y, count, tol)
			e.close(name+" saveMean", sm, -1, tol)
			e.close(name+" saveInvStd", si, -1, tol)
			e.close(name+" runMean", rm, -1, tol)
			e.close(name+" runVar (unbiased)", rv, -1, tol)
			yi := e.garbage(maxN * s.ch * s.sp)
			e.run(name+" infer", func(d kernels.Device, b picker) error {
				return plan(d).ForwardInfer(n, b(x), b(gamma), b(beta), b(rm), b(rv), b(yi))
			})
			e.close(name+" infer y", yi, count, tol)
			dy := e.f32(e.randn(maxN*s.ch*s.sp, 1, 0.2))
			dx, dg, db := e.garbage(maxN*s.ch*s.sp), e.garbage(s.ch), e.garbage(s.ch)
			e.run(name+" backward", func(d kernels.Device, b picker) error {
				return plan(d).Backward(n, b(x), b(dy), b(gamma), b(sm), b(si), b(dx), b(dg), b(db))
			})
			e.close(name+" dx", dx, count, tol)
			e.close(name+" dgamma", dg, -1, tol)
			e.close(name+" dbeta", db, -1, tol)
		}
	}
}

func TestGPUBatchNorm(t *testing.T) { testBatchNorm(t, gpu(t)) }

// TestGPUBatchNormCuDNN checks cuDNN's batch norm (Options.CuDNNBatchNorm)
// against the same CPU reference: unbiased running variance and
// saveInvStd = 1/sqrt(var+eps).
func TestGPUBatchNormCuDNN(t *testing.T) {
	testBatchNorm(t, gpuWith(t, cuda.Options{CuDNNBatchNorm: true}))
}

func TestGPUMaxPool(t *testing.T) {
	e := newEnv(t, gpu(t))
	const maxN, ch = 8, 3
	for _, s := range []struct{ h, w int }{{28, 28}, {7, 9}, {14, 14}} {
		gp, _ := e.g.NewMaxPool(ch, s.h, s.w, maxN)
		cp, _ := e.c.NewMaxPool(ch, s.h, s.w, maxN)
		plan := func(d kernels.Device) kernels.MaxPool {
			if d == e.g {
				return gp
			}
			return cp
		}
		for _, n := range []int{maxN, 3} {
			name := fmt.Sprintf("%dx%d n=%d", s.h, s.w, n)
			in, out := maxN*ch*s.h*s.w, maxN*ch*(s.h/2)*(s.w/2)
			v := make([]float32, in)
			for i := range v {
				v[i] = float32(e.rng.Intn(3)) // many ties
			}
			x := e.f32(v)
			y := e.garbage(out)
			e.run(name+" forward", func(d kernels.Device, b picker) error { return plan(d).Forward(n, b(x), b(y)) })
			e.exact(name+" forward", y)
			dy := e.f32(e.randn(out, 1, 0))
			dx := e.garbage(in)
			e.run(name+" backward", func(d kernels.Device, b picker) error { return plan(d).Backward(n, b(x), b(y), b(dy), b(dx)) })
			g, c := e.download(e.g, dx.g)[:n*ch*s.h*s.w], e.download(e.c, dx.c)[:n*ch*s.h*s.w]
			for i := range g {
				if g[i] != c[i] {
					t.Fatalf("%s backward: dx[%d] GPU %v, CPU %v (ties must go to the first maximum)", name, i, g[i], c[i])
				}
			}
		}
	}
}

func TestGPUActivations(t *testing.T) {
	e := newEnv(t, gpu(t))
	const n = 3000
	for _, act := range []kernels.Activation{kernels.ReLU, kernels.Sigmoid, kernels.Tanh, kernels.Identity} {
		for _, count := range []int{n, 1234} {
			name := fmt.Sprintf("%v count=%d", act, count)
			x := e.f32(e.randn(n, 3, 0))
			y := e.garbage(n)
			e.run(name, func(d kernels.Device, b picker) error { return d.ActForward(act, count, b(x), b(y)) })
			e.close(name+" forward", y, count, tol)
			dy, dx := e.f32(e.randn(n, 1, 0)), e.garbage(n)
			e.run(name, func(d kernels.Device, b picker) error { return d.ActBackward(act, count, b(x), b(y), b(dy), b(dx)) })
			e.close(name+" backward", dx, count, tol)
		}
	}
}

func TestGPUDropout(t *testing.T) {
	e := newEnv(t, gpu(t))
	const n = 5000
	for _, p := range []float32{0.3, 0, 0.5, 1} {
		for _, count := range []int{n, 777} {
			seed, step := uint64(12345), uint64(count)*3+uint64(p*10)
			name := fmt.Sprintf("p=%v count=%d", p, count)
			x := e.f32(e.randn(n, 1, 0))
			mask, y := e.garbage(n), e.garbage(n)
			e.run(name, func(d kernels.Device, b picker) error {
				return d.DropoutForward(count, p, seed, step, b(x), b(mask), b(y))
			})
			gm := e.download(e.g, mask.g)[:count]
			cm := e.download(e.c, mask.c)[:count]
			kept := 0
			for i := range gm {
				// The contract: kernels.DropoutUniform, whatever the CPU device does.
				keep := kernels.DropoutUniform(seed, step, i) >= p && p < 1
				if (gm[i] != 0) != keep {
					t.Fatalf("%s: GPU mask[%d] = %v, kernels.DropoutUniform says keep=%v", name, i, gm[i], keep)
				}
				if gm[i] != cm[i] {
					t.Fatalf("%s: mask[%d] GPU %v, CPU %v", name, i, gm[i], cm[i])
				}
				if keep {
					kept++
				}
			}
			if p == 0.3 && count == n && (kept < 3300 || kept > 3700) {
				t.Errorf("%s: kept %d of %d", name, kept, count)
			}
			e.close(name+" y", y, count, tol)
			g, z := e.f32(e.randn(n, 1, 0)), e.garbage(n)
			e.run(name+" Mul", func(d kernels.Device, b picker) error { return d.Mul(count, b(g), b(mask), b(z)) })
			e.close(name+" Mul", z, count, tol)
		}
	}
}

func TestGPUGather(t *testing.T) {
	e := newEnv(t, gpu(t))
	const rows, dim = 200, 784
	data := make([]uint8, rows*dim)
	for i := range data {
		data[i] = uint8(e.rng.Intn(256))
	}
	labels := make([]uint8, rows)
	for i := range labels {
		labels[i] = uint8(e.rng.Intn(10))
	}
	perm := make([]int32, rows)
	for i, v := range e.rng.Perm(rows) {
		perm[i] = int32(v)
	}
	D, L, P := e.u8(data), e.u8(labels), e.i32(perm)
	for _, n := range []int{64, 37} {
		off := 64 // a slice of the permutation, as the training loop does
		dst := e.garbage(64 * dim)
		idx := pair{e.g.View(P.g, off, n), e.c.View(P.c, off, n)}
		e.run("GatherImages", func(d kernels.Device, b picker) error {
			return d.GatherImages(n, dim, b(D), b(idx), b(dst), 0.1307, 0.3081)
		})
		g, c := e.download(e.g, dst.g)[:n*dim], e.download(e.c, dst.c)[:n*dim]
		for i := range g {
			if g[i] != c[i] {
				t.Fatalf("GatherImages n=%d: element %d GPU %v, CPU %v (should be bit-identical)", n, i, g[i], c[i])
			}
		}
		lab := pair{e.alloc(e.g, kernels.I32, 64), e.alloc(e.c, kernels.I32, 64)}
		e.run("GatherLabels", func(d kernels.Device, b picker) error { return d.GatherLabels(n, b(L), b(idx), b(lab)) })
		gl, cl := make([]int32, n), make([]int32, n)
		if err := e.g.Download(gl, lab.g); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Download(cl, lab.c); err != nil {
			t.Fatal(err)
		}
		for i := range gl {
			if gl[i] != cl[i] || gl[i] != int32(labels[perm[off+i]]) {
				t.Fatalf("GatherLabels n=%d: %d: GPU %d, CPU %d, want %d", n, i, gl[i], cl[i], labels[perm[off+i]])
			}
		}
	}
}

func TestGPUBias(t *testing.T) {
	e := newEnv(t, gpu(t))
	for _, s := range []struct{ n, ch, sp int }{{64, 4, 784}, {37, 128, 1}, {37, 10, 1}, {5, 3, 49}} {
		name := fmt.Sprintf("n=%d ch=%d spatial=%d", s.n, s.ch, s.sp)
		count := s.n * s.ch * s.sp
		y, bias := e.f32(e.randn(count, 1, 0)), e.f32(e.randn(s.ch, 1, 0))
		e.run(name+" AddBias", func(d kernels.Device, b picker) error { return d.AddBias(s.n, s.ch, s.sp, b(y), b(bias)) })
		e.close(name+" AddBias", y, -1, tol)
		dy, db := e.f32(e.randn(count, 1, 0.1)), e.garbage(s.ch)
		e.run(name+" BiasGrad", func(d kernels.Device, b picker) error { return d.BiasGrad(s.n, s.ch, s.sp, b(dy), b(db)) })
		e.close(name+" BiasGrad", db, -1, tol)
	}
}

func TestGPULoss(t *testing.T) {
	e := newEnv(t, gpu(t))
	const classes = 10
	for _, loss := range []kernels.Loss{kernels.CrossEntropy, kernels.NLL, kernels.MSE} {
		for _, n := range []int{64, 37, 300} {
			for _, grad := range []bool{true, false} {
				name := fmt.Sprintf("%v n=%d grad=%v", loss, n, grad)
				z := e.f32(e.randn(n*classes, 4, 0))
				lab := make([]int32, n)
				for i := range lab {
					lab[i] = int32(e.rng.Intn(classes))
				}
				L := e.i32(lab)
				sum, cor := e.f32([]float32{1.5}), e.f32([]float32{2})
				var dz pair
				if grad {
					dz = e.garbage(n * classes)
				}
				e.run(name, func(d kernels.Device, b picker) error {
					var g kernels.Buffer
					if grad {
						g = b(dz)
					}
					return d.LossForward(loss, n, classes, b(z), b(L), g, b(sum), b(cor))
				})
				e.close(name+" loss sum", sum, -1, tol)
				e.exact(name+" correct", cor)
				if grad {
					e.close(name+" dlogits", dz, -1, tol)
				}
			}
		}
	}
}

func TestGPUSoftmax(t *testing.T) {
	e := newEnv(t, gpu(t))
	for _, s := range []struct{ n, classes int }{{64, 10}, {37, 10}, {5, 1000}} {
		x, y := e.f32(e.randn(s.n*s.classes, 5, 1)), e.garbage(s.n*s.classes)
		e.run("Softmax", func(d kernels.Device, b picker) error { return d.Softmax(s.n, s.classes, b(x), b(y)) })
		e.close(fmt.Sprintf("Softmax n=%d classes=%d", s.n, s.classes), y, -1, tol)
	}
}

func TestGPUSGD(t *testing.T) {
	e := newEnv(t, gpu(t))
	const n = 10000
	for _, c := range []struct{ lr, mom, wd float32 }{{0.05, 0.9, 0}, {0.01, 0.9, 5e-4}, {0.1, 0, 1e-3}} {
		name := fmt.Sprintf("lr=%v momentum=%v wd=%v", c.lr, c.mom, c.wd)
		p, v := e.f32(e.randn(n, 1, 0)), e.zeros(n)
		for step := 0; step < 3; step++ {
			g := e.f32(e.randn(n, 1, 0))
			e.run(name, func(d kernels.Device, b picker) error {
				var vel kernels.Buffer
				if c.mom != 0 {
					vel = b(v)
				}
				return d.SGD(n-3, c.lr, c.mom, c.wd, b(p), b(g), vel)
			})
		}
		e.close(name+" params", p, -1, tol)
		if c.mom != 0 {
			e.close(name+" velocity", v, -1, tol)
		}
	}
}

func TestGPUAdam(t *testing.T) {
	e := newEnv(t, gpu(t))
	const n = 10000
	for _, wd := range []float32{0, 1e-2} {
		name := fmt.Sprintf("wd=%v", wd)
		p, m, v := e.f32(e.randn(n, 1, 0)), e.zeros(n), e.zeros(n)
		for step := 1; step <= 4; step++ {
			g := e.f32(e.randn(n, 1, 0))
			e.run(name, func(d kernels.Device, b picker) error {
				return d.Adam(n, 1e-3, 0.9, 0.999, 1e-8, wd, step, b(p), b(g), b(m), b(v))
			})
		}
		e.close(name+" params", p, -1, tol)
		e.close(name+" m", m, -1, tol)
		e.close(name+" v", v, -1, tol)
	}
}

// TestGPUStepAllocatesNothing runs the ops of a CNN training step and
// checks that, after a warm-up, they allocate neither Go memory nor device
// memory (Allocated stays put).
func TestGPUStepAllocatesNothing(t *testing.T) {
	d := gpu(t)
	const n, classes = 64, 10
	a := func(dt kernels.DType, k int) kernels.Buffer {
		b, err := d.Alloc(dt, k)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Free(b) })
		return b
	}
	data, labels, perm := a(kernels.U8, 128*784), a(kernels.U8, 128), a(kernels.I32, 128)
	x, lab := a(kernels.F32, n*784), a(kernels.I32, n)
	s := kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}
	cv, err := d.NewConv2D(s, n)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := d.NewBatchNorm(4, 784, n, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := d.NewMaxPool(4, 28, 28, n)
	if err != nil {
		t.Fatal(err)
	}
	w, cb, y := a(kernels.F32, 36), a(kernels.F32, 4), a(kernels.F32, n*4*784)
	g, be, rm, rv, sm, si := a(kernels.F32, 4), a(kernels.F32, 4), a(kernels.F32, 4), a(kernels.F32, 4), a(kernels.F32, 4), a(kernels.F32, 4)
	z, p := a(kernels.F32, n*4*784), a(kernels.F32, n*4*196)
	fw, logits, dl := a(kernels.F32, 784*classes), a(kernels.F32, n*classes), a(kernels.F32, n*classes)
	sum, cor := a(kernels.F32, 1), a(kernels.F32, 1)
	dp, dz, dy, dx, dw, dg, db := a(kernels.F32, n*4*196), a(kernels.F32, n*4*784), a(kernels.F32, n*4*784), a(kernels.F32, n*784), a(kernels.F32, 36), a(kernels.F32, 4), a(kernels.F32, 4)
	mask := a(kernels.F32, n*4*196)
	params, grads, vel := a(kernels.F32, 10000), a(kernels.F32, 10000), a(kernels.F32, 10000)
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	d.Fill(g, 1)
	d.Fill(rv, 1)
	idx := d.View(perm, 0, n)
	step := func() {
		check(d.GatherImages(n, 784, data, idx, x, 0.1307, 0.3081))
		check(d.GatherLabels(n, labels, idx, lab))
		check(cv.Forward(n, x, w, y))
		check(d.AddBias(n, 4, 784, y, cb))
		check(bn.ForwardTrain(n, y, g, be, rm, rv, z, sm, si))
		check(d.ActForward(kernels.ReLU, n*4*784, z, z))
		check(mp.Forward(n, z, p))
		check(d.DropoutForward(n*4*196, 0.3, 1, 2, p, mask, p))
		check(d.Gemm(false, true, n, classes, 784, 1, p, fw, 0, logits))
		check(d.LossForward(kernels.CrossEntropy, n, classes, logits, lab, dl, sum, cor))
		check(d.Gemm(false, false, n, 784, classes, 1, dl, fw, 0, dp))
		check(d.Mul(n*4*196, dp, mask, dp))
		check(mp.Backward(n, z, p, dp, dz))
		check(d.ActBackward(kernels.ReLU, n*4*784, z, z, dz, dz))
		check(bn.Backward(n, y, dz, g, sm, si, dy, dg, db))
		check(d.BiasGrad(n, 4, 784, dy, db))
		check(cv.BackwardFilter(n, x, dy, dw))
		check(cv.BackwardData(n, dy, w, dx))
		check(d.SGD(10000, 0.01, 0.9, 0, params, grads, vel))
		check(d.Adam(10000, 1e-3, 0.9, 0.999, 1e-8, 0, 3, params, grads, vel, vel))
		check(d.Fill(sum, 0))
		check(d.Copy(dg, db))
	}
	step()
	check(d.Sync())
	before := d.Allocated()
	runs := 20
	if fakeGPU() {
		runs = 2
	}
	allocs := testing.AllocsPerRun(runs, step)
	check(d.Sync())
	// A sync.Pool inside purego may refill once after a garbage collection:
	// that averages well below one. An allocation in an op shows as >= 1.
	if allocs >= 1 {
		t.Errorf("a training step allocates %v Go objects, want 0", allocs)
	}
	if got := d.Allocated(); got != before {
		t.Errorf("Allocated changed from %d to %d during steps", before, got)
	}
}

// TestGPUTF32 checks that TF32 mode runs and stays close (1e-2).
func TestGPUTF32(t *testing.T) {
	g := gpuWith(t, cuda.Options{TF32: true})
	e := newEnv(t, g)
	A, B, C := e.f32(e.randn(64*784, 1, 0)), e.f32(e.randn(784*128, 1, 0)), e.zeros(64*128)
	e.run("Gemm TF32", func(d kernels.Device, b picker) error {
		return d.Gemm(false, false, 64, 128, 784, 1, b(A), b(B), 0, b(C))
	})
	e.close("Gemm TF32", C, -1, 1e-2)
	s := kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}
	gp, err := e.g.NewConv2D(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := e.c.NewConv2D(s, 64)
	x, w, y := e.f32(e.randn(64*4*196, 1, 0)), e.f32(e.randn(144, 1, 0)), e.zeros(64*4*196)
	if err := gp.Forward(64, x.g, w.g, y.g); err != nil {
		t.Fatal(err)
	}
	if err := cp.Forward(64, x.c, w.c, y.c); err != nil {
		t.Fatal(err)
	}
	e.close("Conv TF32", y, -1, 1e-2)
}
