// Command asmgen generates kernels/cpu's AVX2+FMA assembly (simd_amd64.s)
// and its Go declarations (simd_decl_amd64.go) with avo
// (github.com/mmcloughlin/avo). It is its own module so that the main
// module does not depend on avo. Run it through go generate in kernels/cpu:
//
//	go generate ./kernels/cpu
//
// which must reproduce the committed files byte for byte.
//
// The kernels are the inner loops of the CPU device's fast path; their Go
// callers (kernels/cpu/simd_amd64.go) handle edges, tails and threads.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Register tile of the GEMM micro-kernel: gemmMR rows × gemmNR columns of C
// held in 2·gemmMR YMM accumulators (8 floats each).
const (
	gemmMR = 6
	gemmNR = 16
)

func main() {
	ConstraintExpr("!noasm")
	gemm()
	sgd()
	sgdMomentum()
	adam()
	corr3()
	corr3x2()
	filterGrad3()
	filterGrad3x2()
	relu()
	transpose8()
	batchNorm()
	maxPool()
	maxPoolBack()
	sqDev()
	sumLanes()
	Generate()
}

// gemm emits gemmKernelAVX2, the 6×16 micro-kernel. Over kc steps p it
// accumulates the 6×16 block acc[r][j] += A(r, p)·B(p, j) with FMAs, where
// A(r, p) is the float at a + r·rsA + p·ksA and row p of B the 16 floats at
// b + p·ksB (strides in bytes): packed panels and row-major operands that
// need no packing are read alike. Then it stores C = alpha·acc when accum is
// 0, C = alpha·acc + beta·C otherwise (one fused multiply-add per element);
// ldc is C's row stride in elements.
func gemm() {
	TEXT("gemmKernelAVX2", NOSPLIT, "func(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int)")
	Pragma("noescape")
	Doc("gemmKernelAVX2 is the 6×16 AVX2+FMA GEMM micro-kernel (see asmgen).")
	kc := Load(Param("kc"), GP64())
	a0 := Load(Param("a"), GP64())
	rs := Load(Param("rsA"), GP64())
	ks := Load(Param("ksA"), GP64())
	pb := Load(Param("b"), GP64())
	ksb := Load(Param("ksB"), GP64())
	a3 := GP64() // row 3: rows 0-2 are a0 + {0,1,2}·rs, rows 3-5 a3 + {0,1,2}·rs
	LEAQ(Mem{Base: a0, Index: rs, Scale: 2}, a3)
	ADDQ(rs, a3)

	acc := make([][2]reg.VecVirtual, gemmMR)
	for r := range acc {
		for h := range acc[r] {
			acc[r][h] = YMM()
			VXORPS(acc[r][h], acc[r][h], acc[r][h])
		}
	}
	b0, b1, t := YMM(), YMM(), YMM()
	rowAddr := func(r int) Mem {
		base := a0
		if r >= 3 {
			base = a3
		}
		switch r % 3 {
		case 1:
			return Mem{Base: base, Index: rs, Scale: 1}
		case 2:
			return Mem{Base: base, Index: rs, Scale: 2}
		}
		return Mem{Base: base}
	}

	Label("loop")
	TESTQ(kc, kc)
	JZ(LabelRef("done"))
	VMOVUPS(Mem{Base: pb}, b0)
	VMOVUPS(Mem{Base: pb, Disp: 32}, b1)
	for r := 0; r < gemmMR; r++ {
		VBROADCASTSS(rowAddr(r), t)
		VFMADD231PS(b0, t, acc[r][0])
		VFMADD231PS(b1, t, acc[r][1])
	}
	ADDQ(ks, a0)
	ADDQ(ks, a3)
	ADDQ(ksb, pb)
	DECQ(kc)
	JMP(LabelRef("loop"))

	Label("done")
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	alpha := b0
	VBROADCASTSS(paramAddr("alpha"), alpha)
	for r := range acc {
		VMULPS(alpha, acc[r][0], acc[r][0])
		VMULPS(alpha, acc[r][1], acc[r][1])
	}
	accum := Load(Param("accum"), GP64())
	TESTQ(accum, accum)
	JZ(LabelRef("store"))
	beta := b1
	VBROADCASTSS(paramAddr("beta"), beta)
	row := GP64()
	MOVQ(pc, row)
	for r := range acc {
		VFMADD231PS(Mem{Base: row}, beta, acc[r][0])
		VFMADD231PS(Mem{Base: row, Disp: 32}, beta, acc[r][1])
		if r < gemmMR-1 {
			ADDQ(ldc, row)
		}
	}

	Label("store")
	for r := range acc {
		VMOVUPS(acc[r][0], Mem{Base: pc})
		VMOVUPS(acc[r][1], Mem{Base: pc, Disp: 32})
		if r < gemmMR-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
}

// broadcast loads the float32 parameter name into every lane of a new YMM.
func broadcast(name string) reg.VecVirtual {
	y := YMM()
	VBROADCASTSS(paramAddr(name), y)
	return y
}

// paramAddr is the frame address of a float32 parameter.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(fmt.Sprintf("asmgen: parameter %s: %v", name, err))
	}
	return b.Addr
}

// elemLoop emits a loop over n/8 blocks of 8 floats, calling body with the
// byte offset register; the caller's Go code handles the n%8 tail.
func elemLoop(n reg.Register, off reg.GPVirtual, body func(off reg.GPVirtual)) {
	SHRQ(U8(3), n)
	XORQ(off, off)
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	body(off)
	ADDQ(U32(32), off)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// sgd emits sgdAVX2: for each of the first n&^7 elements,
// g' = g + wd·p; p = p - lr·g' (multiplies and adds rounded separately, as
// the Go loop in optim.go, so the results are the same bits).
func sgd() {
	TEXT("sgdAVX2", NOSPLIT, "func(p, grad *float32, n int, lr, wd float32)")
	Pragma("noescape")
	Doc("sgdAVX2 is plain SGD over n&^7 elements (see asmgen).")
	pp := Load(Param("p"), GP64())
	pg := Load(Param("grad"), GP64())
	n := Load(Param("n"), GP64())
	lr, wd := broadcast("lr"), broadcast("wd")
	x, y := YMM(), YMM()
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: pp, Index: off, Scale: 1}, x)
		VMULPS(x, wd, y)
		VADDPS(Mem{Base: pg, Index: off, Scale: 1}, y, y) // g' = g + wd·p
		VMULPS(y, lr, y)
		VSUBPS(y, x, x)
		VMOVUPS(x, Mem{Base: pp, Index: off, Scale: 1})
	})
}

