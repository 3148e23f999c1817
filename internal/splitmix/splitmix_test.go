package splitmix

import "testing"

// TestMix64 checks the first outputs of SplitMix64 seeded with 0 (state
// advanced by the golden gamma before each mix), as published with the
// reference implementation (Vigna's splitmix64.c).
func TestMix64(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for i, w := range want {
		// The reference adds the gamma to the state, then mixes; Mix64
		// adds it itself, so state i·gamma gives output i+1.
		if got := Mix64(uint64(i) * 0x9E3779B97F4A7C15); got != w {
			t.Errorf("output %d: %#x, want %#x", i+1, got, w)
		}
	}
}
