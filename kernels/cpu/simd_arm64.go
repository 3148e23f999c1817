//go:build !noasm

package cpu

// useAsm selects the NEON kernels (simd_arm64.s): Advanced SIMD is part of
// every arm64 CPU Go supports. A variable so tests can switch paths.
var useAsm = true

const (
	asmPath      = PathNEON
	fallbackPath = PathGo
	gemmMicroMR  = 4 // rows of the NEON register tile
)

//go:noescape
func gemmKernelNEON(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func sgdNEON(p, grad *float32, n int, lr, wd float32)

//go:noescape
func sgdMomentumNEON(p, grad, v *float32, n int, lr, momentum, wd float32)

// gemmMicro is the 4×16 micro-kernel (simd_arm64.s): A(r, p) at
// a + r·rsA + p·ksA, row p of B at b + p·ksB (strides in bytes).
func gemmMicro(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int) {
	gemmKernelNEON(kc, a, rsA, ksA, b, ksB, c, ldc, alpha, beta, accum)
}

// sgdVec runs plain SGD over the longest multiple of 4 elements of p and
// returns how many it did; the caller finishes the rest.
func sgdVec(p, g []float32, lr, wd float32) int {
	n := len(p) &^ 3
	if !useAsm || n == 0 {
		return 0
	}
	_ = g[n-1]
	sgdNEON(&p[0], &g[0], n, lr, wd)
	return n
}

// sgdMomentumVec is sgdVec with momentum.
func sgdMomentumVec(p, g, v []float32, lr, momentum, wd float32) int {
	n := len(p) &^ 3
	if !useAsm || n == 0 {
		return 0
	}
	_, _ = g[n-1], v[n-1]
	sgdMomentumNEON(&p[0], &g[0], &v[0], n, lr, momentum, wd)
	return n
}

//go:noescape
func adamNEON(p, grad, m, v *float32, n int, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32)

// adamVec is the Adam update of optTask.run for |w1| < 0.5 (lerp's first
// branch) over the longest multiple of 4 elements; it does nothing
// otherwise.
func adamVec(p, g, m, v []float32, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32) int {
	n := len(p) &^ 3
	if !useAsm || n == 0 || !(w1 < 0.5 && w1 > -0.5) {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamNEON(&p[0], &g[0], &m[0], &v[0], n, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd)
	return n
}

//go:noescape
func corr3NEON(dst, src, w *float32, h, wd4, wd, wp int, acc int)

// corr3Vec runs corr3 on the first wd&^3 columns of every row and returns
// that count (0 when it did nothing); corr3 does the rest in Go.
func corr3Vec(dst, src, w []float32, h, wd, wp int, acc bool) int {
	wd4 := wd &^ 3
	if !useAsm || h < 1 || wd4 == 0 || wp < wd+2 || len(w) < 9 || len(dst) < h*wd || len(src) < (h+1)*wp+wd+2 {
		return 0
	}
	a := 0
	if acc {
		a = 1
	}
	corr3NEON(&dst[0], &src[0], &w[0], h, wd4, wd, wp, a)
	return wd4
}

// The filter gradient stays on the Go loop on arm64.
func filterGrad3Vec(dst, g, src []float32, h, wd, wp int) bool { return false }

//go:noescape
func reluForwardNEON(x, y *float32, n int)

//go:noescape
func reluBackwardNEON(y, dy, dx *float32, n int)

// reluForwardVec is the ReLU forward of actTask.run over the longest
// multiple of 4 elements, with the same bits; it returns how many it did.
func reluForwardVec(x, y []float32) int {
	n := len(y) &^ 3
	if !useAsm || n == 0 {
		return 0
	}
	_ = x[n-1]
	reluForwardNEON(&x[0], &y[0], n)
	return n
}

// reluBackwardVec is the ReLU backward (dx = dy where y > 0), as
// reluForwardVec.
func reluBackwardVec(y, dy, dx []float32) int {
	n := len(y) &^ 3
	if !useAsm || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	reluBackwardNEON(&y[0], &dy[0], &dx[0], n)
	return n
}

func transpose8Vec(src []float32, lds int, dst []float32, ldd int) bool { return false }

func bnAffineVec(x, y []float32, shift, scale, beta float32) int                  { return 0 }
func bnBackwardDxVec(x, dy, dx []float32, mean, istd, k, mdy, mdyx float32) int   { return 0 }
func bnBackwardSumsVec(x, dy []float32, mean, istd float32) (a, g float32, n int) { return 0, 0, 0 }

func maxPoolFwdVec(x, y []float32, oh, ow, w int) bool { return false }

func maxPoolBackVec(x, dy, dx []float32, oh, ow, w int) bool { return false }

func sqDevVec(x []float32, mean float64) (float64, int) { return 0, 0 }
func sumLanesVec(x []float32, lanes *[8]float32) int    { return 0 }