// sgdMomentum emits sgdMomentumAVX2: g' = g + wd·p; v = momentum·v + g';
// p = p - lr·v, rounded as the Go loop in optim.go.
func sgdMomentum() {
	TEXT("sgdMomentumAVX2", NOSPLIT, "func(p, grad, v *float32, n int, lr, momentum, wd float32)")
	Pragma("noescape")
	Doc("sgdMomentumAVX2 is SGD with momentum over n&^7 elements (see asmgen).")
	pp := Load(Param("p"), GP64())
	pg := Load(Param("grad"), GP64())
	pv := Load(Param("v"), GP64())
	n := Load(Param("n"), GP64())
	lr, mom, wd := broadcast("lr"), broadcast("momentum"), broadcast("wd")
	x, y, z := YMM(), YMM(), YMM()
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: pp, Index: off, Scale: 1}, x)
		VMULPS(x, wd, y)
		VADDPS(Mem{Base: pg, Index: off, Scale: 1}, y, y) // g'
		VMULPS(Mem{Base: pv, Index: off, Scale: 1}, mom, z)
		VADDPS(y, z, z) // v = momentum·v + g'
		VMOVUPS(z, Mem{Base: pv, Index: off, Scale: 1})
		VMULPS(z, lr, z)
		VSUBPS(z, x, x)
		VMOVUPS(x, Mem{Base: pp, Index: off, Scale: 1})
	})
}

// adam emits adamAVX2, the Adam update of optim.go for lerp weights
// |w1| < 0.5, rounded as the Go loop:
//
//	g' = g + wd·p
//	m  = m + w1·(g' - m)
//	v  = beta2·v + (w2·g')·g'
//	p  = p - stepSize·(m / (sqrt(v)/bc2Sqrt + eps))
func adam() {
	TEXT("adamAVX2", NOSPLIT, "func(p, grad, m, v *float32, n int, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32)")
	Pragma("noescape")
	Doc("adamAVX2 is the Adam update over n&^7 elements (see asmgen).")
	pp := Load(Param("p"), GP64())
	pg := Load(Param("grad"), GP64())
	pm := Load(Param("m"), GP64())
	pv := Load(Param("v"), GP64())
	n := Load(Param("n"), GP64())
	w1, beta2, w2 := broadcast("w1"), broadcast("beta2"), broadcast("w2")
	bc2, eps, step, wd := broadcast("bc2Sqrt"), broadcast("eps"), broadcast("stepSize"), broadcast("wd")
	x, gg, mm, vv, t := YMM(), YMM(), YMM(), YMM(), YMM()
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: pp, Index: off, Scale: 1}, x)
		VMULPS(x, wd, gg)
		VADDPS(Mem{Base: pg, Index: off, Scale: 1}, gg, gg) // g'
		VMOVUPS(Mem{Base: pm, Index: off, Scale: 1}, mm)
		VSUBPS(mm, gg, t) // g' - m
		VMULPS(t, w1, t)
		VADDPS(t, mm, mm) // m + w1·(g'-m)
		VMOVUPS(mm, Mem{Base: pm, Index: off, Scale: 1})
		VMULPS(Mem{Base: pv, Index: off, Scale: 1}, beta2, vv)
		VMULPS(gg, w2, t)
		VMULPS(gg, t, t)
		VADDPS(t, vv, vv) // beta2·v + (w2·g')·g'
		VMOVUPS(vv, Mem{Base: pv, Index: off, Scale: 1})
		VSQRTPS(vv, t)
		VDIVPS(bc2, t, t)
		VADDPS(eps, t, t) // denom
		VDIVPS(t, mm, t)  // m / denom
		VMULPS(t, step, t)
		VSUBPS(t, x, x)
		VMOVUPS(x, Mem{Base: pp, Index: off, Scale: 1})
	})
}

// rowLoop emits a loop over the h rows of a 3×3 correlation: per row it
// calls block for each full block of 8 columns (x = byte offset register,
// masked false) and once for the last partial block (masked true) when
// wd%8 != 0, then advances the row pointers out (by wd floats) and in (by
// wp floats).
func rowLoop(h, wd, wp reg.Register, x reg.GPVirtual, outs, ins []reg.Register, block func(x reg.GPVirtual, masked bool)) {
	rowLoopN(1, h, wd, wp, x, outs, ins, block)
}

// rowLoopN is rowLoop over h groups of rows rows each: the row pointers
// advance by rows rows per group.
func rowLoopN(rows int, h, wd, wp reg.Register, x reg.GPVirtual, outs, ins []reg.Register, block func(x reg.GPVirtual, masked bool)) {
	full := GP64()
	MOVQ(wd, full)
	SHRQ(U8(3), full)
	SHLQ(U8(5), full) // bytes of the full blocks
	SHLQ(U8(2), wd)
	SHLQ(U8(2), wp)
	Label("row")
	TESTQ(h, h)
	JZ(LabelRef("end"))
	XORQ(x, x)
	Label("col")
	CMPQ(x, full)
	JAE(LabelRef("tail"))
	block(x, false)
	ADDQ(U32(32), x)
	JMP(LabelRef("col"))
	Label("tail")
	CMPQ(x, wd)
	JAE(LabelRef("next"))
	block(x, true)
	Label("next")
	for r := 0; r < rows; r++ {
		for _, o := range outs {
			ADDQ(wd, o)
		}
		for _, i := range ins {
			ADDQ(wp, i)
		}
	}
	DECQ(h)
	JMP(LabelRef("row"))
	Label("end")
}

