// gather.cu: a batch gathered from the resident data set by a permutation
// slice (kernels.Device.GatherImages and GatherLabels). The data set has no
// gradient, so there is no backward.

// gather_images writes dst[i*d+j] = ((float)data[idx[i]*d+j] / 255 - mean) / std
// for i < n, j < d, in float32 exactly as the CPU device does (IEEE
// division, nothing fused), so both give the same bits.
extern "C" __global__ void gather_images(const u8* data, const int* idx, float* dst, int n, int d, float mean, float stdv)
{
    GRID_STRIDE(e, (i64)n * d) {
        i64 i = e / d;
        i64 j = e - i * d;
        float v = (float)data[(i64)idx[i] * d + j];
        float s = v / 255.0f;
        dst[e] = (s - mean) / stdv;
    }
}

// gather_labels writes dst[i] = labels[idx[i]] for i < n.
extern "C" __global__ void gather_labels(const u8* labels, const int* idx, int* dst, int n)
{
    GRID_STRIDE(i, n) {
        dst[i] = (int)labels[idx[i]];
    }
}
