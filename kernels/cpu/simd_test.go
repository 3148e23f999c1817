package cpu

// Tests of the vector path (KernelPath "avx2-fma" or "neon") against the
// pure-Go kernels, which the same binary runs with useAsm switched off.
// Under -tags noasm, or on a CPU without the features, they skip.

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"mnistgpu/kernels"
)

// needVector skips a test when this build or CPU has no vector kernels.
func needVector(t *testing.T) {
	t.Helper()
	if !useAsm {
		t.Skipf("kernel path %q has no vector kernels", KernelPath())
	}
}

// onGoPath runs f with the vector kernels switched off.
func onGoPath(f func()) {
	saved := useAsm
	useAsm = false
	defer func() { useAsm = saved }()
	f()
}

// relClose reports whether got is within tol of want relative to scale,
// failing on NaN.
func relClose(got, want, scale, tol float64) bool {
	return math.Abs(got-want) <= tol*scale
}

func TestKernelPath(t *testing.T) {
	p := KernelPath()
	if !slices.Contains([]string{PathAVX2FMA, PathNEON, PathNoasm, PathGo}, p) {
		t.Fatalf("KernelPath() = %q", p)
	}
	if useAsm != (p == PathAVX2FMA || p == PathNEON) {
		t.Fatalf("KernelPath() = %q with useAsm %v", p, useAsm)
	}
}

var vectorGemmShapes = []struct{ m, n, k int }{
	{64, 128, 784}, {64, 64, 128}, {64, 10, 64}, {128, 784, 64}, {64, 128, 64},
	{10, 64, 64}, {64, 784, 128}, {64, 64, 10}, {64, 10, 196},
	{10, 196, 64}, {64, 196, 10}, {1, 1, 1}, {7, 17, 3}, {13, 33, 600}, {130, 389, 517},
}

// TestVectorGemm compares the vector GEMM with gonum's on the MLP's and
// CNN's shapes and odd ones, in every transpose combination, with and
// without beta: |vector - gonum| <= 1e-5·(|alpha|·Σ|a||b| + |beta·c|)
// elementwise.
func TestVectorGemm(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(11)
	for _, s := range vectorGemmShapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1, 0.25}} {
				name := fmt.Sprintf("%dx%dx%d/%v%v/a%v,b%v", s.m, s.n, s.k, tr[0], tr[1], ab[0], ab[1])
				a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
				ba, bb := alloc32(t, d, a, 0), alloc32(t, d, b, 0)
				vec, ref := alloc32(t, d, c, 0), alloc32(t, d, c, 0)
				must(t, d.Gemm(tr[0], tr[1], s.m, s.n, s.k, ab[0], ba, bb, ab[1], vec))
				onGoPath(func() { must(t, d.Gemm(tr[0], tr[1], s.m, s.n, s.k, ab[0], ba, bb, ab[1], ref)) })
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						scale := math.Abs(float64(ab[1] * c[i*s.n+j]))
						for p := 0; p < s.k; p++ {
							av, bv := a[i*s.k+p], b[p*s.n+j]
							if tr[0] {
								av = a[p*s.m+i]
							}
							if tr[1] {
								bv = b[j*s.k+p]
							}
							scale += math.Abs(float64(ab[0] * av * bv))
						}
						got, want := float64(vec.f32[i*s.n+j]), float64(ref.f32[i*s.n+j])
						if !relClose(got, want, scale, 1e-5) {
							t.Fatalf("%s: c[%d,%d] = %v, gonum %v (scale %v)", name, i, j, got, want, scale)
						}
					}
				}
			}
		}
	}
}

// TestVectorGemmBetaZeroIgnoresC: beta = 0 overwrites NaNs in C, as BLAS.
func TestVectorGemmBetaZeroIgnoresC(t *testing.T) {
	needVector(t)
	d := New(1)
	defer d.Close()
	r := testRand(12)
	const m, n, k = 7, 19, 5
	a, b := alloc32(t, d, randSlice(r, m*k), 0), alloc32(t, d, randSlice(r, k*n), 0)
	c := alloc32(t, d, nil, m*n)
	for i := range c.f32 {
		c.f32[i] = float32(math.NaN())
	}
	must(t, d.Gemm(false, false, m, n, k, 1, a, b, 0, c))
	for i, v := range c.f32 {
		if math.IsNaN(float64(v)) {
			t.Fatalf("c[%d] is NaN after beta = 0", i)
		}
	}
}

