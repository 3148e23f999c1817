// common.cuh: definitions shared by every kernel file. The Go side
// concatenates this file and the *.cu files of the package into one NVRTC
// program (see kernels.go), compiled with -default-device and without
// --use_fast_math, so division, sqrt, expf and logf are IEEE-accurate.
//
// Conventions: every kernel is extern "C" (unmangled names for
// cuModuleGetFunction), is launched with BLOCK threads per block, and walks
// its elements with a grid-stride loop, so any grid size is correct. Kernel
// parameters are only pointers, int, float and unsigned long long (u64); the
// Go side checks this against its launch table (see kernels_test.go).

typedef unsigned long long u64;
typedef long long i64;
typedef unsigned char u8;

#define BLOCK 256

// Slots of the device's range flags (an int[RANGE_FLAGS] the Go side
// allocates once, reads at Sync and Download and clears; rangecheck.go): a
// kernel that meets an index or label out of range sets its slot to 1.
#define RANGE_GATHER_IMAGES 0
#define RANGE_GATHER_LABELS 1
#define RANGE_LOSS_LABELS 2
#define RANGE_GATHER_BATCH 3
#define RANGE_FLAGS 4

// GRID_STRIDE(i, n) loops i over [0, n) across the whole grid.
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

// block_sum_d returns the sum of v over the block to every thread. All
// threads of the block must call it; blockDim.x is a power of two <= BLOCK
// and sh holds BLOCK doubles of shared memory. The summation order is fixed,
// so the result is deterministic.
__device__ double block_sum_d(double v, double* sh)
{
    unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads(); // sh may be reused right after
    return r;
}

// batch_row returns the data set row of sample i of the batch at off into
// perm, or -1 after raising flags[RANGE_GATHER_BATCH] when the batch runs
// past perm (permLen entries) or the entry is not one of the rows.
__device__ i64 batch_row(const int* perm, int off, i64 i, int permLen, int rows, int* flags)
{
    if (off + i < 0 || off + i >= permLen) {
        flags[RANGE_GATHER_BATCH] = 1;
        return -1;
    }
    int r = perm[off + i];
    if (r < 0 || r >= rows) {
        flags[RANGE_GATHER_BATCH] = 1;
        return -1;
    }
    return r;
}