// load8 loads 8 floats at m, masked (lanes off read as 0, never fault) or
// not.
func load8(m Mem, mask, dst reg.VecVirtual, masked bool) {
	if masked {
		VMASKMOVPS(m, mask, dst)
	} else {
		VMOVUPS(m, dst)
	}
}

// corr3 emits corr3AVX2, the 3×3 correlation of conv.go's corr3 vectorised
// along the row: for each of the h rows of dst (wd floats, stride wd),
// dst[x] (+)= Σ_{ky,kx} w[ky·3+kx]·src[(y+ky)·wp + x + kx] with FMAs (one
// accumulator per kernel row, added as dst + (row 0 + (row 1 + row 2))), 8
// columns at a time; the last partial block goes through masked loads
// (mask: wd%8 lanes on, from the Go side) and plain partial stores.
func corr3() {
	TEXT("corr3AVX2", NOSPLIT, "func(dst, src, w *float32, h, wd, wp int, acc int, mask *int32)")
	Pragma("noescape")
	Doc("corr3AVX2 is the row-vectorised 3×3 correlation (see asmgen).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	pw := Load(Param("w"), GP64())
	var wt [9]reg.VecVirtual
	for i := range wt {
		wt[i] = YMM()
		VBROADCASTSS(Mem{Base: pw, Disp: 4 * i}, wt[i])
	}
	h := Load(Param("h"), GP64())
	wd := Load(Param("wd"), GP64())
	wp := Load(Param("wp"), GP64())
	acc := Load(Param("acc"), GP64())
	pm := Load(Param("mask"), GP64())
	mask := YMM()
	VMOVDQU(Mem{Base: pm}, mask)
	tail := GP64() // wd % 8: the lanes of the last partial block
	MOVQ(wd, tail)
	ANDQ(U32(7), tail)
	wpb := GP64() // row stride of src in bytes, for the three input rows
	MOVQ(wp, wpb)
	SHLQ(U8(2), wpb)
	v, v1, v2, in := YMM(), YMM(), YMM(), YMM()
	x := GP64()
	rowLoop(h, wd, wp, x, []reg.Register{dst}, []reg.Register{src}, func(x reg.GPVirtual, masked bool) {
		out := Mem{Base: dst, Index: x, Scale: 1}
		r0 := Mem{Base: src, Index: x, Scale: 1}
		VXORPS(v, v, v)
		lbl := "noacc_full"
		if masked {
			lbl = "noacc_tail"
		}
		TESTQ(acc, acc)
		JZ(LabelRef(lbl))
		load8(out, mask, v, masked)
		Label(lbl)
		row := GP64()
		LEAQ(r0, row)
		// One accumulator per kernel row (v, v1, v2) shortens the chain of
		// dependent FMAs from 9 to 3.
		accs := [3]reg.VecVirtual{v, v1, v2}
		VXORPS(v1, v1, v1)
		VXORPS(v2, v2, v2)
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				load8(Mem{Base: row, Disp: 4 * kx}, mask, in, masked)
				VFMADD231PS(in, wt[ky*3+kx], accs[ky])
			}
			if ky < 2 {
				ADDQ(wpb, row)
			}
		}
		VADDPS(v2, v1, v1)
		VADDPS(v1, v, v)
		if masked {
			storeTail(v, out, tail)
		} else {
			VMOVUPS(v, out)
		}
	})
	VZEROUPPER()
	RET()
}

