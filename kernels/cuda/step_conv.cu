// step_conv.cu: the convolution of the training step with its bias, in
// one kernel each way (kernels.StepOps.ConvBiasForward and
// ConvBiasBackward): direct loops for the study's small convolutions
// (stride 1, "same" zero padding, odd K), where cuDNN's calls are
// launch-bound. Reductions over the batch run in one block each, in a
// fixed order: deterministic, no atomics.

// conv_bias_forward: y[i,o,h,w] = sum_{c,r,q} x[i,c,h+r-p,w+q-p] * w[o,c,r,q] + b[o].
extern "C" __global__ void conv_bias_forward(const float* x, const float* w, const float* b, float* y, int n, int C, int H,
                                             int W, int K, int O)
{
    int p = (K - 1) / 2;
    GRID_STRIDE(e, (i64)n * O * H * W) {
        int ow = (int)(e % W);
        i64 t = e / W;
        int oh = (int)(t % H);
        t /= H;
        int o = (int)(t % O);
        i64 i = t / O;
        float acc = 0.0f;
        for (int c = 0; c < C; c++) {
            const float* xc = x + (i * C + c) * H * W;
            const float* wc = w + ((i64)o * C + c) * K * K;
            for (int r = 0; r < K; r++) {
                int ih = oh + r - p;
                if (ih < 0 || ih >= H) continue;
                for (int q = 0; q < K; q++) {
                    int iw = ow + q - p;
                    if (iw < 0 || iw >= W) continue;
                    acc += xc[ih * W + iw] * wc[r * K + q];
                }
            }
        }
        y[e] = acc + b[o];
    }
}

// conv_bias_backward: dw[o,c,r,q] = sum_{i,h,w} dy[i,o,h,w] * x[i,c,h+r-p,w+q-p],
// db[o] = sum_{i,h,w} dy[i,o,h,w] (one block each, summed in double) and,
// when dx is not NULL, dx[i,c,h,w] = sum_{o,r,q} dy[i,o,h-r+p,w-q+p] * w[o,c,r,q]
// (one thread per element, in chunks of BLOCK). The work items are spread
// over the grid.
extern "C" __global__ void conv_bias_backward(const float* x, const float* dy, const float* w, float* dw, float* db, float* dx,
                                              int n, int C, int H, int W, int K, int O)
{
    __shared__ double sh[BLOCK];
    int p = (K - 1) / 2;
    int nW = O * C * K * K, nB = O;
    i64 HW = (i64)H * W, m = (i64)n * HW;
    i64 nX = dx ? ((i64)n * C * HW + BLOCK - 1) / BLOCK : 0;
    for (i64 t = blockIdx.x; t < nW + nB + nX; t += gridDim.x) {
        if (t < nW) {
            int q = (int)(t % K), r = (int)(t / K % K), c = (int)(t / (K * K) % C), o = (int)(t / (K * K * C));
            double s = 0.0;
            for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
                i64 i = j / HW;
                int hw = (int)(j - i * HW);
                int oh = hw / W, ow = hw - oh * W;
                int ih = oh + r - p, iw = ow + q - p;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += (double)dy[(i * O + o) * HW + hw] * (double)x[(i * C + c) * HW + ih * W + iw];
            }
            s = block_sum_d(s, sh);
            if (threadIdx.x == 0) dw[t] = (float)s;
        } else if (t < nW + nB) {
            int o = (int)(t - nW);
            double s = 0.0;
            for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
                i64 i = j / HW;
                s += (double)dy[(i * O + o) * HW + (j - i * HW)];
            }
            s = block_sum_d(s, sh);
            if (threadIdx.x == 0) db[o] = (float)s;
        } else {
            i64 e = (t - nW - nB) * BLOCK + threadIdx.x;
            if (e >= (i64)n * C * HW) continue;
            int iw = (int)(e % W);
            i64 u = e / W;
            int ih = (int)(u % H);
            u /= H;
            int c = (int)(u % C);
            i64 i = u / C;
            float acc = 0.0f;
            for (int o = 0; o < O; o++) {
                const float* dyo = dy + (i * O + o) * HW;
                const float* wo = w + ((i64)o * C + c) * K * K;
                for (int r = 0; r < K; r++) {
                    int oh = ih - r + p;
                    if (oh < 0 || oh >= H) continue;
                    for (int q = 0; q < K; q++) {
                        int ow = iw - q + p;
                        if (ow < 0 || ow >= W) continue;
                        acc += dyo[oh * W + ow] * wo[r * K + q];
                    }
                }
            }
            dx[e] = acc;
        }
    }
}

