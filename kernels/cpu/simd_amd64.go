//go:build !noasm

package cpu

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd asmgen && go run . -out ../simd_amd64.s -stubs ../simd_decl_amd64.go -pkg cpu"

// useAsm selects the AVX2+FMA kernels; SSE-only CPUs keep the Go loops.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

const (
	asmPath      = PathAVX2FMA
	fallbackPath = PathGo
	gemmMicroMR  = 6 // rows of the AVX2 register tile (asmgen's gemmMR)
)

// gemmMicro is the 6×16 micro-kernel (see asmgen): A(r, p) at
// a + r·rsA + p·ksA, row p of B at b + p·ksB (strides in bytes).
func gemmMicro(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int) {
	gemmKernelAVX2(kc, a, rsA, ksA, b, ksB, c, ldc, alpha, beta, accum)
}

// sgdVec runs plain SGD over the longest multiple of 8 elements of p and
// returns how many it did; the caller finishes the rest.
func sgdVec(p, g []float32, lr, wd float32) int {
	n := len(p) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_ = g[n-1]
	sgdAVX2(&p[0], &g[0], n, lr, wd)
	return n
}

// sgdMomentumVec is sgdVec with momentum.
func sgdMomentumVec(p, g, v []float32, lr, momentum, wd float32) int {
	n := len(p) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_, _ = g[n-1], v[n-1]
	sgdMomentumAVX2(&p[0], &g[0], &v[0], n, lr, momentum, wd)
	return n
}

// adamVec is the Adam update of optTask.run for |w1| < 0.5 (lerp's first
// branch); it does nothing otherwise.
func adamVec(p, g, m, v []float32, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32) int {
	n := len(p) &^ 7
	if !useAsm || n == 0 || !(w1 < 0.5 && w1 > -0.5) {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX2(&p[0], &g[0], &m[0], &v[0], n, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd)
	return n
}

// tailMask holds 8 lanes on then 8 off: &tailMask[8-t] masks the first t
// lanes of a vector.
var tailMask = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

// corr3Vec is corr3 on the vector path, every column of every row; it
// returns the columns done per row: wd, or 0 when there is no vector path
// (or the slices are too short to prove the kernel's reads and writes in
// range).
func corr3Vec(dst, src, w []float32, h, wd, wp int, acc bool) int {
	if !useAsm || h < 1 || wd < 1 || wp < wd+2 || len(w) < 9 || len(dst) < h*wd || len(src) < (h+1)*wp+wd+2 {
		return 0
	}
	a := 0
	if acc {
		a = 1
	}
	// From two full blocks of 8 columns on, pairs of rows load each input
	// row once for both (BenchmarkConv, 28×28: 25% faster); narrower rows
	// have too little work per row for the pair's longer FMA chains (14×14:
	// 25% slower), and an odd last row goes alone.
	y := 0
	if wd >= 16 && h >= 2 {
		corr3x2AVX2(&dst[0], &src[0], &w[0], h/2, wd, wp, a, &tailMask[8-wd%8])
		y = h &^ 1
	}
	if y < h {
		corr3AVX2(&dst[y*wd], &src[y*wp], &w[0], h-y, wd, wp, a, &tailMask[8-wd%8])
	}
	return wd
}

// filterGrad3Vec is filterGrad3 on the vector path; false when there is
// none.
func filterGrad3Vec(dst, g, src []float32, h, wd, wp int) bool {
	if !useAsm || h < 1 || wd < 1 || wp < wd+2 || len(dst) < 9 || len(g) < h*wd || len(src) < (h+1)*wp+wd+2 {
		return false
	}
	// Pairs of rows of g share three of their four input rows' loads
	// (BenchmarkConv backfilter: 28×28 about 20% faster, 14×14 no slower);
	// an odd last row goes alone.
	y := 0
	if h >= 2 {
		filterGrad3x2AVX2(&dst[0], &g[0], &src[0], h/2, wd, wp, &tailMask[8-wd%8])
		y = h &^ 1
	}
	if y < h {
		filterGrad3AVX2(&dst[0], &g[y*wd], &src[y*wp], h-y, wd, wp, &tailMask[8-wd%8])
	}
	return true
}

// reluForwardVec is the ReLU forward of actTask.run over the longest
// multiple of 8 elements, with the same bits; it returns how many it did.
func reluForwardVec(x, y []float32) int {
	n := len(y) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_ = x[n-1]
	reluForwardAVX2(&x[0], &y[0], n)
	return n
}

// reluBackwardVec is the ReLU backward of actTask.run (dx = dy where
// y > 0), as reluForwardVec.
func reluBackwardVec(y, dy, dx []float32) int {
	n := len(y) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	reluBackwardAVX2(&y[0], &dy[0], &dx[0], n)
	return n
}

// transpose8Vec writes dst[c·ldd + r] = src[r·lds + c] for r, c < 8
// (strides in elements) and reports true, or false when there is no
// vector path.
func transpose8Vec(src []float32, lds int, dst []float32, ldd int) bool {
	if !useAsm || len(src) < 7*lds+8 || len(dst) < 7*ldd+8 {
		return false
	}
	transpose8x8AVX2(&src[0], 4*lds, &dst[0], 4*ldd)
	return true
}

// bnAffineVec is bnTask.affine's loop over the longest multiple of 8
// elements of x (the same bits); it returns how many it did.
func bnAffineVec(x, y []float32, shift, scale, beta float32) int {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_ = y[n-1]
	bnAffineAVX2(&x[0], &y[0], n, shift, scale, beta)
	return n
}

// bnBackwardDxVec is batch norm's input-gradient loop (the same bits), as
// bnAffineVec.
func bnBackwardDxVec(x, dy, dx []float32, mean, istd, k, mdy, mdyx float32) int {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	bnBackwardDxAVX2(&x[0], &dy[0], &dx[0], n, mean, istd, k, mdy, mdyx)
	return n
}

// bnBackwardSumsVec returns Σ dy and Σ dy·(x-mean)·istd over the longest
// multiple of 8 elements of x, and how many that was.
func bnBackwardSumsVec(x, dy []float32, mean, istd float32) (a, g float32, done int) {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0, 0, 0
	}
	_ = dy[n-1]
	var sums [2]float32
	bnBackwardSumsAVX2(&x[0], &dy[0], n, mean, istd, &sums[0])
	return sums[0], sums[1], n
}