// corr3x2 emits corr3x2AVX2, corr3AVX2 for pairs of output rows: each of
// the four input rows a pair reads is loaded once per block of 8 columns
// and feeds both rows' FMAs (12 loads for 18 FMAs instead of 18), with the
// nine weights in registers. Output row y of a pair sums kernel rows 0 and
// 1 into one accumulator (started from dst with acc, else 0) and kernel
// row 2 into another, then adds the two. h counts pairs.
func corr3x2() {
	TEXT("corr3x2AVX2", NOSPLIT, "func(dst, src, w *float32, h, wd, wp int, acc int, mask *int32)")
	Pragma("noescape")
	Doc("corr3x2AVX2 is the row-vectorised 3×3 correlation, two output rows at a time (see asmgen).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	pw := Load(Param("w"), GP64())
	var wt [9]reg.VecVirtual
	for i := range wt {
		wt[i] = YMM()
		VBROADCASTSS(Mem{Base: pw, Disp: 4 * i}, wt[i])
	}
	h := Load(Param("h"), GP64())
	wd := Load(Param("wd"), GP64())
	wp := Load(Param("wp"), GP64())
	acc := Load(Param("acc"), GP64())
	pm := Load(Param("mask"), GP64())
	mask := YMM()
	VMOVDQU(Mem{Base: pm}, mask)
	tail := GP64() // wd % 8: the lanes of the last partial block
	MOVQ(wd, tail)
	ANDQ(U32(7), tail)
	wdb := GP64() // row stride of dst in bytes
	MOVQ(wd, wdb)
	SHLQ(U8(2), wdb)
	wpb := GP64() // row stride of src in bytes
	MOVQ(wp, wpb)
	SHLQ(U8(2), wpb)
	a1, a2, b1, b2, in := YMM(), YMM(), YMM(), YMM(), YMM()
	x := GP64()
	rowLoopN(2, h, wd, wp, x, []reg.Register{dst}, []reg.Register{src}, func(x reg.GPVirtual, masked bool) {
		outA := Mem{Base: dst, Index: x, Scale: 1}
		outB := GP64()
		LEAQ(outA, outB)
		ADDQ(wdb, outB)
		VXORPS(a1, a1, a1)
		VXORPS(b1, b1, b1)
		lbl := "noacc_full"
		if masked {
			lbl = "noacc_tail"
		}
		TESTQ(acc, acc)
		JZ(LabelRef(lbl))
		load8(outA, mask, a1, masked)
		load8(Mem{Base: outB}, mask, b1, masked)
		Label(lbl)
		VXORPS(a2, a2, a2)
		VXORPS(b2, b2, b2)
		row := GP64()
		LEAQ(Mem{Base: src, Index: x, Scale: 1}, row)
		for r := 0; r < 4; r++ { // input rows y..y+3
			for kx := 0; kx < 3; kx++ {
				load8(Mem{Base: row, Disp: 4 * kx}, mask, in, masked)
				if r <= 2 { // output row y, kernel row r
					VFMADD231PS(in, wt[r*3+kx], [3]reg.VecVirtual{a1, a1, a2}[r])
				}
				if r >= 1 { // output row y+1, kernel row r-1
					VFMADD231PS(in, wt[(r-1)*3+kx], [3]reg.VecVirtual{b1, b1, b2}[r-1])
				}
			}
			if r < 3 {
				ADDQ(wpb, row)
			}
		}
		VADDPS(a2, a1, a1)
		VADDPS(b2, b1, b1)
		if masked {
			storeTailL(a1, outA, tail, "tailA")
			storeTailL(b1, Mem{Base: outB}, tail, "tailB")
		} else {
			VMOVUPS(a1, outA)
			VMOVUPS(b1, Mem{Base: outB})
		}
	})
	VZEROUPPER()
	RET()
}

// storeTail stores the first t lanes of v at m (t = 1..7 in register t) with
// plain 4-, 2- and 1-float stores: AMD's masked stores are microcoded and
// slow. It clobbers v.
func storeTail(v reg.VecVirtual, m Mem, t reg.Register) { storeTailL(v, m, t, "tail") }

// storeTailL is storeTail with its labels prefixed by p, for functions with
// several partial stores.
func storeTailL(v reg.VecVirtual, m Mem, t reg.Register, p string) {
	addr := GP64()
	LEAQ(m, addr)
	x := v.AsX()
	TESTQ(U32(4), t)
	JZ(LabelRef(p + "2"))
	VMOVUPS(x, Mem{Base: addr})
	VEXTRACTF128(U8(1), v, x)
	ADDQ(U32(16), addr)
	Label(p + "2")
	TESTQ(U32(2), t)
	JZ(LabelRef(p + "1"))
	VMOVLPS(x, Mem{Base: addr})
	VMOVHLPS(x, x, x)
	ADDQ(U32(8), addr)
	Label(p + "1")
	TESTQ(U32(1), t)
	JZ(LabelRef(p + "0"))
	VMOVSS(x, Mem{Base: addr})
	Label(p + "0")
}

// filterGrad3 emits filterGrad3AVX2, conv.go's filterGrad3 vectorised along
// the row: nine accumulators of 8 lanes sum g[y, x]·src[(y+ky)·wp + x + kx]
// over the plane (masked loads for the last partial block of each row,
// whose lanes off read as 0), then each is summed across its lanes (pairs,
// then pairs of pairs: a fixed order) and added to dst[ky·3+kx].
func filterGrad3() {
	TEXT("filterGrad3AVX2", NOSPLIT, "func(dst, grad, src *float32, h, wd, wp int, mask *int32)")
	Pragma("noescape")
	Doc("filterGrad3AVX2 is the row-vectorised 3×3 filter gradient (see asmgen).")
	pg := Load(Param("grad"), GP64())
	src := Load(Param("src"), GP64())
	h := Load(Param("h"), GP64())
	wd := Load(Param("wd"), GP64())
	wp := Load(Param("wp"), GP64())
	pm := Load(Param("mask"), GP64())
	var s [9]reg.VecVirtual
	for i := range s {
		s[i] = YMM()
		VXORPS(s[i], s[i], s[i])
	}
	mask, gv, in := YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: pm}, mask)
	wpb := GP64()
	MOVQ(wp, wpb)
	SHLQ(U8(2), wpb)
	x := GP64()
	rowLoop(h, wd, wp, x, []reg.Register{pg}, []reg.Register{src}, func(x reg.GPVirtual, masked bool) {
		load8(Mem{Base: pg, Index: x, Scale: 1}, mask, gv, masked)
		row := GP64()
		LEAQ(Mem{Base: src, Index: x, Scale: 1}, row)
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				load8(Mem{Base: row, Disp: 4 * kx}, mask, in, masked)
				VFMADD231PS(in, gv, s[ky*3+kx])
			}
			if ky < 2 {
				ADDQ(wpb, row)
			}
		}
	})
	dst := Load(Param("dst"), GP64())
	for i := range s {
		hi := XMM()
		VEXTRACTF128(U8(1), s[i], hi)
		lo := s[i].AsX()
		VADDPS(hi, lo, lo)  // 4 lanes
		VHADDPS(lo, lo, lo) // (0+1, 2+3, ...)
		VHADDPS(lo, lo, lo) // (0+1)+(2+3)
		VADDSS(Mem{Base: dst, Disp: 4 * i}, lo, lo)
		VMOVSS(lo, Mem{Base: dst, Disp: 4 * i})
	}
	VZEROUPPER()
	RET()
}

