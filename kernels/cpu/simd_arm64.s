//go:build !noasm

#include "textflag.h"

// Hand-written NEON kernels of the arm64 vector path (avo does not target
// arm64). R18 is never used (reserved on darwin). Go's assembler has no
// mnemonics for the vector FMUL/FADD/FSUB, so those are WORD-encoded, each
// with its instruction in a comment.

// func gemmKernelNEON(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int)
//
// The 4×16 micro-kernel: over kc steps p, acc[r][j] += A(r, p)·B(p, j) with
// A(r, p) at a + r·rsA + p·ksA and row p of B the 16 floats at b + p·ksB
// (strides in bytes); then C = alpha·acc (accum = 0) or alpha·acc + beta·C
// (fused), rows ldc floats apart. Accumulators: row r in V(16+4r)..V(19+4r).
TEXT ·gemmKernelNEON(SB), NOSPLIT, $0-80
	MOVD	kc+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	rsA+16(FP), R2
	MOVD	ksA+24(FP), R3
	MOVD	b+32(FP), R4
	MOVD	ksB+40(FP), R5
	ADD	R2, R1, R6
	ADD	R2, R6, R7
	ADD	R2, R7, R8
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16
	VEOR	V20.B16, V20.B16, V20.B16
	VEOR	V21.B16, V21.B16, V21.B16
	VEOR	V22.B16, V22.B16, V22.B16
	VEOR	V23.B16, V23.B16, V23.B16
	VEOR	V24.B16, V24.B16, V24.B16
	VEOR	V25.B16, V25.B16, V25.B16
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V27.B16, V27.B16, V27.B16
	VEOR	V28.B16, V28.B16, V28.B16
	VEOR	V29.B16, V29.B16, V29.B16
	VEOR	V30.B16, V30.B16, V30.B16
	VEOR	V31.B16, V31.B16, V31.B16

loop:
	CBZ	R0, done
	VLD1.P	(R4)(R5), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1R.P	(R1)(R3), [V4.S4]
	VLD1R.P	(R6)(R3), [V5.S4]
	VLD1R.P	(R7)(R3), [V6.S4]
	VLD1R.P	(R8)(R3), [V7.S4]
	VFMLA	V0.S4, V4.S4, V16.S4
	VFMLA	V1.S4, V4.S4, V17.S4
	VFMLA	V2.S4, V4.S4, V18.S4
	VFMLA	V3.S4, V4.S4, V19.S4
	VFMLA	V0.S4, V5.S4, V20.S4
	VFMLA	V1.S4, V5.S4, V21.S4
	VFMLA	V2.S4, V5.S4, V22.S4
	VFMLA	V3.S4, V5.S4, V23.S4
	VFMLA	V0.S4, V6.S4, V24.S4
	VFMLA	V1.S4, V6.S4, V25.S4
	VFMLA	V2.S4, V6.S4, V26.S4
	VFMLA	V3.S4, V6.S4, V27.S4
	VFMLA	V0.S4, V7.S4, V28.S4
	VFMLA	V1.S4, V7.S4, V29.S4
	VFMLA	V2.S4, V7.S4, V30.S4
	VFMLA	V3.S4, V7.S4, V31.S4
	SUB	$1, R0, R0
	B	loop