// conv_bias_stats_forward is conv_bias_forward with batch norm's partial
// sums of its output (bn_partial_stats) in the same launch: block b
// computes output channel c = b / P, chunk p = b % P, in bn_partial_stats'
// order, so the partial sums are the same numbers.
extern "C" __global__ void conv_bias_stats_forward(const float* x, const float* w, const float* b, float* y, double* part, int n,
                                                   int C, int H, int W, int K, int O, int P)
{
    __shared__ double sh[BLOCK];
    int pad = (K - 1) / 2;
    int o = blockIdx.x / P;
    int p = blockIdx.x - o * P;
    i64 S = (i64)H * W, m = (i64)n * S;
    double s = 0.0, s2 = 0.0;
    for (i64 t = (i64)p * blockDim.x + threadIdx.x; t < m; t += (i64)P * blockDim.x) {
        i64 i = t / S;
        int sp = (int)(t - i * S);
        int oh = sp / W, ow = sp - oh * W;
        float acc = 0.0f;
        for (int c = 0; c < C; c++) {
            const float* xc = x + (i * C + c) * S;
            const float* wc = w + ((i64)o * C + c) * K * K;
            for (int r = 0; r < K; r++) {
                int ih = oh + r - pad;
                if (ih < 0 || ih >= H) continue;
                for (int q = 0; q < K; q++) {
                    int iw = ow + q - pad;
                    if (iw < 0 || iw >= W) continue;
                    acc += xc[ih * W + iw] * wc[r * K + q];
                }
            }
        }
        float v = acc + b[o];
        y[(i * O + o) * S + sp] = v;
        s += (double)v;
        s2 += (double)v * (double)v;
    }
    s = block_sum_d(s, sh);
    s2 = block_sum_d(s2, sh);
    if (threadIdx.x == 0) {
        part[2 * (i64)blockIdx.x] = s;
        part[2 * (i64)blockIdx.x + 1] = s2;
    }
}

// conv_gather_stats_forward is gather_batch and conv_bias_stats_forward in
// one launch, for the first convolution: its input is read from the data
// set through the permutation (off = ctr[0]) and normalised as
// gather_batch does; the blocks of output channel 0 also write it to x
// (the backward's input) and the labels to dstLabels.
extern "C" __global__ void conv_gather_stats_forward(const u8* data, const u8* labels, const int* perm, const int* ctr, float* x,
                                                     int* dstLabels, const float* w, const float* b, float* y, double* part,
                                                     int n, int C, int H, int W, int K, int O, int P, int permLen, float mean,
                                                     float stdv, int rows, int* flags)
{
    __shared__ double sh[BLOCK];
    int pad = (K - 1) / 2;
    int o = blockIdx.x / P;
    int p = blockIdx.x - o * P;
    int off = ctr[0];
    i64 S = (i64)H * W, m = (i64)n * S, D = (i64)C * S;
    double s = 0.0, s2 = 0.0;
    for (i64 t = (i64)p * blockDim.x + threadIdx.x; t < m; t += (i64)P * blockDim.x) {
        i64 i = t / S;
        int sp = (int)(t - i * S);
        int oh = sp / W, ow = sp - oh * W;
        i64 row = batch_row(perm, off, i, permLen, rows, flags);
        if (row < 0) continue;
        const u8* img = data + row * D;
        if (o == 0) {
            for (int c = 0; c < C; c++) x[i * D + c * S + sp] = ((float)img[c * S + sp] / 255.0f - mean) / stdv;
            if (sp == 0) dstLabels[i] = (int)labels[row];
        }
        float acc = 0.0f;
        for (int c = 0; c < C; c++) {
            const u8* xc = img + c * S;
            const float* wc = w + ((i64)o * C + c) * K * K;
            for (int r = 0; r < K; r++) {
                int ih = oh + r - pad;
                if (ih < 0 || ih >= H) continue;
                for (int q = 0; q < K; q++) {
                    int iw = ow + q - pad;
                    if (iw < 0 || iw >= W) continue;
                    acc += (((float)xc[ih * W + iw] / 255.0f - mean) / stdv) * wc[r * K + q];
                }
            }
        }
        float v = acc + b[o];
        y[(i * O + o) * S + sp] = v;
        s += (double)v;
        s2 += (double)v * (double)v;
    }
    s = block_sum_d(s, sh);
    s2 = block_sum_d(s2, sh);
    if (threadIdx.x == 0) {
        part[2 * (i64)blockIdx.x] = s;
        part[2 * (i64)blockIdx.x + 1] = s2;
    }
}