// filterGrad3x2 emits filterGrad3x2AVX2, filterGrad3AVX2 over pairs of
// rows of g: input row y+1 serves tap row 1 of g's row y and tap row 0 of
// row y+1 (and likewise y+2), so a pair loads 2 rows of g and 12 of src for
// 18 FMAs instead of 20 loads. Each of the nine accumulators takes row y's
// product, then row y+1's, block by block; h counts pairs.
func filterGrad3x2() {
	TEXT("filterGrad3x2AVX2", NOSPLIT, "func(dst, grad, src *float32, h, wd, wp int, mask *int32)")
	Pragma("noescape")
	Doc("filterGrad3x2AVX2 is the row-vectorised 3×3 filter gradient, two rows of grad at a time (see asmgen).")
	pg := Load(Param("grad"), GP64())
	src := Load(Param("src"), GP64())
	h := Load(Param("h"), GP64())
	wd := Load(Param("wd"), GP64())
	wp := Load(Param("wp"), GP64())
	pm := Load(Param("mask"), GP64())
	var s [9]reg.VecVirtual
	for i := range s {
		s[i] = YMM()
		VXORPS(s[i], s[i], s[i])
	}
	mask, g0, g1, in := YMM(), YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: pm}, mask)
	wdb := GP64()
	MOVQ(wd, wdb)
	SHLQ(U8(2), wdb)
	wpb := GP64()
	MOVQ(wp, wpb)
	SHLQ(U8(2), wpb)
	x := GP64()
	rowLoopN(2, h, wd, wp, x, []reg.Register{pg}, []reg.Register{src}, func(x reg.GPVirtual, masked bool) {
		load8(Mem{Base: pg, Index: x, Scale: 1}, mask, g0, masked)
		g1p := GP64()
		LEAQ(Mem{Base: pg, Index: x, Scale: 1}, g1p)
		ADDQ(wdb, g1p)
		load8(Mem{Base: g1p}, mask, g1, masked)
		row := GP64()
		LEAQ(Mem{Base: src, Index: x, Scale: 1}, row)
		for r := 0; r < 4; r++ { // input rows y..y+3
			for kx := 0; kx < 3; kx++ {
				load8(Mem{Base: row, Disp: 4 * kx}, mask, in, masked)
				if r <= 2 { // g row y, tap row r
					VFMADD231PS(in, g0, s[r*3+kx])
				}
				if r >= 1 { // g row y+1, tap row r-1
					VFMADD231PS(in, g1, s[(r-1)*3+kx])
				}
			}
			if r < 3 {
				ADDQ(wpb, row)
			}
		}
	})
	dst := Load(Param("dst"), GP64())
	for i := range s {
		hi := XMM()
		VEXTRACTF128(U8(1), s[i], hi)
		lo := s[i].AsX()
		VADDPS(hi, lo, lo)  // 4 lanes
		VHADDPS(lo, lo, lo) // (0+1, 2+3, ...)
		VHADDPS(lo, lo, lo) // (0+1)+(2+3)
		VADDSS(Mem{Base: dst, Disp: 4 * i}, lo, lo)
		VMOVSS(lo, Mem{Base: dst, Disp: 4 * i})
	}
	VZEROUPPER()
	RET()
}

// relu emits reluForwardAVX2 and reluBackwardAVX2, activation.go's ReLU
// loops over n&^7 elements with the same bits:
//
//	forward:  y = max(x, 0) + 0  (MAXPS returns x when x is NaN; + 0 turns -0 into +0, as Go's max)
//	backward: dx = dy & (y > 0)  (an ordered compare: NaN gives 0)
func relu() {
	TEXT("reluForwardAVX2", NOSPLIT, "func(x, y *float32, n int)")
	Pragma("noescape")
	Doc("reluForwardAVX2 is y = max(x, 0) over n&^7 elements (see asmgen).")
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	zero, v := YMM(), YMM()
	VXORPS(zero, zero, zero)
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: px, Index: off, Scale: 1}, v)
		VMAXPS(v, zero, v) // Intel order: max(zero, x), x when either is NaN
		VADDPS(zero, v, v)
		VMOVUPS(v, Mem{Base: py, Index: off, Scale: 1})
	})

	TEXT("reluBackwardAVX2", NOSPLIT, "func(y, dy, dx *float32, n int)")
	Pragma("noescape")
	Doc("reluBackwardAVX2 is dx = dy where y > 0, else 0, over n&^7 elements (see asmgen).")
	py = Load(Param("y"), GP64())
	pdy := Load(Param("dy"), GP64())
	pdx := Load(Param("dx"), GP64())
	n = Load(Param("n"), GP64())
	zero, m := YMM(), YMM()
	VXORPS(zero, zero, zero)
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: py, Index: off, Scale: 1}, m)
		VCMPPS(U8(0x1e), zero, m, m) // GT_OQ: y > 0, false for NaN
		VANDPS(Mem{Base: pdy, Index: off, Scale: 1}, m, m)
		VMOVUPS(m, Mem{Base: pdx, Index: off, Scale: 1})
	})
}

// transpose8 emits transpose8x8AVX2: dst[c·ldd + r] = src[r·lds + c] for an
// 8×8 block (strides in bytes), by unpack, shuffle and 128-bit lane
// permutes. The GEMM packs Bᵀ with it.
func transpose8() {
	TEXT("transpose8x8AVX2", NOSPLIT, "func(src *float32, lds int, dst *float32, ldd int)")
	Pragma("noescape")
	Doc("transpose8x8AVX2 transposes an 8×8 block of floats (see asmgen).")
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	var r [8]reg.VecVirtual
	for i := range r {
		r[i] = YMM()
		VMOVUPS(Mem{Base: src}, r[i])
		if i < 7 {
			ADDQ(lds, src)
		}
	}
	var t [8]reg.VecVirtual
	for i := 0; i < 8; i += 2 {
		t[i], t[i+1] = YMM(), YMM()
		VUNPCKLPS(r[i+1], r[i], t[i])   // r[i]0 r[i+1]0 r[i]1 r[i+1]1 | same +4
		VUNPCKHPS(r[i+1], r[i], t[i+1]) // r[i]2 r[i+1]2 r[i]3 r[i+1]3 | same +4
	}
	var u [8]reg.VecVirtual
	for h := 0; h < 8; h += 4 { // rows 0-3, then rows 4-7
		for j := 0; j < 2; j++ {
			u[h+2*j], u[h+2*j+1] = YMM(), YMM()
			VSHUFPS(U8(0x44), t[h+2+j], t[h+j], u[h+2*j])   // column 2j (and 2j+4) of the 4 rows
			VSHUFPS(U8(0xEE), t[h+2+j], t[h+j], u[h+2*j+1]) // column 2j+1 (and 2j+5)
		}
	}
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	for c := 0; c < 8; c++ {
		o := YMM()
		imm := U8(0x20) // low lanes: columns 0-3
		if c >= 4 {
			imm = U8(0x31) // high lanes: columns 4-7
		}
		VPERM2F128(imm, u[4+c%4], u[c%4], o)
		VMOVUPS(o, Mem{Base: dst})
		if c < 7 {
			ADDQ(ldd, dst)
		}
	}
	VZEROUPPER()
	RET()
}

