package cpu

import (
	"math"
	"testing"
)

// TestSum32: sum32 adds in eight lanes (lane j: elements 8k+j, then the
// tail into lanes 0..) and reduces them in a fixed tree, on the vector path
// and in Go alike: the same bits, NaN and ±0 included; and it is Σ within
// float32 rounding of the float64 sum.
func TestSum32(t *testing.T) {
	r := testRand(31)
	// A hand-worked case: lanes 0..7 hold 1+9+17, 2+10+18, 3+11, ...,
	// 8+16; small integers add exactly in any order: 171.
	s := make([]float32, 18)
	for i := range s {
		s[i] = float32(i + 1)
	}
	if got := sum32(s); got != 171 {
		t.Errorf("sum32(1..18) = %v, want 171", got)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 196, 784, 1001} {
		x := randSlice(r, n)
		if n > 9 {
			x[n/2] = float32(math.Copysign(0, -1))
		}
		var want float64
		for _, v := range x {
			want += float64(v)
		}
		vec := sum32(x)
		var ref float32
		onGoPath(func() { ref = sum32(x) })
		if math.Float32bits(vec) != math.Float32bits(ref) {
			t.Errorf("n=%d: vector path %v, Go %v", n, vec, ref)
		}
		if d := math.Abs(float64(vec) - want); !(d <= 1e-5*float64(n+1)) {
			t.Errorf("n=%d: sum32 %v, float64 sum %v", n, vec, want)
		}
		if n > 0 {
			x[n-1] = float32(math.NaN())
			if v := sum32(x); !math.IsNaN(float64(v)) {
				t.Errorf("n=%d with a NaN: sum32 = %v", n, v)
			}
		}
	}
}
