package cpu

// Small, obviously-correct float64 reference forwards, and the
// finite-difference gradient check built on them.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"mnistgpu/kernels"
)

// f64 widens a float32 slice.
func f64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// refConv is the same-padded, stride-1 cross-correlation of x [n, C, H, W]
// with w [O, C, K, K].
func refConv(s kernels.ConvShape, n int, x, w []float64) []float64 {
	p := (s.K - 1) / 2
	y := make([]float64, n*s.OutC*s.H*s.W)
	for i := 0; i < n; i++ {
		for o := 0; o < s.OutC; o++ {
			for r := 0; r < s.H; r++ {
				for c := 0; c < s.W; c++ {
					var sum float64
					for ci := 0; ci < s.C; ci++ {
						for ky := 0; ky < s.K; ky++ {
							for kx := 0; kx < s.K; kx++ {
								yy, xx := r+ky-p, c+kx-p
								if yy < 0 || yy >= s.H || xx < 0 || xx >= s.W {
									continue
								}
								sum += w[((o*s.C+ci)*s.K+ky)*s.K+kx] * x[((i*s.C+ci)*s.H+yy)*s.W+xx]
							}
						}
					}
					y[((i*s.OutC+o)*s.H+r)*s.W+c] = sum
				}
			}
		}
	}
	return y
}

// refBN is training-mode batch normalisation of x [n, ch, sp]; it also
// returns the batch mean and biased variance.
func refBN(n, ch, sp int, eps float64, x, gamma, beta []float64) (y, mean, variance []float64) {
	y = make([]float64, len(x))
	mean = make([]float64, ch)
	variance = make([]float64, ch)
	N := float64(n * sp)
	for c := 0; c < ch; c++ {
		for i := 0; i < n; i++ {
			for s := 0; s < sp; s++ {
				mean[c] += x[(i*ch+c)*sp+s] / N
			}
		}
		for i := 0; i < n; i++ {
			for s := 0; s < sp; s++ {
				e := x[(i*ch+c)*sp+s] - mean[c]
				variance[c] += e * e / N
			}
		}
		for i := 0; i < n; i++ {
			for s := 0; s < sp; s++ {
				j := (i*ch+c)*sp + s
				y[j] = (x[j]-mean[c])/math.Sqrt(variance[c]+eps)*gamma[c] + beta[c]
			}
		}
	}
	return y, mean, variance
}

// refPool is the 2×2 stride-2 max-pool of x [planes, h, w].
func refPool(planes, h, w int, x []float64) []float64 {
	oh, ow := h/2, w/2
	y := make([]float64, planes*oh*ow)
	for p := 0; p < planes; p++ {
		for r := 0; r < oh; r++ {
			for c := 0; c < ow; c++ {
				m := math.Inf(-1)
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						m = math.Max(m, x[(p*h+2*r+dy)*w+2*c+dx])
					}
				}
				y[(p*oh+r)*ow+c] = m
			}
		}
	}
	return y
}

// refAct applies an activation.
func refAct(act kernels.Activation, x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		switch act {
		case kernels.ReLU:
			y[i] = math.Max(v, 0)
		case kernels.Sigmoid:
			y[i] = 1 / (1 + math.Exp(-v))
		case kernels.Tanh:
			y[i] = math.Tanh(v)
		case kernels.Identity:
			y[i] = v
		}
	}
	return y
}

// refLoss is the batch-mean loss of logits [n, classes].
func refLoss(loss kernels.Loss, n, classes int, z []float64, labels []int32) float64 {
	var total float64
	for i := 0; i < n; i++ {
		row := z[i*classes : (i+1)*classes]
		var s float64
		for _, v := range row {
			s += math.Exp(v)
		}
		y := int(labels[i])
		switch loss {
		case kernels.CrossEntropy, kernels.NLL:
			total += -math.Log(math.Exp(row[y]) / s)
		case kernels.MSE:
			for c, v := range row {
				e := math.Exp(v) / s
				if c == y {
					e--
				}
				total += e * e / float64(classes)
			}
		}
	}
	return total / float64(n)
}