// TestVectorGemmThreads: the same bits whatever the thread count.
func TestVectorGemmThreads(t *testing.T) {
	r := testRand(13)
	for _, s := range vectorGemmShapes {
		a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		var first []float32
		for _, threads := range []int{1, 2, 3, 5} {
			d := New(threads)
			c := alloc32(t, d, nil, s.m*s.n)
			must(t, d.Gemm(true, false, s.m, s.n, s.k, 1, alloc32(t, d, a, 0), alloc32(t, d, b, 0), 0, c))
			d.Close()
			if first == nil {
				first = c.f32
			} else if !slices.Equal(first, c.f32) {
				t.Fatalf("%v: %d threads differ from 1 thread", s, threads)
			}
		}
	}
}

// TestVectorOptimizers compares the vector SGD, momentum SGD and Adam with
// the Go loops on lengths around the vector width, elementwise at relative
// tolerance 1e-5 (of the new value plus the old one plus the gradient).
func TestVectorOptimizers(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(14)
	for _, n := range []int{1, 7, 8, 9, 31, 64, 1000, 40000} {
		for _, opt := range []string{"sgd", "momentum", "adam", "adam-w1-0.6"} {
			p, g, m, v := randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)
			for i := range v {
				v[i] = v[i] * v[i]
			}
			bufs := func() [4]*Buffer {
				return [4]*Buffer{alloc32(t, d, p, 0), alloc32(t, d, g, 0), alloc32(t, d, m, 0), alloc32(t, d, v, 0)}
			}
			run := func(b [4]*Buffer) {
				switch opt {
				case "sgd":
					must(t, d.SGD(n, 0.1, 0, 1e-4, b[0], b[1], nil))
				case "momentum":
					must(t, d.SGD(n, 0.02, 0.9, 1e-4, b[0], b[1], b[3]))
				case "adam":
					must(t, d.Adam(n, 1e-3, 0.9, 0.999, 1e-8, 1e-4, 3, b[0], b[1], b[2], b[3]))
				default:
					must(t, d.Adam(n, 1e-3, 0.4, 0.999, 1e-8, 0, 2, b[0], b[1], b[2], b[3]))
				}
			}
			vec, ref := bufs(), bufs()
			run(vec)
			onGoPath(func() { run(ref) })
			old := [4][]float32{p, g, m, v}
			for j := range vec {
				for i := range vec[j].f32 {
					// The scale counts the old value and the gradient, so
					// that cancellation (p - lr·g near 0) is not a failure.
					got, want := float64(vec[j].f32[i]), float64(ref[j].f32[i])
					scale := math.Abs(want) + math.Abs(float64(old[j][i])) + math.Abs(float64(g[i])) + 1e-30
					if !relClose(got, want, scale, 1e-5) {
						t.Fatalf("%s n=%d: buffer %d [%d] = %v, Go %v", opt, n, j, i, got, want)
					}
				}
			}
		}
	}
}

