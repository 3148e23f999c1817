// loss.cu: losses on logits [n, classes] against int labels
// (kernels.Device.LossForward): the summed loss and the number of correct
// arg-maxes are added to two device F32 accumulators, and the gradient of
// the batch-mean loss with respect to the logits is written when dlogits is
// not NULL. One thread per row; the math is in double (as the CPU device)
// with the max subtracted before exp, so it is stable for any logits.
//
// kind: 0 cross-entropy, 1 NLL of log-softmax, 2 MSE of softmax against the
// one-hot label (kernels.Loss). An out-of-range label makes that row's loss
// NaN and raises flags[RANGE_LOSS_LABELS], which the host reads at the next
// Sync or Download and reports as LossForward's error (the op itself cannot
// return it without waiting for the GPU).

// loss_row adds row r's loss to *lsum and its hit to *hits and, when
// dlogits is not NULL, writes its gradient: loss_forward's work for one
// row, shared with the fused dense_loss (step_dense.cu).
__device__ void loss_row(int kind, const float* logits, const int* labels, float* dlogits, i64 r, int n, int classes,
                         int* flags, double* lsum, double* hits)
{
    double inv = 1.0 / (double)n;                       // CE, NLL: the batch mean's 1/n
    double scale = 2.0 / ((double)n * (double)classes); // MSE: g_c = scale * (p_c - [c=y])
    const float* z = logits + r * classes;
    int y = labels[r];
    bool valid = y >= 0 && y < classes;
    // arg-max, first index on ties; lse = log sum exp z
    float best = z[0];
    int arg = 0;
    for (int c = 1; c < classes; c++) {
        if (z[c] > best) { best = z[c]; arg = c; }
    }
    double mx = (double)best;
    double se = 0.0;
    for (int c = 0; c < classes; c++) se += exp((double)z[c] - mx);
    double lse = mx + log(se);
    if (valid && arg == y) *hits += 1.0;
    if (!valid) {
        flags[RANGE_LOSS_LABELS] = 1;
        *lsum += __longlong_as_double(0x7ff8000000000000LL); // NaN
        if (dlogits) for (int c = 0; c < classes; c++) dlogits[r * classes + c] = 0.0f;
        return;
    }
    if (kind == 2) {
        double l = 0.0, gp = 0.0;
        for (int c = 0; c < classes; c++) {
            double p = exp((double)z[c] - lse);
            double e = c == y ? p - 1.0 : p;
            l += e * e;
            gp += scale * e * p;
        }
        *lsum += l / (double)classes;
        if (dlogits) {
            for (int c = 0; c < classes; c++) {
                double p = exp((double)z[c] - lse);
                double e = c == y ? p - 1.0 : p;
                dlogits[r * classes + c] = (float)(p * (scale * e - gp));
            }
        }
    } else {
        // CE: lse - z[y]; NLL: -(z[y] - lse), the same number.
        *lsum += kind == 1 ? -((double)z[y] - lse) : lse - (double)z[y];
        if (dlogits) {
            for (int c = 0; c < classes; c++) {
                double q = exp((double)z[c] - lse);
                if (c == y) q -= 1.0;
                dlogits[r * classes + c] = (float)(q * inv);
            }
        }
    }
}

extern "C" __global__ void loss_forward(int kind, const float* logits, const int* labels, float* dlogits,
                                        float* lossSum, float* correct, int n, int classes, int* flags)
{
    __shared__ double sh[BLOCK];
    double lsum = 0.0, hits = 0.0;
    for (i64 r = (i64)blockIdx.x * blockDim.x + threadIdx.x; r < n; r += (i64)blockDim.x * gridDim.x)
        loss_row(kind, logits, labels, dlogits, r, n, classes, flags, &lsum, &hits);
    lsum = block_sum_d(lsum, sh);
    hits = block_sum_d(hits, sh);
    if (threadIdx.x == 0) {
        atomicAdd(lossSum, (float)lsum);
        atomicAdd(correct, (float)hits);
    }
}