// bn_conv_backward is bn_grad_dx and conv_bias_backward in one launch (O <=
// BLOCK), the batch norm's input gradient (the convolution's output
// gradient dy) computed where conv_bias_backward reads it instead of being
// stored: every block finalises the batch norm's coefficients in shared
// memory as bn_grad_dx does, block 0 writes dgamma and dbeta, and
// bn_conv_dy is bn_grad_dx's formula for one element. bx is the batch
// norm's input (the convolution's output) and g its output gradient, both
// [n, O, H, W]; x is the convolution's input [n, C, H, W].
__device__ float bn_conv_dy(const float* bx, const float* g, const float* mean, const float* invstd, const float* gamma,
                            const float* c0, const float* c1, i64 e, int ch)
{
    float is = invstd[ch];
    float k = gamma[ch] * is;
    float xh = (bx[e] - mean[ch]) * is;
    return k * (g[e] - c0[ch] - xh * c1[ch]);
}

extern "C" __global__ void bn_conv_backward(const double* part, const float* bx, const float* g, const float* mean,
                                            const float* invstd, const float* gamma, float* dgamma, float* dbeta,
                                            const float* x, const float* w, float* dw, float* db, float* dx, int n, int C,
                                            int H, int W, int K, int O, int P)
{
    __shared__ double sh[BLOCK];
    __shared__ float c0[BLOCK], c1[BLOCK];
    i64 HW = (i64)H * W, m = (i64)n * HW;
    int ct = threadIdx.x;
    if (ct < O) {
        double s = 0.0, sx = 0.0;
        for (int p = 0; p < P; p++) {
            s += part[2 * (ct * P + p)];
            sx += part[2 * (ct * P + p) + 1];
        }
        double mm = (double)n * (double)HW;
        double sxh = sx * (double)invstd[ct];
        if (blockIdx.x == 0) {
            dbeta[ct] = (float)s;
            dgamma[ct] = (float)sxh;
        }
        c0[ct] = (float)(s / mm);
        c1[ct] = (float)(sxh / mm);
    }
    __syncthreads();
    int p = (K - 1) / 2;
    int nW = O * C * K * K, nB = O;
    i64 nX = dx ? ((i64)n * C * HW + BLOCK - 1) / BLOCK : 0;
    for (i64 t = blockIdx.x; t < nW + nB + nX; t += gridDim.x) {
        if (t < nW) {
            int q = (int)(t % K), r = (int)(t / K % K), c = (int)(t / (K * K) % C), o = (int)(t / (K * K * C));
            double s = 0.0;
            for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
                i64 i = j / HW;
                int hw = (int)(j - i * HW);
                int oh = hw / W, ow = hw - oh * W;
                int ih = oh + r - p, iw = ow + q - p;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                float dyv = bn_conv_dy(bx, g, mean, invstd, gamma, c0, c1, (i * O + o) * HW + hw, o);
                s += (double)dyv * (double)x[(i * C + c) * HW + ih * W + iw];
            }
            s = block_sum_d(s, sh);
            if (threadIdx.x == 0) dw[t] = (float)s;
        } else if (t < nW + nB) {
            int o = (int)(t - nW);
            double s = 0.0;
            for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
                i64 i = j / HW;
                s += (double)bn_conv_dy(bx, g, mean, invstd, gamma, c0, c1, (i * O + o) * HW + (j - i * HW), o);
            }
            s = block_sum_d(s, sh);
            if (threadIdx.x == 0) db[o] = (float)s;
        } else {
            i64 e = (t - nW - nB) * BLOCK + threadIdx.x;
            if (e >= (i64)n * C * HW) continue;
            int iw = (int)(e % W);
            i64 u = e / W;
            int ih = (int)(u % H);
            u /= H;
            int c = (int)(u % C);
            i64 i = u / C;
            float acc = 0.0f;
            for (int o = 0; o < O; o++) {
                const float* wo = w + ((i64)o * C + c) * K * K;
                for (int r = 0; r < K; r++) {
                    int oh = ih - r + p;
                    if (oh < 0 || oh >= H) continue;
                    for (int q = 0; q < K; q++) {
                        int ow = iw - q + p;
                        if (ow < 0 || ow >= W) continue;
                        acc += bn_conv_dy(bx, g, mean, invstd, gamma, c0, c1, (i * O + o) * HW + oh * W + ow, o) * wo[r * K + q];
                    }
                }
            }
            dx[e] = acc;
        }
    }
}