// TestVectorTrainingSteps trains both models a few steps on the vector path
// and on the Go path from the same start: parameters agree within 1e-4
// relative to their scale (max |p|), and the vector path gives the same
// bits on 1, 2 and 3 threads.
func TestVectorTrainingSteps(t *testing.T) {
	needVector(t)
	for name, build := range map[string]func(testing.TB, *Device, int) *net{"mlp": newMLP, "cnn": newCNN} {
		params := func(threads int, goPath bool) []float32 {
			d := New(threads)
			defer d.Close()
			m := build(t, d, 64)
			steps := func() {
				for range 3 {
					must(t, m.step())
				}
			}
			if goPath {
				onGoPath(steps)
			} else {
				steps()
			}
			return slices.Clone(m.params.(*Buffer).f32)
		}
		vec, ref := params(2, false), params(2, true)
		scale := 0.0
		for _, w := range ref {
			scale = max(scale, math.Abs(float64(w)))
		}
		for i := range vec {
			if !relClose(float64(vec[i]), float64(ref[i]), scale, 1e-4) {
				t.Fatalf("%s: param %d = %v on the vector path, %v on the Go path", name, i, vec[i], ref[i])
			}
		}
		for _, threads := range []int{1, 3} {
			if got := params(threads, false); !slices.Equal(got, vec) {
				t.Fatalf("%s: %d threads give other parameters than 2", name, threads)
			}
		}
	}
}

// TestVectorConv compares the vector 3×3 convolution (forward, backward
// data, filter gradient) with the Go loops on the CNN's shapes and widths
// around the vector width: each element within 1e-5 of the sum of the
// absolute values of its terms.
func TestVectorConv(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(15)
	for _, s := range []kernels.ConvShape{
		{C: 1, H: 28, W: 28, K: 3, OutC: 4}, {C: 4, H: 14, W: 14, K: 3, OutC: 4},
		{C: 2, H: 3, W: 1, K: 3, OutC: 3}, {C: 3, H: 5, W: 7, K: 3, OutC: 2},
		{C: 1, H: 9, W: 8, K: 3, OutC: 1}, {C: 2, H: 4, W: 17, K: 3, OutC: 2},
		{C: 2, H: 5, W: 16, K: 3, OutC: 3}, {C: 1, H: 7, W: 23, K: 3, OutC: 2}, // odd rows after the pairs
	} {
		const n = 19
		hw := s.H * s.W
		xs, ws, dys := randSlice(r, n*s.C*hw), randSlice(r, s.OutC*s.C*9), randSlice(r, n*s.OutC*hw)
		cv, err := d.NewConv2D(s, n)
		must(t, err)
		x, w, dy := alloc32(t, d, xs, 0), alloc32(t, d, ws, 0), alloc32(t, d, dys, 0)
		abs := func(v []float32) *Buffer {
			a := make([]float32, len(v))
			for i := range v {
				a[i] = float32(math.Abs(float64(v[i])))
			}
			return alloc32(t, d, a, 0)
		}
		ax, aw, ady := abs(xs), abs(ws), abs(dys)
		for _, op := range []string{"forward", "backdata", "backfilter"} {
			size := map[string]int{"forward": n * s.OutC * hw, "backdata": n * s.C * hw, "backfilter": s.OutC * s.C * 9}[op]
			run := func(x, w, dy *Buffer) []float32 {
				out := alloc32(t, d, nil, size)
				switch op {
				case "forward":
					must(t, cv.Forward(n, x, w, out))
				case "backdata":
					must(t, cv.BackwardData(n, dy, w, out))
				default:
					must(t, cv.BackwardFilter(n, x, dy, out))
				}
				return out.f32
			}
			vec := run(x, w, dy)
			var ref, scale []float32
			onGoPath(func() { ref, scale = run(x, w, dy), run(ax, aw, ady) })
			for i := range vec {
				if !relClose(float64(vec[i]), float64(ref[i]), float64(scale[i]), 1e-5) {
					t.Fatalf("%+v %s: [%d] = %v, Go %v (scale %v)", s, op, i, vec[i], ref[i], scale[i])
				}
			}
		}
	}
}

// forEachPath runs bench as a sub-benchmark named by KernelPath and, on a
// vector path, again on the Go loops (sub-benchmark "go"), so that one run
// compares the two on the same machine.
func forEachPath(b *testing.B, bench func(*testing.B)) {
	b.Run(KernelPath(), bench)
	if useAsm {
		b.Run(PathGo, func(b *testing.B) { onGoPath(func() { bench(b) }) })
	}
}

