package cpu

// This file keeps the hand-written GEMM that BenchmarkSgemm measures against
// gonum's Sgemm (which Device.Gemm uses; see the comment in gemm.go).

// GEMM is a cache-blocked, register-tiled pure-Go kernel in the style of
// BLIS/GotoBLAS: op(B) is packed into column panels of gemmNR columns and
// op(A) into row panels of gemmMR rows, each laid out k-major, so the
// micro-kernel reads both with unit stride whatever the transposes; the
// micro-kernel keeps a gemmMR×gemmNR block of C in registers for a whole
// k-block.
//
// Why 2×3: Go's register allocator spills accumulators of larger tiles (4×4,
// 3×4, even 2×4 spill on amd64 and then carry a dependency through the
// stack), and a spill costs more than the loads the bigger tile would save.
// 2×3 keeps 6 accumulators, 2 a's and 3 b's in registers; unrolled four
// times over k it runs at ~9 GFLOP/s per core on a Zen 4 (EPYC) core, against
// ~3-5 GFLOP/s for 4×4/3×4/2×4 tiles. gonum's Sgemm (SSE axpy and dot in
// assembly) still beats it on every MLP shape: see BenchmarkSgemm and the
// comment at the top of gemm.go.
const (
	gemmMR = 2   // rows of the register tile
	gemmNR = 3   // columns of the register tile
	gemmKC = 256 // depth of a packed block (A panel 2 KiB, B panel 3 KiB: L1)
	gemmMC = 128 // rows of A packed at once (128×256×4 = 128 KiB: L2)
	gemmNC = 384 // columns of B packed at once (384×256×4 = 384 KiB: L2)

	// gemmMinFlopsPerThread is the least work (multiply-adds) worth handing
	// to another goroutine: a hand-off costs a few microseconds.
	gemmMinFlopsPerThread = 1 << 16
)

// tiledGemm is the hand-written GEMM's task. The output C is split among
// threads by column panels (when n >= m) or by row panels; every thread
// packs its own A and B blocks into its own scratch, so threads share
// nothing but the read-only inputs.
type tiledGemm struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	byCols         bool

	packA [][]float32 // per thread, gemmMC×gemmKC
	packB [][]float32 // per thread, gemmKC×gemmNC
}

// init allocates the per-thread packing buffers.
func (g *tiledGemm) init(threads int) {
	g.packA = make([][]float32, threads)
	g.packB = make([][]float32, threads)
	for i := range g.packA {
		g.packA[i] = make([]float32, gemmMC*gemmKC)
		g.packB[i] = make([]float32, gemmKC*gemmNC)
	}
}

// run computes the block of C given by panels [lo, hi) of the split
// dimension.
func (g *tiledGemm) run(w, lo, hi int) {
	i0, i1, j0, j1 := 0, g.m, 0, g.n
	if g.byCols {
		j0, j1 = lo*gemmNR, min(hi*gemmNR, g.n)
	} else {
		i0, i1 = lo*gemmMR, min(hi*gemmMR, g.m)
	}
	pa, pb := g.packA[w], g.packB[w]
	// Split k into equal blocks of at most gemmKC so no block is tiny.
	nkb := ceilDiv(g.k, gemmKC)
	kcMax := ceilDiv(g.k, nkb)
	for jc := j0; jc < j1; jc += gemmNC {
		nc := min(gemmNC, j1-jc)
		for pc := 0; pc < g.k; pc += kcMax {
			kc := min(kcMax, g.k-pc)
			g.packBPanels(pb, pc, kc, jc, nc)
			for ic := i0; ic < i1; ic += gemmMC {
				mc := min(gemmMC, i1-ic)
				g.packAPanels(pa, ic, mc, pc, kc)
				g.macro(pa, pb, ic, mc, jc, nc, kc, pc == 0)
			}
		}
	}
}

// packAPanels copies op(A)[ic:ic+mc, pc:pc+kc] into dst as row panels of gemmMR
// rows: panel r holds, for each p, the gemmMR values op(A)[ic+r·MR+i, pc+p]
// at dst[r·MR·kc + p·MR + i]. Rows past mc are zero.
func (g *tiledGemm) packAPanels(dst []float32, ic, mc, pc, kc int) {
	for r := 0; r < mc; r += gemmMR {
		panel := dst[r*kc : r*kc+gemmMR*kc]
		rows := min(gemmMR, mc-r)
		if g.transA { // A is k×m: op(A)[i, p] = a[p·m + i]
			for p := 0; p < kc; p++ {
				src := g.a[(pc+p)*g.m+ic+r:]
				out := panel[p*gemmMR : p*gemmMR+gemmMR]
				for i := range out {
					if i < rows {
						out[i] = src[i]
					} else {
						out[i] = 0
					}
				}
			}
			continue
		}
		// A is m×k: op(A)[i, p] = a[i·k + p]; each row is contiguous.
		for i := 0; i < gemmMR; i++ {
			if i >= rows {
				for p := 0; p < kc; p++ {
					panel[p*gemmMR+i] = 0
				}
				continue
			}
			src := g.a[(ic+r+i)*g.k+pc : (ic+r+i)*g.k+pc+kc]
			for p, v := range src {
				panel[p*gemmMR+i] = v
			}
		}
	}
}

