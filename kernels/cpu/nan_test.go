package cpu

import (
	"math"
	"testing"
)

// TestComparisonsFailOnNaN feeds NaNs to the comparison helpers the
// gradient checks and the GEMM tests use: each must report a mismatch,
// except where the reference itself expects NaN.
func TestComparisonsFailOnNaN(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name string
		msg  string
		fail bool
	}{
		{"grad: analytic NaN", gradMismatch([]float32{1, nan}, []float64{1, 2}), true},
		{"grad: numeric NaN", gradMismatch([]float32{1, 2}, []float64{1, math.NaN()}), true},
		{"grad: both NaN", gradMismatch([]float32{nan}, []float64{math.NaN()}), true},
		{"grad: zero numeric, NaN analytic", gradMismatch([]float32{nan, 0}, []float64{0, 0}), true},
		{"grad: equal", gradMismatch([]float32{1, 2}, []float64{1, 2}), false},
		{"close: got NaN", closeMismatch([]float32{1, nan}, []float64{1, 2}, 1e-3), true},
		{"close: want NaN, got a number", closeMismatch([]float32{1, 2}, []float64{1, math.NaN()}, 1e-3), true},
		{"close: NaN expected", closeMismatch([]float32{1, nan}, []float64{1, math.NaN()}, 1e-3), false},
		{"close: Inf vs Inf", closeMismatch([]float32{float32(math.Inf(1))}, []float64{math.Inf(1)}, 1e-3), true},
		{"close: equal", closeMismatch([]float32{1, 2}, []float64{1, 2}, 1e-3), false},
	}
	for _, c := range cases {
		if got := c.msg != ""; got != c.fail {
			t.Errorf("%s: mismatch %v (%q), want %v", c.name, got, c.msg, c.fail)
		}
	}
}
