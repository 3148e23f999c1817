// dropout.cu: inverted dropout (kernels.Device.DropoutForward); its backward
// is Mul (elementwise.cu): dx = dy * mask.
//
// The keep mask comes from kernels.DropoutUniform (kernels/rng.go), ported
// exactly so that the GPU and the CPU draw the same masks:
//   key = splitmix64(seed ^ splitmix64(step))      (computed on the host)
//   r   = splitmix64(key + i)
//   u   = (float)(r >> 40) * 2^-24                  (24 random bits, exact)
// element i is kept when u >= p; mask = scale = 1/(1-p) (computed on the
// host in float32) when kept, 0 when dropped; y = x * mask.

__device__ u64 splitmix64(u64 z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

extern "C" __global__ void dropout_forward(const float* x, float* mask, float* y, int count, float p, float scale, u64 key)
{
    GRID_STRIDE(i, count) {
        u64 r = splitmix64(key + (u64)i);
        float u = (float)(unsigned int)(r >> 40) * 5.9604644775390625e-8f; // 2^-24
        float m = u >= p ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}