// packBPanels copies op(B)[pc:pc+kc, jc:jc+nc] into dst as column panels of
// gemmNR columns: panel q holds op(B)[pc+p, jc+q·NR+j] at
// dst[q·NR·kc + p·NR + j]. Columns past nc are zero.
func (g *tiledGemm) packBPanels(dst []float32, pc, kc, jc, nc int) {
	for q := 0; q < nc; q += gemmNR {
		panel := dst[q*kc : q*kc+gemmNR*kc]
		cols := min(gemmNR, nc-q)
		if !g.transB { // B is k×n: op(B)[p, j] = b[p·n + j]
			for p := 0; p < kc; p++ {
				src := g.b[(pc+p)*g.n+jc+q:]
				out := panel[p*gemmNR : p*gemmNR+gemmNR]
				if cols == gemmNR {
					out[0], out[1], out[2] = src[0], src[1], src[2]
					continue
				}
				for j := range out {
					if j < cols {
						out[j] = src[j]
					} else {
						out[j] = 0
					}
				}
			}
			continue
		}
		// B is n×k: op(B)[p, j] = b[j·k + p]; each column of op(B) is contiguous.
		for j := 0; j < gemmNR; j++ {
			if j >= cols {
				for p := 0; p < kc; p++ {
					panel[p*gemmNR+j] = 0
				}
				continue
			}
			src := g.b[(jc+q+j)*g.k+pc : (jc+q+j)*g.k+pc+kc]
			for p, v := range src {
				panel[p*gemmNR+j] = v
			}
		}
	}
}

// macro multiplies the packed blocks into C[ic:ic+mc, jc:jc+nc]. first says
// this is the first k-block, where beta applies; later blocks accumulate.
func (g *tiledGemm) macro(pa, pb []float32, ic, mc, jc, nc, kc int, first bool) {
	alpha, beta := g.alpha, g.beta
	if !first {
		beta = 1
	}
	ldc := g.n
	var acc [gemmMR * gemmNR]float32
	for q := 0; q < nc; q += gemmNR {
		bp := pb[q*kc : q*kc+gemmNR*kc]
		cols := min(gemmNR, nc-q)
		for r := 0; r < mc; r += gemmMR {
			ap := pa[r*kc : r*kc+gemmMR*kc]
			kernel2x3(ap, bp, &acc)
			rows := min(gemmMR, mc-r)
			for i := 0; i < rows; i++ {
				crow := g.c[(ic+r+i)*ldc+jc+q : (ic+r+i)*ldc+jc+q+cols]
				arow := acc[i*gemmNR : i*gemmNR+cols]
				switch beta {
				case 0:
					for j := range crow {
						crow[j] = alpha * arow[j]
					}
				case 1:
					for j := range crow {
						crow[j] += alpha * arow[j]
					}
				default:
					for j := range crow {
						crow[j] = alpha*arow[j] + beta*crow[j]
					}
				}
			}
		}
	}
}

// kernel2x3 computes the 2×3 block acc[i·3+j] = Σ_p a[p·2+i]·b[p·3+j] of a
// packed A panel (2×kc, k-major) and B panel (3×kc, k-major). The loop is
// unrolled four times; the products are written out so that the compiler
// keeps all 11 values in registers (see the note at the top of the file).
func kernel2x3(a, b []float32, acc *[gemmMR * gemmNR]float32) {
	var c00, c01, c02, c10, c11, c12 float32
	for len(a) >= 8 && len(b) >= 12 {
		b0, b1, b2 := b[0], b[1], b[2]
		a0, a1 := a[0], a[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		b0, b1, b2 = b[3], b[4], b[5]
		a0, a1 = a[2], a[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		b0, b1, b2 = b[6], b[7], b[8]
		a0, a1 = a[4], a[5]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		b0, b1, b2 = b[9], b[10], b[11]
		a0, a1 = a[6], a[7]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		a = a[8:]
		b = b[12:]
	}
	for len(a) >= 2 && len(b) >= 3 {
		b0, b1, b2 := b[0], b[1], b[2]
		a0, a1 := a[0], a[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		a = a[2:]
		b = b[3:]
	}
	*acc = [gemmMR * gemmNR]float32{c00, c01, c02, c10, c11, c12}
}
