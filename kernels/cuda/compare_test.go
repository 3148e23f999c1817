package cuda_test

import (
	"math"
	"testing"
)

// TestCompareFailsOnNaN checks the parity comparison itself: a NaN on
// either side, or on both, is a mismatch unless the test says it expects
// NaN (compareNaN with nanOK), and Inf against Inf is a mismatch too.
func TestCompareFailsOnNaN(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name  string
		g, c  []float32
		nanOK bool
		fail  bool
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, false, false},
		{"GPU NaN", []float32{1, nan}, []float32{1, 2}, false, true},
		{"CPU NaN", []float32{1, 2}, []float32{nan, 2}, false, true},
		{"both NaN", []float32{nan, 2}, []float32{nan, 2}, false, true},
		{"both NaN, expected", []float32{nan, 2}, []float32{nan, 2}, true, false},
		{"one NaN, expected elsewhere", []float32{nan, 2}, []float32{1, 2}, true, true},
		{"both Inf", []float32{inf, 2}, []float32{inf, 2}, false, true},
		{"Inf vs finite", []float32{1, 2}, []float32{inf, 2}, false, true},
		{"far apart", []float32{1, 2}, []float32{1, 3}, false, true},
	}
	for _, c := range cases {
		if got := compareNaN(c.g, c.c, 1e-5, c.nanOK) != ""; got != c.fail {
			t.Errorf("%s: mismatch %v, want %v", c.name, got, c.fail)
		}
	}
	if compare([]float32{nan}, []float32{nan}, 1e-5) == "" {
		t.Error("compare accepted NaN against NaN")
	}
}
