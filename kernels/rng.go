package kernels

import "mnistgpu/internal/splitmix"

// DropoutUniform is the counter-based generator behind dropout masks: a
// uniform value in [0, 1) for element i of the call numbered step under a
// run's seed. Every device computes exactly this function, so the CPU and
// the GPU draw the same masks. In C:
//
//	u64 key = splitmix64(seed ^ splitmix64(step));
//	u64 r   = splitmix64(key + (u64)i);
//	float u = (float)(r >> 40) * 0x1p-24f;   // 24 random bits
//
// An element is kept when u >= p.
func DropoutUniform(seed, step uint64, i int) float32 {
	return DropoutUniformKeyed(DropoutKey(seed, step), i)
}

// DropoutKey is the per-call key of DropoutUniform, hoisted out of loops.
func DropoutKey(seed, step uint64) uint64 {
	return splitmix.Mix64(seed ^ splitmix.Mix64(step))
}

// DropoutUniformKeyed is DropoutUniform with the key already computed.
func DropoutUniformKeyed(key uint64, i int) float32 {
	return float32(splitmix.Mix64(key+uint64(i))>>40) * (1.0 / (1 << 24))
}