// TestVectorReLU: the vector ReLU gives the Go loop's bits, NaN, ±0, ±Inf
// and subnormals included, on lengths around the vector width.
func TestVectorReLU(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(16)
	special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)),
		float32(math.Inf(-1)), 1e-45, -1e-45, 1, -1}
	for _, n := range []int{1, 7, 8, 9, 17, 100, 40000} {
		x, dy := randSlice(r, n), randSlice(r, n)
		for i := range x {
			if i%3 == 0 {
				x[i] = special[r.IntN(len(special))]
				dy[i] = special[r.IntN(len(special))]
			}
		}
		xb, dyb := alloc32(t, d, x, 0), alloc32(t, d, dy, 0)
		run := func() (y, dx []float32) {
			yb, dxb := alloc32(t, d, nil, n), alloc32(t, d, nil, n)
			must(t, d.ActForward(kernels.ReLU, n, xb, yb))
			must(t, d.ActBackward(kernels.ReLU, n, xb, xb, dyb, dxb)) // y = x: NaN and ±0 reach the mask
			return yb.f32, dxb.f32
		}
		y, dx := run()
		var yRef, dxRef []float32
		onGoPath(func() { yRef, dxRef = run() })
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(yRef[i]) || math.Float32bits(dx[i]) != math.Float32bits(dxRef[i]) {
				t.Fatalf("n=%d [%d] x=%v dy=%v: y %v dx %v, Go y %v dx %v", n, i, x[i], dy[i], y[i], dx[i], yRef[i], dxRef[i])
			}
		}
	}
}

// TestVectorBatchNorm compares the vector batch norm with the Go loops:
// the inference forward to the bit, the training forward within 1e-5 of
// |y| + |β| (the batch variance is summed in another order); the backward's dx within
// 1e-5 of max|dx| and dγ, dβ within 1e-5 of Σ|dy|·(1 + max|x̂|) (its sums
// add in another order).
func TestVectorBatchNorm(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(17)
	for _, s := range []struct{ ch, sp, n int }{{4, 28 * 28, 19}, {4, 14 * 14, 8}, {3, 5, 7}, {2, 1, 9}, {128, 1, 64}} {
		count := s.n * s.ch * s.sp
		xs, dys := randSlice(r, count), randSlice(r, count)
		gam, bet := randSlice(r, s.ch), randSlice(r, s.ch)
		run := func() (y, yi, dx, dg, db, sm, si []float32) {
			bn, err := d.NewBatchNorm(s.ch, s.sp, s.n, 1e-5, 0.1)
			must(t, err)
			x, dy := alloc32(t, d, xs, 0), alloc32(t, d, dys, 0)
			g, b := alloc32(t, d, gam, 0), alloc32(t, d, bet, 0)
			rm, rv := alloc32(t, d, nil, s.ch), alloc32(t, d, nil, s.ch)
			must(t, d.Fill(rv, 1))
			yb, yib, dxb := alloc32(t, d, nil, count), alloc32(t, d, nil, count), alloc32(t, d, nil, count)
			smb, sib, dgb, dbb := alloc32(t, d, nil, s.ch), alloc32(t, d, nil, s.ch), alloc32(t, d, nil, s.ch), alloc32(t, d, nil, s.ch)
			must(t, bn.ForwardTrain(s.n, x, g, b, rm, rv, yb, smb, sib))
			must(t, bn.ForwardInfer(s.n, x, g, b, rm, rv, yib))
			must(t, bn.Backward(s.n, x, dy, g, smb, sib, dxb, dgb, dbb))
			return yb.f32, yib.f32, dxb.f32, dgb.f32, dbb.f32, smb.f32, sib.f32
		}
		y, yi, dx, dg, db, _, _ := run()
		var yR, yiR, dxR, dgR, dbR, sm, si []float32
		onGoPath(func() { yR, yiR, dxR, dgR, dbR, sm, si = run() })
		name := fmt.Sprintf("ch %d spatial %d n %d", s.ch, s.sp, s.n)
		if !slices.Equal(yi, yiR) {
			t.Fatalf("%s: inference forward differs from the Go loop", name)
		}
		for i := range y {
			// The batch variance is summed in another order, so the scale
			// may differ in its last bit.
			c := (i / s.sp) % s.ch
			if !relClose(float64(y[i]), float64(yR[i]), math.Abs(float64(yR[i]))+math.Abs(float64(bet[c])), 1e-5) {
				t.Fatalf("%s: y[%d] = %v, Go %v", name, i, y[i], yR[i])
			}
		}
		maxDx := 0.0
		for _, v := range dxR {
			maxDx = max(maxDx, math.Abs(float64(v)))
		}
		for i := range dx {
			if !relClose(float64(dx[i]), float64(dxR[i]), maxDx, 1e-5) {
				t.Fatalf("%s: dx[%d] = %v, Go %v", name, i, dx[i], dxR[i])
			}
		}
		for c := 0; c < s.ch; c++ {
			var sdy, mxh float64
			for i := 0; i < s.n; i++ {
				for j := 0; j < s.sp; j++ {
					k := (i*s.ch+c)*s.sp + j
					sdy += math.Abs(float64(dys[k]))
					mxh = max(mxh, math.Abs(float64((xs[k]-sm[c])*si[c])))
				}
			}
			scale := sdy * (1 + mxh)
			if !relClose(float64(dg[c]), float64(dgR[c]), scale, 1e-5) || !relClose(float64(db[c]), float64(dbR[c]), scale, 1e-5) {
				t.Fatalf("%s: channel %d dγ %v dβ %v, Go %v %v", name, c, dg[c], db[c], dgR[c], dbR[c])
			}
		}
	}
}

