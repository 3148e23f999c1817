package runs

import (
	"math"
	"strconv"

	"mnistgpu/eval"
)

// ci95 is the half-width of the 95 % confidence interval of s's mean
// (Student t with N−1 degrees of freedom), NaN for fewer than two values.
func ci95(s Stat) float64 {
	if s.N < 2 {
		return math.NaN()
	}
	return eval.TQuantile(0.975, float64(s.N-1)) * s.Std / math.Sqrt(float64(s.N))
}

// FormatCI writes the mean with prec decimals and, when there are several
// values, ± the half-width of its 95 % confidence interval.
func (s Stat) FormatCI(prec int) string {
	m := strconv.FormatFloat(s.Mean, 'f', prec, 64)
	if s.N > 1 {
		m += " ± " + strconv.FormatFloat(s.CI95, 'f', prec, 64)
	}
	return m
}