done:
	MOVD	c+48(FP), R9
	MOVD	ldc+56(FP), R10
	LSL	$2, R10, R10
	FMOVS	alpha+64(FP), F4
	VDUP	V4.S[0], V4.S4
	FMOVS	beta+68(FP), F5
	VDUP	V5.S[0], V5.S4
	MOVD	accum+72(FP), R11
	VEOR	V6.B16, V6.B16, V6.B16
	VEOR	V7.B16, V7.B16, V7.B16
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VFMLA	V4.S4, V16.S4, V6.S4
	VFMLA	V4.S4, V17.S4, V7.S4
	VFMLA	V4.S4, V18.S4, V8.S4
	VFMLA	V4.S4, V19.S4, V9.S4
	CBZ	R11, store0
	VLD1	(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMLA	V5.S4, V0.S4, V6.S4
	VFMLA	V5.S4, V1.S4, V7.S4
	VFMLA	V5.S4, V2.S4, V8.S4
	VFMLA	V5.S4, V3.S4, V9.S4

store0:
	VST1	[V6.S4, V7.S4, V8.S4, V9.S4], (R9)
	ADD	R10, R9, R9
	VEOR	V6.B16, V6.B16, V6.B16
	VEOR	V7.B16, V7.B16, V7.B16
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VFMLA	V4.S4, V20.S4, V6.S4
	VFMLA	V4.S4, V21.S4, V7.S4
	VFMLA	V4.S4, V22.S4, V8.S4
	VFMLA	V4.S4, V23.S4, V9.S4
	CBZ	R11, store1
	VLD1	(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMLA	V5.S4, V0.S4, V6.S4
	VFMLA	V5.S4, V1.S4, V7.S4
	VFMLA	V5.S4, V2.S4, V8.S4
	VFMLA	V5.S4, V3.S4, V9.S4

store1:
	VST1	[V6.S4, V7.S4, V8.S4, V9.S4], (R9)
	ADD	R10, R9, R9
	VEOR	V6.B16, V6.B16, V6.B16
	VEOR	V7.B16, V7.B16, V7.B16
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VFMLA	V4.S4, V24.S4, V6.S4
	VFMLA	V4.S4, V25.S4, V7.S4
	VFMLA	V4.S4, V26.S4, V8.S4
	VFMLA	V4.S4, V27.S4, V9.S4
	CBZ	R11, store2
	VLD1	(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMLA	V5.S4, V0.S4, V6.S4
	VFMLA	V5.S4, V1.S4, V7.S4
	VFMLA	V5.S4, V2.S4, V8.S4
	VFMLA	V5.S4, V3.S4, V9.S4

store2:
	VST1	[V6.S4, V7.S4, V8.S4, V9.S4], (R9)
	ADD	R10, R9, R9
	VEOR	V6.B16, V6.B16, V6.B16
	VEOR	V7.B16, V7.B16, V7.B16
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VFMLA	V4.S4, V28.S4, V6.S4
	VFMLA	V4.S4, V29.S4, V7.S4
	VFMLA	V4.S4, V30.S4, V8.S4
	VFMLA	V4.S4, V31.S4, V9.S4
	CBZ	R11, store3
	VLD1	(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMLA	V5.S4, V0.S4, V6.S4
	VFMLA	V5.S4, V1.S4, V7.S4
	VFMLA	V5.S4, V2.S4, V8.S4
	VFMLA	V5.S4, V3.S4, V9.S4

store3:
	VST1	[V6.S4, V7.S4, V8.S4, V9.S4], (R9)
	RET

// func sgdNEON(p, grad *float32, n int, lr, wd float32)
//
// Plain SGD over n&^3 elements: g' = g + wd·p; p = p - lr·g'.
TEXT ·sgdNEON(SB), NOSPLIT, $0-32
	MOVD	p+0(FP), R0
	MOVD	grad+8(FP), R1
	MOVD	n+16(FP), R2
	FMOVS	lr+24(FP), F4
	VDUP	V4.S[0], V4.S4
	FMOVS	wd+28(FP), F5
	VDUP	V5.S[0], V5.S4
	LSR	$2, R2, R2

sgdloop:
	CBZ	R2, sgddone
	VLD1	(R0), [V0.S4]
	VLD1.P	16(R1), [V1.S4]
	WORD	$0x6e25dc02 // FMUL V2.4S, V0.4S, V5.4S
	WORD	$0x4e22d422 // FADD V2.4S, V1.4S, V2.4S
	WORD	$0x6e24dc42 // FMUL V2.4S, V2.4S, V4.4S
	WORD	$0x4ea2d400 // FSUB V0.4S, V0.4S, V2.4S
	VST1.P	[V0.S4], 16(R0)
	SUB	$1, R2, R2
	B	sgdloop

sgddone:
	RET

// func sgdMomentumNEON(p, grad, v *float32, n int, lr, momentum, wd float32)
//
// SGD with momentum over n&^3 elements: g' = g + wd·p; v = momentum·v + g';
// p = p - lr·v.
TEXT ·sgdMomentumNEON(SB), NOSPLIT, $0-44
	MOVD	p+0(FP), R0
	MOVD	grad+8(FP), R1
	MOVD	v+16(FP), R2
	MOVD	n+24(FP), R3
	FMOVS	lr+32(FP), F4
	VDUP	V4.S[0], V4.S4
	FMOVS	momentum+36(FP), F5
	VDUP	V5.S[0], V5.S4
	FMOVS	wd+40(FP), F6
	VDUP	V6.S[0], V6.S4
	LSR	$2, R3, R3

momloop:
	CBZ	R3, momdone
	VLD1	(R0), [V0.S4]
	VLD1.P	16(R1), [V1.S4]
	VLD1	(R2), [V3.S4]
	WORD	$0x6e26dc02 // FMUL V2.4S, V0.4S, V6.4S
	WORD	$0x4e22d422 // FADD V2.4S, V1.4S, V2.4S
	WORD	$0x6e25dc63 // FMUL V3.4S, V3.4S, V5.4S
	WORD	$0x4e22d463 // FADD V3.4S, V3.4S, V2.4S
	VST1.P	[V3.S4], 16(R2)
	WORD	$0x6e24dc62 // FMUL V2.4S, V3.4S, V4.4S
	WORD	$0x4ea2d400 // FSUB V0.4S, V0.4S, V2.4S
	VST1.P	[V0.S4], 16(R0)
	SUB	$1, R3, R3
	B	momloop

momdone:
	RET

// func adamNEON(p, grad, m, v *float32, n int, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32)
//
// Adam over n&^3 elements, for lerp weights |w1| < 0.5 (optim.go):
// g' = g + wd·p; m = m + w1·(g' - m); v = beta2·v + (w2·g')·g';
// p = p - stepSize·(m / (sqrt(v)/bc2Sqrt + eps)).
TEXT ·adamNEON(SB), NOSPLIT, $0-68
	MOVD	p+0(FP), R0
	MOVD	grad+8(FP), R1
	MOVD	m+16(FP), R2
	MOVD	v+24(FP), R3
	MOVD	n+32(FP), R4
	FMOVS	w1+40(FP), F20
	VDUP	V20.S[0], V20.S4
	FMOVS	beta2+44(FP), F21
	VDUP	V21.S[0], V21.S4
	FMOVS	w2+48(FP), F22
	VDUP	V22.S[0], V22.S4
	FMOVS	bc2Sqrt+52(FP), F23
	VDUP	V23.S[0], V23.S4
	FMOVS	eps+56(FP), F24
	VDUP	V24.S[0], V24.S4
	FMOVS	stepSize+60(FP), F25
	VDUP	V25.S[0], V25.S4
	FMOVS	wd+64(FP), F26
	VDUP	V26.S[0], V26.S4
	LSR	$2, R4, R4

adamloop:
	CBZ	R4, adamdone
	VLD1	(R0), [V0.S4]
	VLD1.P	16(R1), [V1.S4]
	VLD1	(R2), [V2.S4]
	VLD1	(R3), [V3.S4]
	WORD	$0x6e3adc04 // FMUL V4.4S, V0.4S, V26.4S
	WORD	$0x4e24d424 // FADD V4.4S, V1.4S, V4.4S
	WORD	$0x4ea2d485 // FSUB V5.4S, V4.4S, V2.4S
	WORD	$0x6e34dca5 // FMUL V5.4S, V5.4S, V20.4S
	WORD	$0x4e25d442 // FADD V2.4S, V2.4S, V5.4S
	VST1.P	[V2.S4], 16(R2)
	WORD	$0x6e35dc63 // FMUL V3.4S, V3.4S, V21.4S
	WORD	$0x6e36dc86 // FMUL V6.4S, V4.4S, V22.4S
	WORD	$0x6e24dcc6 // FMUL V6.4S, V6.4S, V4.4S
	WORD	$0x4e26d463 // FADD V3.4S, V3.4S, V6.4S
	VST1.P	[V3.S4], 16(R3)
	WORD	$0x6ea1f867 // FSQRT V7.4S, V3.4S
	WORD	$0x6e37fce7 // FDIV V7.4S, V7.4S, V23.4S
	WORD	$0x4e38d4e7 // FADD V7.4S, V7.4S, V24.4S
	WORD	$0x6e27fc47 // FDIV V7.4S, V2.4S, V7.4S
	WORD	$0x6e39dce7 // FMUL V7.4S, V7.4S, V25.4S
	WORD	$0x4ea7d400 // FSUB V0.4S, V0.4S, V7.4S
	VST1.P	[V0.S4], 16(R0)
	SUB	$1, R4, R4
	B	adamloop

adamdone:
	RET

// func reluForwardNEON(x, y *float32, n int)
//
// y = max(x, 0) over n&^3 elements with FMAX, whose rules are Go's: a NaN
// stays NaN, max(-0, +0) = +0.
TEXT ·reluForwardNEON(SB), NOSPLIT, $0-24
	MOVD	x+0(FP), R0
	MOVD	y+8(FP), R1
	MOVD	n+16(FP), R2
	VEOR	V1.B16, V1.B16, V1.B16
	LSR	$2, R2, R2

relufloop:
	CBZ	R2, relufdone
	VLD1.P	16(R0), [V0.S4]
	WORD	$0x4e21f400 // FMAX V0.4S, V0.4S, V1.4S
	VST1.P	[V0.S4], 16(R1)
	SUB	$1, R2, R2
	B	relufloop

relufdone:
	RET

// func reluBackwardNEON(y, dy, dx *float32, n int)
//
// dx = dy where y > 0 (an ordered compare: NaN gives 0), over n&^3 elements.
TEXT ·reluBackwardNEON(SB), NOSPLIT, $0-32
	MOVD	y+0(FP), R0
	MOVD	dy+8(FP), R1
	MOVD	dx+16(FP), R2
	MOVD	n+24(FP), R3
	LSR	$2, R3, R3

relubloop:
	CBZ	R3, relubdone
	VLD1.P	16(R0), [V0.S4]
	VLD1.P	16(R1), [V1.S4]
	WORD	$0x4ea0c800 // FCMGT V0.4S, V0.4S, #0.0
	VAND	V0.B16, V1.B16, V1.B16
	VST1.P	[V1.S4], 16(R2)
	SUB	$1, R3, R3
	B	relubloop

relubdone:
	RET

// func corr3NEON(dst, src, w *float32, h, wd4, wd, wp int, acc int)
//
// conv.go's 3×3 correlation on the first wd4 (a multiple of 4) columns of
// each of the h rows of dst (rows wd floats apart; src rows wp floats
// apart): dst[x] (+)= Σ_{ky,kx} w[ky·3+kx]·src[(y+ky)·wp + x + kx], 4
// columns at a time with FMLA; the Go caller does the other columns.
// Weights in V16-V24; the nine input streams in R5-R13.
TEXT ·corr3NEON(SB), NOSPLIT, $0-64
	MOVD	dst+0(FP), R15
	MOVD	src+8(FP), R16
	MOVD	w+16(FP), R2
	MOVD	h+24(FP), R3
	MOVD	wd4+32(FP), R4
	MOVD	wd+40(FP), R17
	MOVD	wp+48(FP), R0
	MOVD	acc+56(FP), R1
	LSL	$2, R17, R17
	LSL	$2, R0, R0
	LSR	$2, R4, R4
	VLD1	(R2), [V0.S4, V1.S4]
	VDUP	V0.S[0], V16.S4
	VDUP	V0.S[1], V17.S4
	VDUP	V0.S[2], V18.S4
	VDUP	V0.S[3], V19.S4
	VDUP	V1.S[0], V20.S4
	VDUP	V1.S[1], V21.S4
	VDUP	V1.S[2], V22.S4
	VDUP	V1.S[3], V23.S4
	FMOVS	32(R2), F24
	VDUP	V24.S[0], V24.S4

crow:
	CBZ	R3, cdone
	MOVD	R16, R5
	ADD	$4, R16, R6
	ADD	$8, R16, R7
	ADD	R0, R5, R8
	ADD	$4, R8, R9
	ADD	$8, R8, R10
	ADD	R0, R8, R11
	ADD	$4, R11, R12
	ADD	$8, R11, R13
	MOVD	R15, R14
	MOVD	R4, R2

ccol:
	CBZ	R2, cnext
	VEOR	V25.B16, V25.B16, V25.B16
	CBZ	R1, cnoacc
	VLD1	(R14), [V25.S4]

cnoacc:
	VLD1.P	16(R5), [V2.S4]
	VFMLA	V16.S4, V2.S4, V25.S4
	VLD1.P	16(R6), [V3.S4]
	VFMLA	V17.S4, V3.S4, V25.S4
	VLD1.P	16(R7), [V4.S4]
	VFMLA	V18.S4, V4.S4, V25.S4
	VLD1.P	16(R8), [V5.S4]
	VFMLA	V19.S4, V5.S4, V25.S4
	VLD1.P	16(R9), [V6.S4]
	VFMLA	V20.S4, V6.S4, V25.S4
	VLD1.P	16(R10), [V7.S4]
	VFMLA	V21.S4, V7.S4, V25.S4
	VLD1.P	16(R11), [V2.S4]
	VFMLA	V22.S4, V2.S4, V25.S4
	VLD1.P	16(R12), [V3.S4]
	VFMLA	V23.S4, V3.S4, V25.S4
	VLD1.P	16(R13), [V4.S4]
	VFMLA	V24.S4, V4.S4, V25.S4
	VST1.P	[V25.S4], 16(R14)
	SUB	$1, R2, R2
	B	ccol

cnext:
	ADD	R17, R15, R15
	ADD	R0, R16, R16
	SUB	$1, R3, R3
	B	crow

cdone:
	RET
