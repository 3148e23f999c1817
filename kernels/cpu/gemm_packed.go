package cpu

// The vector GEMM (used when useAsm): within each tile of C that Gemm hands
// a thread, op(A) and op(B) are packed k-block by k-block into panels of
// gemmMicroMR rows and packNR columns, laid out k-major so the micro-kernel
// reads both with unit stride whatever the transposes, and the micro-kernel
// keeps a gemmMicroMR×packNR block of C in registers for a whole k-block.
// Partial blocks at the edges of C run the same micro-kernel on a copy in a
// small scratch tile, so every element of C goes through the same
// arithmetic: the k-blocks depend on k alone, and the result does not depend
// on the tiling, hence not on the thread count.

// gemmPack is one thread's packing scratch.
type gemmPack struct {
	a, b, edge []float32
}

// newGemmPacks allocates the packing scratch of threads threads for tiles
// of at most gemmTileM×gemmTileN (nil without vector kernels).
func newGemmPacks(threads int) []gemmPack {
	if !useAsm {
		return nil
	}
	p := make([]gemmPack, threads)
	for i := range p {
		p[i] = gemmPack{
			a:    make([]float32, ceilDiv(gemmTileM, gemmMicroMR)*gemmMicroMR*packKC),
			b:    make([]float32, ceilDiv(gemmTileN, packNR)*packNR*packKC),
			edge: make([]float32, gemmMicroMR*packNR),
		}
	}
	return p
}

// runPacked computes the tile of C at (i0, j0) of mm×nn with thread w's
// scratch.
func (g *gemmTask) runPacked(w, i0, j0, mm, nn int) {
	const mr, nr = gemmMicroMR, packNR
	s := &g.packs[w]
	nkb := ceilDiv(g.k, packKC)
	kcMax := ceilDiv(g.k, nkb)
	for pc := 0; pc < g.k; pc += kcMax {
		kc := min(kcMax, g.k-pc)
		g.packB(s.b, pc, kc, j0, nn)
		g.packA(s.a, i0, mm, pc, kc)
		beta, accum := float32(1), 1
		if pc == 0 {
			beta = g.beta
			if beta == 0 {
				accum = 0
			}
		}
		for jp := 0; jp*nr < nn; jp++ {
			cols := min(nr, nn-jp*nr)
			bp := &s.b[jp*nr*kc]
			for ip := 0; ip*mr < mm; ip++ {
				rows := min(mr, mm-ip*mr)
				ap := &s.a[ip*mr*kc]
				off := (i0+ip*mr)*g.n + j0 + jp*nr
				if rows == mr && cols == nr {
					gemmMicro(kc, ap, bp, &g.c[off], g.n, g.alpha, beta, accum)
					continue
				}
				e := s.edge
				if accum != 0 {
					for r := 0; r < rows; r++ {
						copy(e[r*nr:r*nr+cols], g.c[off+r*g.n:off+r*g.n+cols])
					}
				}
				gemmMicro(kc, ap, bp, &e[0], nr, g.alpha, beta, accum)
				for r := 0; r < rows; r++ {
					copy(g.c[off+r*g.n:off+r*g.n+cols], e[r*nr:r*nr+cols])
				}
			}
		}
	}
}

// packA writes op(A)[i0:i0+mm, pc:pc+kc] into dst as panels of
// gemmMicroMR rows: dst[ip·mr·kc + p·mr + r] = op(A)[i0+ip·mr+r, pc+p],
// zero past row mm.
func (g *gemmTask) packA(dst []float32, i0, mm, pc, kc int) {
	const mr = gemmMicroMR
	for ip := 0; ip*mr < mm; ip++ {
		rows := min(mr, mm-ip*mr)
		panel := dst[ip*mr*kc : (ip+1)*mr*kc]
		if rows < mr {
			clear(panel)
		}
		i := i0 + ip*mr
		if g.transA { // A is k×m: op(A)[i, p] = A[p·m + i]
			for p := 0; p < kc; p++ {
				copy(panel[p*mr:p*mr+rows], g.a[(pc+p)*g.m+i:])
			}
			continue
		}
		for r := 0; r < rows; r++ { // A is m×k
			src := g.a[(i+r)*g.k+pc : (i+r)*g.k+pc+kc]
			for p, v := range src {
				panel[p*mr+r] = v
			}
		}
	}
}

// packB writes op(B)[pc:pc+kc, j0:j0+nn] into dst as panels of packNR
// columns: dst[jp·nr·kc + p·nr + c] = op(B)[pc+p, j0+jp·nr+c], zero past
// column nn.
func (g *gemmTask) packB(dst []float32, pc, kc, j0, nn int) {
	const nr = packNR
	for jp := 0; jp*nr < nn; jp++ {
		cols := min(nr, nn-jp*nr)
		panel := dst[jp*nr*kc : (jp+1)*nr*kc]
		if cols < nr {
			clear(panel)
		}
		j := j0 + jp*nr
		if !g.transB { // B is k×n
			for p := 0; p < kc; p++ {
				copy(panel[p*nr:p*nr+cols], g.b[(pc+p)*g.n+j:])
			}
			continue
		}
		for c := 0; c < cols; c++ { // B is n×k: op(B)[p, j] = B[j·k + p]
			src := g.b[(j+c)*g.k+pc : (j+c)*g.k+pc+kc]
			for p, v := range src {
				panel[p*nr+c] = v
			}
		}
	}
}