// dot is Σ a·r.
func dot(a, r []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * r[i]
	}
	return s
}

// numGrad is the central-difference gradient of the scalar f at x.
func numGrad(x []float64, f func([]float64) float64) []float64 {
	g := make([]float64, len(x))
	xx := append([]float64(nil), x...)
	for i := range x {
		h := 1e-6 * math.Max(1, math.Abs(x[i]))
		xx[i] = x[i] + h
		fp := f(xx)
		xx[i] = x[i] - h
		fm := f(xx)
		xx[i] = x[i]
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

// checkGrad compares the float32 analytic gradient with the float64
// numeric one: the relative error ‖a-n‖/‖n‖ must be below 1e-3, and every
// element within 1e-3·(|n| + max|n|). A NaN on either side fails.
func checkGrad(t *testing.T, name string, analytic []float32, numeric []float64) {
	t.Helper()
	if msg := gradMismatch(analytic, numeric); msg != "" {
		t.Errorf("%s: %s", name, msg)
	}
}

// gradMismatch is checkGrad's verdict: "" when the gradients agree. Every
// comparison is written so that a NaN fails it.
func gradMismatch(analytic []float32, numeric []float64) string {
	if len(analytic) != len(numeric) {
		return fmt.Sprintf("%d analytic vs %d numeric values", len(analytic), len(numeric))
	}
	var diff, norm, maxN float64
	for i, n := range numeric {
		e := float64(analytic[i]) - n
		diff += e * e
		norm += n * n
		maxN = math.Max(maxN, math.Abs(n))
	}
	if norm == 0 {
		if !(diff <= 1e-12) {
			return fmt.Sprintf("numeric gradient is zero, analytic is not (‖a‖² = %g)", diff)
		}
		return ""
	}
	if rel := math.Sqrt(diff / norm); !(rel <= 1e-3) {
		return fmt.Sprintf("relative gradient error %.3g", rel)
	}
	for i, n := range numeric {
		if e := math.Abs(float64(analytic[i]) - n); !(e <= 1e-3*(math.Abs(n)+maxN)) {
			return fmt.Sprintf("element %d: analytic %.7g, numeric %.7g", i, analytic[i], n)
		}
	}
	return ""
}

// checkClose compares a float32 result with a float64 reference to
// tol·(1 + |want|). A NaN in got fails unless want holds a NaN there (a
// test that expects NaN says so in want).
func checkClose(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if msg := closeMismatch(got, want, tol); msg != "" {
		t.Fatalf("%s: %s", name, msg)
	}
}

// closeMismatch is checkClose's verdict: "" when got matches want.
func closeMismatch(got []float32, want []float64, tol float64) string {
	if len(got) < len(want) {
		return fmt.Sprintf("%d values, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(w) {
			if !math.IsNaN(g) {
				return fmt.Sprintf("element %d = %.7g, want NaN", i, got[i])
			}
			continue
		}
		if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) {
			return fmt.Sprintf("element %d = %.7g, want %.7g", i, got[i], w)
		}
	}
	return ""
}

// testRand returns a deterministic generator for a test.
func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// alloc32 allocates an F32 buffer holding s (zeros when s is nil and n > 0).
func alloc32(t testing.TB, d *Device, s []float32, n int) *Buffer {
	t.Helper()
	if s != nil {
		n = len(s)
	}
	b, err := d.Alloc(kernels.F32, n)
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if err := d.Upload(b, s); err != nil {
			t.Fatal(err)
		}
	}
	return b.(*Buffer)
}

// allocI32 allocates an I32 buffer holding s.
func allocI32(t testing.TB, d *Device, s []int32) *Buffer {
	t.Helper()
	b, err := d.Alloc(kernels.I32, len(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Upload(b, s); err != nil {
		t.Fatal(err)
	}
	return b.(*Buffer)
}

// must fails the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
