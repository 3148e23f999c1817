package cpu

// The vector GEMM (used when useAsm). Within each tile of C that Gemm hands
// a thread, k is cut into blocks (the same for every tile: they depend on k
// alone), and the micro-kernel keeps a gemmMicroMR×packNR block of C in
// registers for a whole k-block. It reads A(r, p) at a + r·rsA + p·ksA and
// row p of op(B) as packNR consecutive floats at b + p·ksB, so full panels
// of A (either layout) and of op(B) = B (not transposed) are read in place;
// op(B) = Bᵀ is packed into k-major panels of packNR columns, and so are
// the partial panels at the edges. Partial blocks of C at the edges run the
// same micro-kernel on a copy in a small scratch tile. Every element of C
// thus goes through the same arithmetic whatever the tiling, hence whatever
// the thread count.

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
			a:    make([]float32, gemmMicroMR*packKC),
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
		if g.transB {
			g.packB(s.b, pc, kc, j0, nn)
		}
		if mm%mr != 0 { // the last row panel is partial
			g.packA(s.a, i0+mm/mr*mr, mm%mr, pc, kc)
		}
		beta, accum := float32(1), 1
		if pc == 0 {
			beta = g.beta
			if beta == 0 {
				accum = 0
			}
		}
		for jp := 0; jp*nr < nn; jp++ {
			j, cols := j0+jp*nr, min(nr, nn-jp*nr)
			bp, ksB := &s.b[jp*nr*kc], 4*nr
			if !g.transB {
				if cols == nr {
					bp, ksB = &g.b[pc*g.n+j], 4*g.n
				} else {
					g.packB(s.b, pc, kc, j, cols)
					bp = &s.b[0]
				}
			}
			for ip := 0; ip*mr < mm; ip++ {
				i, rows := i0+ip*mr, min(mr, mm-ip*mr)
				var ap *float32
				var rsA, ksA int
				switch {
				case rows < mr:
					ap, rsA, ksA = &s.a[0], 4, 4*mr
				case g.transA: // A is k×m
					ap, rsA, ksA = &g.a[pc*g.m+i], 4, 4*g.m
				default: // A is m×k
					ap, rsA, ksA = &g.a[i*g.k+pc], 4*g.k, 4
				}
				off := i*g.n + j
				if rows == mr && cols == nr {
					gemmMicro(kc, ap, rsA, ksA, bp, ksB, &g.c[off], g.n, g.alpha, beta, accum)
					continue
				}
				e := s.edge
				if accum != 0 {
					for r := 0; r < rows; r++ {
						copy(e[r*nr:r*nr+cols], g.c[off+r*g.n:off+r*g.n+cols])
					}
				}
				gemmMicro(kc, ap, rsA, ksA, bp, ksB, &e[0], nr, g.alpha, beta, accum)
				for r := 0; r < rows; r++ {
					copy(g.c[off+r*g.n:off+r*g.n+cols], e[r*nr:r*nr+cols])
				}
			}
		}
	}
}

// packA writes the rows op(A)[i:i+rows, pc:pc+kc] (rows <= gemmMicroMR) into
// dst k-major: dst[p·mr + r] = op(A)[i+r, pc+p], zero past row rows.
func (g *gemmTask) packA(dst []float32, i, rows, pc, kc int) {
	const mr = gemmMicroMR
	panel := dst[:mr*kc]
	clear(panel)
	for r := 0; r < rows; r++ {
		if g.transA { // A is k×m: op(A)[i, p] = A[p·m + i]
			for p := 0; p < kc; p++ {
				panel[p*mr+r] = g.a[(pc+p)*g.m+i+r]
			}
			continue
		}
		src := g.a[(i+r)*g.k+pc : (i+r)*g.k+pc+kc] // A is m×k
		for p, v := range src {
			panel[p*mr+r] = v
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
		// B is n×k: op(B)[p, j] = B[j·k + p]. Full panels go through 8×8
		// block transposes where the vector path has them.
		p0 := 0
		if cols == nr {
			for ; p0+8 <= kc; p0 += 8 {
				src := g.b[j*g.k+pc+p0:]
				if !transpose8Vec(src, g.k, panel[p0*nr:], nr) || !transpose8Vec(src[8*g.k:], g.k, panel[p0*nr+8:], nr) {
					break
				}
			}
		}
		for c := 0; c < cols; c++ {
			src := g.b[(j+c)*g.k+pc+p0 : (j+c)*g.k+pc+kc]
			for p, v := range src {
				panel[(p0+p)*nr+c] = v
			}
		}
	}
}
