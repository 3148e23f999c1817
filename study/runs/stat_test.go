package runs

import (
	"math"
	"testing"
)

func TestStatCI95(t *testing.T) {
	tests := []struct {
		in   []float64
		ci   float64 // NaN: want NaN
		text string
	}{
		// 1..5: s = √2.5, t(0.975, 4) = 2.776445, half = 2.776445·√(2.5/5).
		{[]float64{1, 2, 3, 4, 5}, 2.776445 * math.Sqrt(0.5), "3.000 ± 1.963"},
		// 0.9, 0.92: s/√2 = 0.01, t(0.975, 1) = 12.7062.
		{[]float64{0.9, 0.92}, 0.127062, "0.910 ± 0.127"},
		{[]float64{0.97}, math.NaN(), "0.970"},
	}
	for _, tt := range tests {
		s := StatOf(tt.in)
		ok := math.Abs(s.CI95-tt.ci) <= 1e-5 || math.IsNaN(tt.ci) && math.IsNaN(s.CI95)
		if !ok {
			t.Errorf("StatOf(%v).CI95 = %g, want %g", tt.in, s.CI95, tt.ci)
		}
		if got := s.FormatCI(3); got != tt.text {
			t.Errorf("StatOf(%v).FormatCI(3) = %q, want %q", tt.in, got, tt.text)
		}
	}
	if s := StatOf(nil); !math.IsNaN(s.CI95) {
		t.Errorf("StatOf(nil).CI95 = %g, want NaN", s.CI95)
	}
}
