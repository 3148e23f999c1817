// gather.cu: a batch gathered from the resident data set by a permutation
// slice (kernels.Device.GatherImages and GatherLabels). The data set has no
// gradient, so there is no backward.
//
// An index outside the data set is not read: the kernel writes NaN (images)
// or -1 (labels) and raises flags[RANGE_GATHER_IMAGES or
// RANGE_GATHER_LABELS], which the host reads at the next Sync or Download
// (rangecheck.go) and reports as the op's error.

// gather_images writes dst[i*d+j] = ((float)data[idx[i]*d+j] / 255 - mean) / std
// for i < n, j < d, in float32 exactly as the CPU device does (IEEE
// division, nothing fused), so both give the same bits. rows is the number
// of images in data.
extern "C" __global__ void gather_images(const u8* data, const int* idx, float* dst, int n, int d, int rows,
                                         float mean, float stdv, int* flags)
{
    GRID_STRIDE(e, (i64)n * d) {
        i64 i = e / d;
        i64 j = e - i * d;
        int r = idx[i];
        if (r < 0 || r >= rows) {
            flags[RANGE_GATHER_IMAGES] = 1;
            dst[e] = (float)__longlong_as_double(0x7ff8000000000000LL); // NaN
            continue;
        }
        float v = (float)data[(i64)r * d + j];
        float s = v / 255.0f;
        dst[e] = (s - mean) / stdv;
    }
}

// gather_labels writes dst[i] = labels[idx[i]] for i < n; count is the
// number of labels.
extern "C" __global__ void gather_labels(const u8* labels, const int* idx, int* dst, int n, int count, int* flags)
{
    GRID_STRIDE(i, n) {
        int r = idx[i];
        if (r < 0 || r >= count) {
            flags[RANGE_GATHER_LABELS] = 1;
            dst[i] = -1;
            continue;
        }
        dst[i] = (int)labels[r];
    }
}
