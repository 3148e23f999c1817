//go:build noasm || !(amd64 || arm64)

package cpu

import "runtime"

// useAsm is false: this build has no vector kernels (a variable so that
// tests can switch paths on every build).
var useAsm = false

const (
	asmPath     = PathGo
	gemmMicroMR = 4
)

// fallbackPath is "noasm" when the tag asked for it, "go" on architectures
// without vector kernels.
var fallbackPath = func() string {
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		return PathNoasm
	}
	return PathGo
}()

func gemmMicro(kc int, a *float32, rsA, ksA int, b *float32, ksB int, c *float32, ldc int, alpha, beta float32, accum int) {
	panic("cpu: gemmMicro without vector kernels")
}

func sgdVec(p, g []float32, lr, wd float32) int                                           { return 0 }
func sgdMomentumVec(p, g, v []float32, lr, momentum, wd float32) int                      { return 0 }
func adamVec(p, g, m, v []float32, w1, beta2, w2, bc2Sqrt, eps, stepSize, wd float32) int { return 0 }

func corr3Vec(dst, src, w []float32, h, wd, wp int, acc bool) int { return 0 }
func filterGrad3Vec(dst, g, src []float32, h, wd, wp int) bool    { return false }

func reluForwardVec(x, y []float32) int       { return 0 }
func reluBackwardVec(y, dy, dx []float32) int { return 0 }

func transpose8Vec(src []float32, lds int, dst []float32, ldd int) bool { return false }

func bnAffineVec(x, y []float32, shift, scale, beta float32) int                  { return 0 }
func bnBackwardDxVec(x, dy, dx []float32, mean, istd, k, mdy, mdyx float32) int   { return 0 }
func bnBackwardSumsVec(x, dy []float32, mean, istd float32) (a, g float32, n int) { return 0, 0, 0 }

func maxPoolFwdVec(x, y []float32, oh, ow, w int) bool { return false }

func maxPoolBackVec(x, dy, dx []float32, oh, ow, w int) bool { return false }

func sqDevVec(x []float32, mean float64) (float64, int) { return 0, 0 }
func sumLanesVec(x []float32, lanes *[8]float32) int    { return 0 }