// TestVectorMaxPool: the vector max-pool gives the Go loops' bits (forward:
// any NaN for a NaN; backward: the same arg-max, ties and NaNs included),
// ±0, ±Inf and NaN in the input, on the CNN's planes and odd sizes.
func TestVectorMaxPool(t *testing.T) {
	needVector(t)
	d := New(2)
	defer d.Close()
	r := testRand(18)
	special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)),
		float32(math.Inf(-1)), 1, -1}
	for _, s := range []struct{ ch, h, w, n int }{{4, 28, 28, 5}, {4, 14, 14, 5}, {1, 2, 2, 1}, {2, 5, 5, 3},
		{3, 4, 9, 2}, {1, 3, 17, 2}, {2, 6, 33, 2}, {1, 2, 32, 1}} {
		count := s.n * s.ch * s.h * s.w
		xs := randSlice(r, count)
		for i := range xs {
			if r.IntN(4) == 0 {
				xs[i] = special[r.IntN(len(special))]
			}
		}
		x := alloc32(t, d, xs, 0)
		dy := alloc32(t, d, randSlice(r, s.n*s.ch*(s.h/2)*(s.w/2)), 0)
		run := func() (y, dx []float32) {
			mp, err := d.NewMaxPool(s.ch, s.h, s.w, s.n)
			must(t, err)
			yb, dxb := alloc32(t, d, nil, s.n*s.ch*(s.h/2)*(s.w/2)), alloc32(t, d, nil, count)
			for i := range dxb.f32 {
				dxb.f32[i] = float32(math.NaN()) // must all be overwritten
			}
			must(t, mp.Forward(s.n, x, yb))
			must(t, mp.Backward(s.n, x, yb, dy, dxb))
			return yb.f32, dxb.f32
		}
		y, dx := run()
		var ref, dxRef []float32
		onGoPath(func() { ref, dxRef = run() })
		for i := range y {
			same := math.Float32bits(y[i]) == math.Float32bits(ref[i]) || (y[i] != y[i] && ref[i] != ref[i])
			if !same {
				t.Fatalf("%+v: y[%d] = %v (%#x), Go %v (%#x)", s, i, y[i], math.Float32bits(y[i]), ref[i], math.Float32bits(ref[i]))
			}
		}
		for i := range dx {
			if math.Float32bits(dx[i]) != math.Float32bits(dxRef[i]) {
				t.Fatalf("%+v: dx[%d] = %v, Go %v (x %v)", s, i, dx[i], dxRef[i], xs[i])
			}
		}
	}
}
