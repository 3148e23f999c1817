package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is C = alpha·op(A)·op(B) + beta·C in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a, b []float32, beta float64, c []float32) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = alpha*s + beta*float64(c[i*n+j])
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 2, 3} {
		d := New(threads)
		defer d.Close()
		for _, tc := range []struct {
			m, n, k     int
			alpha, beta float32
		}{
			{1, 1, 1, 1, 0}, {2, 3, 4, 1, 0}, {5, 7, 3, 0.5, 2}, {64, 128, 784, 1, 0},
			{128, 784, 64, 1, 1}, {64, 10, 64, -1, 0.25}, {10, 64, 64, 1, 0},
			{130, 389, 517, 1, 0}, {3, 1000, 2, 1, 0}, {1000, 3, 2, 1, 0}, {7, 7, 0, 1, 0.5},
		} {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				name := fmt.Sprintf("t%d/%dx%dx%d/%v%v", threads, tc.m, tc.n, tc.k, tr[0], tr[1])
				a, b, c := randSlice(r, tc.m*tc.k), randSlice(r, tc.k*tc.n), randSlice(r, tc.m*tc.n)
				want := refGemm(tr[0], tr[1], tc.m, tc.n, tc.k, float64(tc.alpha), a, b, float64(tc.beta), c)
				ab, bb, cb := alloc32(t, d, a, 0), alloc32(t, d, b, 0), alloc32(t, d, c, 0)
				if err := d.Gemm(tr[0], tr[1], tc.m, tc.n, tc.k, tc.alpha, ab, bb, tc.beta, cb); err != nil {
					t.Fatal(name, err)
				}
				got := cb.f32
				for i := range want {
					if diff := math.Abs(float64(got[i]) - want[i]); !(diff <= 1e-4*(1+float64(tc.k))) {
						t.Fatalf("%s: c[%d] = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestTiledGemm checks the hand-written kernel that BenchmarkSgemm compares
// with, so that the comparison is between two correct implementations.
func TestTiledGemm(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range append(mlpShapes, struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{"odd", true, true, 131, 389, 517}) {
		a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
		want := refGemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, b, 0, c)
		g := &tiledGemm{transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1, a: a, b: b, c: c}
		g.init(d.threads)
		g.byCols = s.n >= s.m
		items := ceilDiv(s.m, gemmMR)
		if g.byCols {
			items = ceilDiv(s.n, gemmNR)
		}
		d.pool.parallel(g, items, 1)
		checkClose(t, s.name, c, want, 1e-4)
	}
}

var mlpShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"fc1.fwd", false, true, 64, 128, 784},
	{"fc2.fwd", false, true, 64, 64, 128},
	{"fc3.fwd", false, true, 64, 10, 64},
	{"fc1.dW", true, false, 128, 784, 64},
	{"fc2.dW", true, false, 64, 128, 64},
	{"fc3.dW", true, false, 10, 64, 64},
	{"fc1.dX", false, false, 64, 784, 128},
	{"fc2.dX", false, false, 64, 128, 64},
	{"fc3.dX", false, false, 64, 64, 10},
}

func BenchmarkSgemm(b *testing.B) {
	d := New(0)
	defer d.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range mlpShapes {
		a, bb, c := alloc32(b, d, randSlice(r, s.m*s.k), 0), alloc32(b, d, randSlice(r, s.k*s.n), 0), alloc32(b, d, randSlice(r, s.m*s.n), 0)
		flops := 2 * float64(s.m*s.n*s.k)
		b.Run(s.name, func(b *testing.B) { // Device.Gemm: the vector path, and gonum's Sgemm as "go"
			forEachPath(b, func(b *testing.B) {
				for b.Loop() {
					d.Gemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, bb, 0, c)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
		b.Run(s.name+"/tiled", func(b *testing.B) {
			g := &tiledGemm{transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1,
				a: a.f32, b: bb.f32, c: c.f32}
			g.init(d.threads)
			g.byCols = s.n >= s.m
			items, panelFlops := ceilDiv(s.m, gemmMR), gemmMR*s.n*s.k
			if g.byCols {
				items, panelFlops = ceilDiv(s.n, gemmNR), gemmNR*s.m*s.k
			}
			for b.Loop() {
				d.pool.parallel(g, items, ceilDiv(gemmMinFlopsPerThread, panelFlops))
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