// batchNorm emits the batch-norm loops of batchnorm.go over n&^7 elements
// of one row of a channel:
//
//	bnAffineAVX2:      y = (x - shift)·scale + beta                 (the Go loop's bits)
//	bnBackwardDxAVX2:  dx = k·((dy - mdy) - ((x - mean)·istd)·mdyx) (the Go loop's bits)
//	bnBackwardSumsAVX2: sums[0] = Σ dy, sums[1] = Σ dy·((x - mean)·istd),
//	                   in 8 lanes, then across the lanes in a fixed order
func batchNorm() {
	TEXT("bnAffineAVX2", NOSPLIT, "func(x, y *float32, n int, shift, scale, beta float32)")
	Pragma("noescape")
	Doc("bnAffineAVX2 is batch norm's y = (x - shift)·scale + beta over n&^7 elements (see asmgen).")
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	shift, scale, beta := broadcast("shift"), broadcast("scale"), broadcast("beta")
	v := YMM()
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: px, Index: off, Scale: 1}, v)
		VSUBPS(shift, v, v)
		VMULPS(scale, v, v)
		VADDPS(beta, v, v)
		VMOVUPS(v, Mem{Base: py, Index: off, Scale: 1})
	})

	TEXT("bnBackwardDxAVX2", NOSPLIT, "func(x, dy, dx *float32, n int, mean, istd, k, mdy, mdyx float32)")
	Pragma("noescape")
	Doc("bnBackwardDxAVX2 is batch norm's input gradient over n&^7 elements (see asmgen).")
	px = Load(Param("x"), GP64())
	pdy := Load(Param("dy"), GP64())
	pdx := Load(Param("dx"), GP64())
	n = Load(Param("n"), GP64())
	mean, istd, k := broadcast("mean"), broadcast("istd"), broadcast("k")
	mdy, mdyx := broadcast("mdy"), broadcast("mdyx")
	xh, d := YMM(), YMM()
	elemLoop(n, GP64(), func(off reg.GPVirtual) {
		VMOVUPS(Mem{Base: px, Index: off, Scale: 1}, xh)
		VSUBPS(mean, xh, xh)
		VMULPS(istd, xh, xh)
		VMULPS(mdyx, xh, xh)
		VMOVUPS(Mem{Base: pdy, Index: off, Scale: 1}, d)
		VSUBPS(mdy, d, d)
		VSUBPS(xh, d, d)
		VMULPS(k, d, d)
		VMOVUPS(d, Mem{Base: pdx, Index: off, Scale: 1})
	})

	TEXT("bnBackwardSumsAVX2", NOSPLIT, "func(x, dy *float32, n int, mean, istd float32, sums *float32)")
	Pragma("noescape")
	Doc("bnBackwardSumsAVX2 sums dy and dy·x̂ over n&^7 elements (see asmgen).")
	px = Load(Param("x"), GP64())
	pdy = Load(Param("dy"), GP64())
	n = Load(Param("n"), GP64())
	mean, istd = broadcast("mean"), broadcast("istd")
	sa, sg, t, g := YMM(), YMM(), YMM(), YMM()
	VXORPS(sa, sa, sa)
	VXORPS(sg, sg, sg)
	off := GP64()
	SHRQ(U8(3), n)
	XORQ(off, off)
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VMOVUPS(Mem{Base: pdy, Index: off, Scale: 1}, g)
	VADDPS(g, sa, sa)
	VMOVUPS(Mem{Base: px, Index: off, Scale: 1}, t)
	VSUBPS(mean, t, t)
	VMULPS(istd, t, t)
	VFMADD231PS(t, g, sg)
	ADDQ(U32(32), off)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	out := Load(Param("sums"), GP64())
	for i, acc := range []reg.VecVirtual{sa, sg} {
		hi := XMM()
		VEXTRACTF128(U8(1), acc, hi)
		lo := acc.AsX()
		VADDPS(hi, lo, lo)
		VHADDPS(lo, lo, lo)
		VHADDPS(lo, lo, lo)
		VMOVSS(lo, Mem{Base: out, Disp: 4 * i})
	}
	VZEROUPPER()
	RET()
}

// goMax emits r = Go's max(x, y) for 8 lanes: the larger; when the two are
// equal, x AND y (the same bits, or +0 for zeros of both signs, as Go); a
// NaN when either is NaN (x + y). x and y are kept; t and u are scratch.
func goMax(x, y, r, t, u reg.VecVirtual) {
	VMAXPS(y, x, r)           // Intel max(x, y)
	VCMPPS(U8(0x00), y, x, t) // EQ_OQ
	VANDPS(y, x, u)
	VBLENDVPS(t, u, r, r)
	VCMPPS(U8(0x03), y, x, t) // UNORD_Q
	VADDPS(y, x, u)
	VBLENDVPS(t, u, r, r)
}

