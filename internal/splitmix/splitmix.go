// Package splitmix is the SplitMix64 finaliser of Steele, Lea and Flood: a
// bijective 64-bit mixer whose output passes BigCrush when fed a counter.
// It is the one copy used by the data set's epoch orders (dataset) and by
// the dropout masks every device draws (kernels); the CUDA kernels carry
// the same function in C (kernels/cuda/dropout.cu).
package splitmix

// Mix64 spreads nearby integers (a counter, consecutive epochs) over the
// whole 64-bit range.
func Mix64(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
