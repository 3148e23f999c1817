package cpu

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	gonum "gonum.org/v1/gonum/blas/gonum"

	"mnistgpu/kernels"
)

// GEMM runs the packed vector kernels of gemm_packed.go when the CPU has
// them (KernelPath "avx2-fma" or "neon"); otherwise, and under -tags noasm,
// it runs gonum's Sgemm (gonum.org/v1/gonum/blas/gonum: pure Go whose
// inner axpy and dot loops are SSE assembly on amd64, with gonum's own
// pure-Go fallback elsewhere or under its noasm tag) on tiles of C that the
// device's pool spreads over its threads.
//
// Why the fallback is gonum and not the Go kernel of gemm_tiled_test.go (BLIS-style
// packed panels, a 2×3 register tile unrolled 4× over k): Go's compiler keeps
// floats in scalar SSE registers and spills accumulators of any tile larger
// than 2×3, so that kernel peaks at ~9-10 GFLOP/s per core in isolation and
// reaches 4-12 GFLOP/s on two cores on the MLP's shapes once packing and
// edges are counted, whereas gonum's 4-wide SSE axpy/dot reach 8-27 GFLOP/s
// on the same shapes, 1.4-2.9× faster on every one (BenchmarkSgemm, 2-core
// AMD EPYC Zen 4 VM).
//
// gonum's Sgemm starts goroutines (and allocates) when C has 4 or more
// 64×64 blocks, so every tile here is at most 64 rows × 128 columns, which
// keeps gonum on its serial path: the step stays allocation-free and the
// parallelism is ours.
const (
	gemmTileM = 64  // rows of a tile (gonum's block size)
	gemmTileN = 128 // columns of a tile (two of gonum's blocks: still serial)

	// gemmMinWork is the least work (multiply-adds) worth handing to another
	// goroutine: a hand-off costs a few microseconds.
	gemmMinWork = 1 << 15
)

// gemmTask is the Device's preallocated GEMM over tiles of tm×tn of C,
// numbered row-major over a grid of mt×nt tiles.
type gemmTask struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	tm, tn, nt     int
	packs          []gemmPack // per-thread scratch of the vector path (gemm_packed.go)
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, op(A)
// m×k, op(B) k×n, C m×n. A is m×k (k×m when transA), B is k×n (n×k when
// transB). As in BLAS, beta = 0 overwrites C without reading it.
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b kernels.Buffer, beta float32, c kernels.Buffer) error {
	if err := kernels.CheckGemm(m, n, k, a, b, c); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	as, err := d.f32("Gemm", "a", a, m*k)
	if err != nil {
		return err
	}
	bs, err := d.f32("Gemm", "b", b, k*n)
	if err != nil {
		return err
	}
	cs, err := d.f32("Gemm", "c", c, m*n)
	if err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	if k == 0 || alpha == 0 {
		scaleC(cs, beta)
		return nil
	}
	g := &d.gemm
	g.transA, g.transB = transA, transB
	g.m, g.n, g.k = m, n, k
	g.alpha, g.beta = alpha, beta
	g.a, g.b, g.c = as, bs, cs

	// Tile C: at most gemmTileM×gemmTileN; at least one tile per thread when
	// there is enough work; and a tile count that the threads share evenly.
	threads := d.pool.threads
	if w := m * n * k / gemmMinWork; w < threads {
		threads = max(w, 1)
	}
	mt, nt := ceilDiv(m, gemmTileM), ceilDiv(n, gemmTileN)
	for mt*nt < threads {
		switch {
		case nt < n && (ceilDiv(n, nt) >= ceilDiv(m, mt) || mt >= m):
			nt++
		case mt < m:
			mt++
		default:
			threads = mt * nt
		}
	}
	for mt*nt%threads != 0 && nt < n {
		nt++
	}
	g.tm, g.tn, g.nt = ceilDiv(m, mt), ceilDiv(n, nt), nt
	// Rounding the tile sizes up may leave trailing tiles empty; run skips them.
	d.pool.parallel(g, mt*nt, 1)
	g.a, g.b, g.c = nil, nil, nil
	return nil
}

// run computes tiles [lo, hi) of C.
func (g *gemmTask) run(w, lo, hi int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	lda, ldb := g.k, g.n
	if g.transA {
		ta, lda = blas.Trans, g.m
	}
	if g.transB {
		tb, ldb = blas.Trans, g.k
	}
	for t := lo; t < hi; t++ {
		i0, j0 := (t/g.nt)*g.tm, (t%g.nt)*g.tn
		if i0 >= g.m || j0 >= g.n {
			continue
		}
		mm, nn := min(g.tm, g.m-i0), min(g.tn, g.n-j0)
		if useAsm {
			g.runPacked(w, i0, j0, mm, nn)
			continue
		}
		// Sub-matrices keep the full leading dimensions.
		a := g.a[i0*g.k:] // rows i0.. of A (m×k)
		if g.transA {
			a = g.a[i0:] // columns i0.. of A (k×m)
		}
		b := g.b[j0:] // columns j0.. of B (k×n)
		if g.transB {
			b = g.b[j0*g.k:] // rows j0.. of B (n×k)
		}
		gonum.Implementation{}.Sgemm(ta, tb, mm, nn, g.k, g.alpha, a, lda, b, ldb, g.beta, g.c[i0*g.n+j0:], g.n)
	}
}

// scaleC sets c = beta·c (c = 0 when beta is 0, ignoring NaNs in c).
func scaleC(c []float32, beta float32) {
	switch beta {
	case 1:
	case 0:
		clear(c)
	default:
		for i := range c {
			c[i] *= beta
		}
	}
}

// ceilDiv is ⌈a/b⌉ for a >= 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