// maxPool emits maxPoolFwdAVX2, the 2×2 stride-2 max-pool forward of one
// plane with Go's max (maxpool.go): for each of oh output rows it reads
// input rows 2·oy and 2·oy+1 (w floats apart), takes the elementwise max of
// the two rows, then of each pair of neighbours (after an even/odd shuffle),
// and writes ow outputs, 8 at a time; the last partial block uses masked
// loads (mlo, mhi: the lanes of the 16 inputs) and plain partial stores.
func maxPool() {
	TEXT("maxPoolFwdAVX2", NOSPLIT, "func(x, y *float32, oh, ow, w int, mlo, mhi *int32)")
	Pragma("noescape")
	Doc("maxPoolFwdAVX2 is the 2×2 max-pool forward of one plane (see asmgen).")
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	oh := Load(Param("oh"), GP64())
	ow := Load(Param("ow"), GP64())
	w := Load(Param("w"), GP64())
	ml, mh := YMM(), YMM()
	VMOVDQU(Mem{Base: Load(Param("mlo"), GP64())}, ml)
	VMOVDQU(Mem{Base: Load(Param("mhi"), GP64())}, mh)
	tail := GP64() // ow % 8: outputs of the last partial block
	MOVQ(ow, tail)
	ANDQ(U32(7), tail)
	SHLQ(U8(2), w) // bytes between input rows
	full := GP64() // outputs in full blocks of 8
	MOVQ(ow, full)
	ANDQ(I32(-8), full)
	r1 := GP64()
	a0, b0, a1, b1, t, u := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	e, o := YMM(), YMM()
	block := func(i, out reg.GPVirtual, masked bool) {
		// i: output index; inputs at byte 8·i of the two rows.
		in := GP64()
		MOVQ(i, in)
		SHLQ(U8(3), in)
		if masked {
			VMASKMOVPS(Mem{Base: px, Index: in, Scale: 1}, ml, a0)
			VMASKMOVPS(Mem{Base: px, Index: in, Scale: 1, Disp: 32}, mh, b0)
			VMASKMOVPS(Mem{Base: r1, Index: in, Scale: 1}, ml, a1)
			VMASKMOVPS(Mem{Base: r1, Index: in, Scale: 1, Disp: 32}, mh, b1)
		} else {
			VMOVUPS(Mem{Base: px, Index: in, Scale: 1}, a0)
			VMOVUPS(Mem{Base: px, Index: in, Scale: 1, Disp: 32}, b0)
			VMOVUPS(Mem{Base: r1, Index: in, Scale: 1}, a1)
			VMOVUPS(Mem{Base: r1, Index: in, Scale: 1, Disp: 32}, b1)
		}
		va, vb := YMM(), YMM()
		goMax(a0, a1, va, t, u) // columns 2i..2i+7 of both rows
		goMax(b0, b1, vb, t, u)
		VSHUFPS(U8(0x88), vb, va, e) // even columns: outputs 0 1 4 5 | 2 3 6 7
		VSHUFPS(U8(0xDD), vb, va, o) // odd columns, same order
		r := YMM()
		goMax(e, o, r, t, u)
		VPERMPD(U8(0xD8), r, r) // outputs 0-7 in order
		if masked {
			storeTail(r, Mem{Base: py, Index: out, Scale: 4}, tail)
		} else {
			VMOVUPS(r, Mem{Base: py, Index: out, Scale: 4})
		}
	}
	Label("row")
	TESTQ(oh, oh)
	JZ(LabelRef("end"))
	LEAQ(Mem{Base: px, Index: w, Scale: 1}, r1)
	i := GP64()
	XORQ(i, i)
	Label("col")
	CMPQ(i, full)
	JAE(LabelRef("tail"))
	block(i, i, false)
	ADDQ(U32(8), i)
	JMP(LabelRef("col"))
	Label("tail")
	CMPQ(i, ow)
	JAE(LabelRef("next"))
	block(i, i, true)
	Label("next")
	LEAQ(Mem{Base: px, Index: w, Scale: 2}, px) // two input rows down
	LEAQ(Mem{Base: py, Index: ow, Scale: 4}, py)
	DECQ(oh)
	JMP(LabelRef("row"))
	Label("end")
	VZEROUPPER()
	RET()
}