// maxPoolFwdVec is the 2×2 max-pool forward of one plane x (rows w floats
// apart) into y (oh×ow) with Go's max (NaN payloads aside); false when
// there is no vector path.
func maxPoolFwdVec(x, y []float32, oh, ow, w int) bool {
	if !useAsm || oh < 1 || ow < 1 || w < 2*ow || len(x) < (2*oh-1)*w+2*ow || len(y) < oh*ow {
		return false
	}
	t := ow % 8
	lo, hi := min(2*t, 8), max(2*t-8, 0)
	maxPoolFwdAVX2(&x[0], &y[0], oh, ow, w, &tailMask[8-lo], &tailMask[8-hi])
	return true
}

// maxPoolBackVec is the 2×2 max-pool backward of one plane: dx (rows w
// floats apart, already zeroed) gets dy (oh×ow) at each window's arg-max
// (argmax4's rule), with the same bits; false when there is no vector
// path.
func maxPoolBackVec(x, dy, dx []float32, oh, ow, w int) bool {
	if !useAsm || oh < 1 || ow < 1 || w < 2*ow || len(x) < (2*oh-1)*w+2*ow || len(dx) < (2*oh-1)*w+2*ow || len(dy) < oh*ow {
		return false
	}
	t := ow % 8
	lo, hi := min(2*t, 8), max(2*t-8, 0)
	maxPoolBackAVX2(&x[0], &dy[0], &dx[0], oh, ow, w, &tailMask[8-lo], &tailMask[8-hi], &tailMask[8-t], lo, hi)
	return true
}

// sqDevVec returns Σ (x - mean)² in float64 over the longest multiple of 8
// elements of x, and how many that was.
func sqDevVec(x []float32, mean float64) (float64, int) {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0, 0
	}
	return sqDevAVX2(&x[0], n, mean), n
}

// sumLanesVec adds x's first multiple of 8 elements into the 8 lanes,
// lane j taking the elements 8k+j in order of k, as sum32's Go loop does
// (the same bits); it returns how many elements it added.
func sumLanesVec(x []float32, lanes *[8]float32) int {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	sumLanesAVX2(&x[0], n, &lanes[0])
	return n
}
