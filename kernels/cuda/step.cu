// step.cu: the step ops (kernels.StepOps), which read what changes from
// one training step to the next from the step counter ctr on the device
// (ctr[0]: the batch's offset into the permutation, ctr[1]: the number of
// steps taken; ctr[2]: the optimizer kernel's blocks done), so that a CUDA
// graph of the step replays unchanged.

// gather_batch is gather_images and gather_labels for the n samples
// perm[off .. off+n) with off = ctr[0], in one launch. A sample outside
// perm, or an entry outside the data set's rows (the fewer of its images
// and labels), is not read: its row is left as it was and the range flag
// is raised (batch_row).
extern "C" __global__ void gather_batch(const u8* data, const u8* labels, const int* perm, const int* ctr, float* dst,
                                        int* dstLabels, int n, int d, int permLen, float mean, float stdv, int rows,
                                        int* flags)
{
    int off = ctr[0];
    GRID_STRIDE(e, (i64)n * d) {
        i64 i = e / d;
        i64 j = e - i * d;
        i64 r = batch_row(perm, off, i, permLen, rows, flags);
        if (r < 0) continue;
        float v = (float)data[r * d + j];
        float s = v / 255.0f;
        dst[e] = (s - mean) / stdv;
        if (j == 0) dstLabels[i] = (int)labels[r];
    }
}

// dropout_forward_at is dropout_forward keyed by step = ctr[1] << 8 | sub.
extern "C" __global__ void dropout_forward_at(const float* x, float* mask, float* y, const int* ctr, int count, float p,
                                              float scale, u64 seed, u64 sub)
{
    u64 step = ((u64)(i64)ctr[1] << 8) | sub;
    u64 key = splitmix64(seed ^ splitmix64(step));
    GRID_STRIDE(i, count) {
        u64 r = splitmix64(key + (u64)i);
        float u = (float)(unsigned int)(r >> 40) * 5.9604644775390625e-8f; // 2^-24
        float m = u >= p ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

// finish_step moves the counter to the next step once every block of the
// calling optimizer kernel is done with it: each block counts itself in
// ctr[2] after its threads have read ctr, and the last one advances
// ctr[0] by n and ctr[1] by 1 and clears ctr[2]. Every thread of the block
// must call it.
__device__ void finish_step(int* ctr, int n)
{
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        if (atomicAdd(&ctr[2], 1) == (int)gridDim.x - 1) {
            ctr[0] += n;
            ctr[1] += 1;
            ctr[2] = 0;
            __threadfence();
        }
    }
}

// sgd_step_at is sgd_step, then finish_step.
extern "C" __global__ void sgd_step_at(float* p, const float* grad, float* v, int* ctr, int count, int n, float lr,
                                       float momentum, float wd)
{
    GRID_STRIDE(i, count) {
        sgd_update(p, grad, v, i, lr, momentum, wd);
    }
    finish_step(ctr, n);
}

// adam_step_at is adam_step at step ctr[1] + 1, with the bias corrections
// computed in double on the device as the host does for adam_step, then
// finish_step.
extern "C" __global__ void adam_step_at(float* p, const float* grad, float* m, float* v, int* ctr, int count, int n,
                                        float lr, float beta1, float beta2, float eps, float wd)
{
    double t = (double)ctr[1] + 1.0;
    double bc1 = 1.0 - pow((double)beta1, t);
    double bc2 = 1.0 - pow((double)beta2, t);
    float stepSize = (float)((double)lr / bc1);
    float bc2Sqrt = (float)sqrt(bc2);
    GRID_STRIDE(i, count) {
        adam_update(p, grad, m, v, i, beta1, beta2, eps, wd, stepSize, bc2Sqrt);
    }
    finish_step(ctr, n);
}

// set_counter writes ctr[0] = offset, ctr[1] = step, ctr[2] = 0.
extern "C" __global__ void set_counter(int* ctr, int offset, int step)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        ctr[0] = offset;
        ctr[1] = step;
        ctr[2] = 0;
    }
}