// maxPoolBack emits maxPoolBackAVX2, the 2×2 max-pool backward of one plane
// (maxpool.go's argmax4): for each window it writes dy to the position of
// the maximum and 0 to the three others, 8 windows at a time. Without NaNs
// the maximum's position is the first element equal to Go's max; with a NaN
// it is the last NaN. The last partial block uses masked loads (mlo, mhi
// for the 16 inputs of a row, mg for dy) and stores of lo and hi floats of
// each row's two halves (lo = 8 means a full store).
func maxPoolBack() {
	TEXT("maxPoolBackAVX2", NOSPLIT, "func(x, dy, dx *float32, oh, ow, w int, mlo, mhi, mg *int32, lo, hi int)")
	Pragma("noescape")
	Doc("maxPoolBackAVX2 is the 2×2 max-pool backward of one plane (see asmgen).")
	px := Load(Param("x"), GP64())
	pdy := Load(Param("dy"), GP64())
	pdx := Load(Param("dx"), GP64())
	oh := Load(Param("oh"), GP64())
	ow := Load(Param("ow"), GP64())
	w := Load(Param("w"), GP64())
	SHLQ(U8(2), w)
	full := GP64()
	MOVQ(ow, full)
	ANDQ(I32(-8), full)
	i := GP64()
	in := GP64()
	block := func(masked bool) {
		MOVQ(i, in)
		SHLQ(U8(3), in) // byte offset of the window's inputs
		ld := func(base reg.Register, disp int, maskName string, dst reg.VecVirtual) {
			m := Mem{Base: base, Index: in, Scale: 1, Disp: disp}
			if masked {
				mk := YMM()
				VMOVDQU(Mem{Base: Load(Param(maskName), GP64())}, mk)
				VMASKMOVPS(m, mk, dst)
			} else {
				VMOVUPS(m, dst)
			}
		}
		r1 := GP64()
		LEAQ(Mem{Base: px, Index: w, Scale: 1}, r1)
		A0, B0, A1, B1 := YMM(), YMM(), YMM(), YMM()
		ld(px, 0, "mlo", A0)
		ld(px, 32, "mhi", B0)
		ld(r1, 0, "mlo", A1)
		ld(r1, 32, "mhi", B1)
		a, b, c, d := YMM(), YMM(), YMM(), YMM()
		VSHUFPS(U8(0x88), B0, A0, a) // windows 0 1 4 5 | 2 3 6 7
		VSHUFPS(U8(0xDD), B0, A0, b)
		VSHUFPS(U8(0x88), B1, A1, c)
		VSHUFPS(U8(0xDD), B1, A1, d)
		t, u, m1, m2, m := YMM(), YMM(), YMM(), YMM(), YMM()
		goMax(a, b, m1, t, u)
		goMax(c, d, m2, t, u)
		goMax(m1, m2, m, t, u)
		// First element equal to the max (no NaN): ea, eb, ec, ed.
		ea, eb, ec, ed := YMM(), YMM(), YMM(), YMM()
		VCMPPS(U8(0x00), m, a, ea)
		VCMPPS(U8(0x00), m, b, eb)
		VANDNPS(eb, ea, eb) // eb &^ ea
		VCMPPS(U8(0x00), m, c, ec)
		VORPS(ea, eb, t) // taken
		VANDNPS(ec, t, ec)
		VORPS(ec, t, t)
		VCMPPS(U8(0x0F), t, t, ed) // TRUE_UQ: all ones
		VANDNPS(ed, t, ed)         // not taken
		// The last NaN: na..nd (unordered with itself).
		na, nb, nc, nd := m1, m2, u, YMM()
		VCMPPS(U8(0x03), a, a, na)
		VCMPPS(U8(0x03), b, b, nb)
		VCMPPS(U8(0x03), c, c, nc)
		VCMPPS(U8(0x03), d, d, nd)
		any := YMM()
		VORPS(na, nb, any)
		VORPS(nc, any, any)
		VORPS(nd, any, any)
		VANDNPS(nc, nd, nc) // nc &^ nd
		VORPS(nc, nd, t)    // nc | nd (after: nc is nc &^ nd)
		VANDNPS(nb, t, nb)  // nb &^ (nc|nd)
		VORPS(nb, t, t)
		VANDNPS(na, t, na)
		VBLENDVPS(any, na, ea, ea)
		VBLENDVPS(any, nb, eb, eb)
		VBLENDVPS(any, nc, ec, ec)
		VBLENDVPS(any, nd, ed, ed)
		// dy in the same window order, then the four gradients.
		g := a
		gm := Mem{Base: pdy, Index: i, Scale: 4}
		if masked {
			mk := b
			VMOVDQU(Mem{Base: Load(Param("mg"), GP64())}, mk)
			VMASKMOVPS(gm, mk, g)
		} else {
			VMOVUPS(gm, g)
		}
		VPERMPD(U8(0xD8), g, g)
		VANDPS(g, ea, ea)
		VANDPS(g, eb, eb)
		VANDPS(g, ec, ec)
		VANDPS(g, ed, ed)
		rows := [][2]reg.VecVirtual{{ea, eb}, {ec, ed}}
		o1 := GP64()
		LEAQ(Mem{Base: pdx, Index: w, Scale: 1}, o1)
		for r, bases := range []reg.Register{pdx, o1} {
			lo, hi := YMM(), YMM()
			VUNPCKLPS(rows[r][1], rows[r][0], lo)
			VUNPCKHPS(rows[r][1], rows[r][0], hi)
			mlo := Mem{Base: bases, Index: in, Scale: 1}
			mhi := Mem{Base: bases, Index: in, Scale: 1, Disp: 32}
			if !masked {
				VMOVUPS(lo, mlo)
				VMOVUPS(hi, mhi)
				continue
			}
			nlo := Load(Param("lo"), GP64())
			pre := fmt.Sprintf("r%d", r)
			CMPQ(nlo, U32(8))
			JB(LabelRef(pre + "lopart"))
			VMOVUPS(lo, mlo)
			nhi := Load(Param("hi"), GP64())
			TESTQ(nhi, nhi)
			JZ(LabelRef(pre + "done"))
			storeTailL(hi, mhi, nhi, pre+"hi")
			JMP(LabelRef(pre + "done"))
			Label(pre + "lopart")
			storeTailL(lo, mlo, nlo, pre+"lo")
			Label(pre + "done")
		}
	}
	Label("row")
	TESTQ(oh, oh)
	JZ(LabelRef("end"))
	XORQ(i, i)
	Label("col")
	CMPQ(i, full)
	JAE(LabelRef("tail"))
	block(false)
	ADDQ(U32(8), i)
	JMP(LabelRef("col"))
	Label("tail")
	CMPQ(i, ow)
	JAE(LabelRef("next"))
	block(true)
	Label("next")
	LEAQ(Mem{Base: px, Index: w, Scale: 2}, px)
	LEAQ(Mem{Base: pdx, Index: w, Scale: 2}, pdx)
	LEAQ(Mem{Base: pdy, Index: ow, Scale: 4}, pdy)
	DECQ(oh)
	JMP(LabelRef("row"))
	Label("end")
	VZEROUPPER()
	RET()
}

// sqDev emits sqDevAVX2, batch norm's Σ (x - mean)² in float64 over n&^7
// elements: 8 floats a step widened to two vectors of 4 doubles, each with
// its own accumulator, added at the end, then across the lanes.
func sqDev() {
	TEXT("sqDevAVX2", NOSPLIT, "func(x *float32, n int, mean float64) float64")
	Pragma("noescape")
	Doc("sqDevAVX2 is Σ (x - mean)² in float64 over n&^7 elements (see asmgen).")
	px := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	mean := YMM()
	VBROADCASTSD(paramAddr("mean"), mean)
	a0, a1, e0, e1 := YMM(), YMM(), YMM(), YMM()
	VXORPD(a0, a0, a0)
	VXORPD(a1, a1, a1)
	SHRQ(U8(3), n)
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VCVTPS2PD(Mem{Base: px}, e0)
	VCVTPS2PD(Mem{Base: px, Disp: 16}, e1)
	VSUBPD(mean, e0, e0)
	VSUBPD(mean, e1, e1)
	VFMADD231PD(e0, e0, a0)
	VFMADD231PD(e1, e1, a1)
	ADDQ(U32(32), px)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VADDPD(a1, a0, a0)
	hi := XMM()
	VEXTRACTF128(U8(1), a0, hi)
	lo := a0.AsX()
	VADDPD(hi, lo, lo)
	VHADDPD(lo, lo, lo)
	Store(lo, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// sumLanes emits sumLanesAVX2: lanes[j] += x[8k+j] over the n&^7 elements,
// in order of k, with one 8-lane accumulator: bias.go's sum32 keeps the
// same eight chains in Go, so both give the same bits.
func sumLanes() {
	TEXT("sumLanesAVX2", NOSPLIT, "func(x *float32, n int, lanes *float32)")
	Pragma("noescape")
	Doc("sumLanesAVX2 adds x's n&^7 elements into 8 lanes, lane j taking elements 8k+j (see asmgen).")
	px := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	pl := Load(Param("lanes"), GP64())
	acc := YMM()
	VMOVUPS(Mem{Base: pl}, acc)
	SHRQ(U8(3), n)
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VADDPS(Mem{Base: px}, acc, acc) // acc + x: Go's lane += x
	ADDQ(U32(32), px)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VMOVUPS(acc, Mem{Base: pl})
	VZEROUPPER()
	RET()
}
