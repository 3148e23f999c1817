// step_pool.cu: the activation and the 2×2 max-pool after it fused
// (kernels.StepOps.ActPoolForward and PoolActBackward), using max4 of
// maxpool.cu and act_fwd/act_bwd of step_dense.cu.

// act_maxpool_forward is act_forward then maxpool_forward in one launch:
// y = f(x) over [planes, H, W] and, at the top-left corner of each 2×2
// window, pooled = the window's max4 of f (recomputed from x).
extern "C" __global__ void act_maxpool_forward(int act, const float* x, float* y, float* pooled, int planes, int H, int W)
{
    int ho = H / 2, wo = W / 2;
    GRID_STRIDE(e, (i64)planes * H * W) {
        y[e] = act_fwd(act, x[e]);
        i64 w = e % W;
        i64 t = e / W;
        i64 h = t % H;
        i64 pl = t / H;
        if ((h & 1) == 0 && (w & 1) == 0 && h / 2 < ho && w / 2 < wo) {
            const float* r0 = x + e;
            const float* r1 = r0 + W;
            float m;
            max4(act_fwd(act, r0[0]), act_fwd(act, r0[1]), act_fwd(act, r1[0]), act_fwd(act, r1[1]), &m);
            pooled[(pl * ho + h / 2) * wo + w / 2] = m;
        }
    }
}

// maxpool_act_backward is maxpool_backward (routing dy to the arg-max of
// each window of y, the activation's output) then act_backward, in one launch.
extern "C" __global__ void maxpool_act_backward(int act, const float* y, const float* dy, float* dx, int planes, int H, int W)
{
    int ho = H / 2, wo = W / 2;
    GRID_STRIDE(e, (i64)planes * H * W) {
        i64 w = e % W;
        i64 t = e / W;
        i64 h = t % H;
        i64 pl = t / H;
        i64 oy = h / 2, ox = w / 2;
        float g = 0.0f;
        if (oy < ho && ox < wo) {
            const float* r0 = y + (pl * H + 2 * oy) * W + 2 * ox;
            const float* r1 = r0 + W;
            float m;
            int k = max4(r0[0], r0[1], r1[0], r1[1], &m);
            int mine = (int)((h - 2 * oy) * 2 + (w - 2 * ox));
            if (k == mine) g = dy[(pl * ho + oy) * wo + ox];
        }
        dx[e] = act_bwd(act, y[e], g);
    }
}

// bn_act is bn_apply's value of element e (channel c), through act_fwd.
__device__ float bn_act(int act, const float* x, i64 e, int c, const float* mean, const float* invstd, const float* gamma,
                        const float* beta)
{
    float scale = invstd[c] * gamma[c];
    return act_fwd(act, (x[e] - mean[c]) * scale + beta[c]);
}

// bn_act_maxpool_forward is bn_apply, act_forward and maxpool_forward in
// one launch over x [n, C, H, W]: y = f(bn(x)) and pooled = the windows'
// max4 of f(bn(x)) (recomputed at each window's top-left element). The
// batch norm's own output is not written.
extern "C" __global__ void bn_act_maxpool_forward(const float* x, float* y, float* pooled, const float* mean,
                                                  const float* invstd, const float* gamma, const float* beta, int act,
                                                  int n, int C, int H, int W)
{
    int ho = H / 2, wo = W / 2;
    GRID_STRIDE(e, (i64)n * C * H * W) {
        i64 w = e % W;
        i64 t = e / W;
        i64 h = t % H;
        i64 pl = t / H;
        int c = (int)(pl % C);
        y[e] = bn_act(act, x, e, c, mean, invstd, gamma, beta);
        if ((h & 1) == 0 && (w & 1) == 0 && h / 2 < ho && w / 2 < wo) {
            float m;
            max4(bn_act(act, x, e, c, mean, invstd, gamma, beta), bn_act(act, x, e + 1, c, mean, invstd, gamma, beta),
                 bn_act(act, x, e + W, c, mean, invstd, gamma, beta), bn_act(act, x, e + W + 1, c, mean, invstd, gamma, beta),
                 &m);
            pooled[(pl * ho + h / 2) * wo + w / 2] = m;
        }
    }
}

// bn_stats_act_maxpool_forward is bn_finalize_stats and
// bn_act_maxpool_forward in one launch (C <= BLOCK): every block turns the
// partial sums into each channel's mean and inverse standard deviation in
// shared memory, exactly as bn_finalize_stats does, and block 0 also
// writes them and updates the running averages.
extern "C" __global__ void bn_stats_act_maxpool_forward(const float* x, float* y, float* pooled, const double* part,
                                                        float* saveMean, float* saveInvStd, float* runMean, float* runVar,
                                                        const float* gamma, const float* beta, int act, int n, int C, int H,
                                                        int W, int P, float eps, float momentum)
{
    __shared__ float smean[BLOCK], sinv[BLOCK];
    int c0 = threadIdx.x;
    if (c0 < C) {
        double s = 0.0, s2 = 0.0;
        for (int p = 0; p < P; p++) {
            s += part[2 * (c0 * P + p)];
            s2 += part[2 * (c0 * P + p) + 1];
        }
        double m = (double)n * (double)(H * W);
        double mean = s / m;
        double var = s2 / m - mean * mean;
        if (var < 0.0) var = 0.0;
        double invstd = 1.0 / sqrt(var + (double)eps);
        smean[c0] = (float)mean;
        sinv[c0] = (float)invstd;
        if (blockIdx.x == 0) {
            saveMean[c0] = (float)mean;
            saveInvStd[c0] = (float)invstd;
            double mom = (double)momentum;
            double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
            runMean[c0] = (float)((1.0 - mom) * (double)runMean[c0] + mom * mean);
            runVar[c0] = (float)((1.0 - mom) * (double)runVar[c0] + mom * unbiased);
        }
    }
    __syncthreads();
    int ho = H / 2, wo = W / 2;
    GRID_STRIDE(e, (i64)n * C * H * W) {
        i64 w = e % W;
        i64 t = e / W;
        i64 h = t % H;
        i64 pl = t / H;
        int c = (int)(pl % C);
        y[e] = bn_act(act, x, e, c, smean, sinv, gamma, beta);
        if ((h & 1) == 0 && (w & 1) == 0 && h / 2 < ho && w / 2 < wo) {
            float m;
            max4(bn_act(act, x, e, c, smean, sinv, gamma, beta), bn_act(act, x, e + 1, c, smean, sinv, gamma, beta),
                 bn_act(act, x, e + W, c, smean, sinv, gamma, beta), bn_act(act, x, e + W + 1, c, smean, sinv, gamma, beta),
                 &m);
            pooled[(pl * ho + h / 2) * wo + w / 2] = m;
        }
    }
}

// pool_act_grad is maxpool_act_backward's value for element e of y [planes, H, W].
__device__ float pool_act_grad(int act, const float* y, const float* dy, i64 e, int H, int W)
{
    int ho = H / 2, wo = W / 2;
    i64 w = e % W;
    i64 t = e / W;
    i64 h = t % H;
    i64 pl = t / H;
    i64 oy = h / 2, ox = w / 2;
    float g = 0.0f;
    if (oy < ho && ox < wo) {
        const float* r0 = y + (pl * H + 2 * oy) * W + 2 * ox;
        const float* r1 = r0 + W;
        float m;
        int k = max4(r0[0], r0[1], r1[0], r1[1], &m);
        int mine = (int)((h - 2 * oy) * 2 + (w - 2 * ox));
        if (k == mine) g = dy[(pl * ho + oy) * wo + ox];
    }
    return act_bwd(act, y[e], g);
}

// pool_act_bn_partial_grad is maxpool_act_backward (writing g, the batch
// norm's output gradient) and bn_partial_grad on it, in one launch: block
// b handles channel b / P, chunk b % P, as bn_partial_grad.
extern "C" __global__ void pool_act_bn_partial_grad(int act, const float* y, const float* dpooled, float* g, const float* x,
                                                    const float* mean, double* part, int n, int C, int H, int W, int P)
{
    __shared__ double sh[BLOCK];
    int S = H * W;
    int c = blockIdx.x / P;
    int p = blockIdx.x - c * P;
    i64 m = (i64)n * S;
    float mu = mean[c];
    double s = 0.0, sx = 0.0;
    for (i64 t = (i64)p * blockDim.x + threadIdx.x; t < m; t += (i64)P * blockDim.x) {
        i64 i = t / S;
        i64 sp = t - i * S;
        i64 k = (i * C + c) * S + sp;
        float gk = pool_act_grad(act, y, dpooled, k, H, W);
        g[k] = gk;
        s += (double)gk;
        sx += (double)gk * (double)(x[k] - mu);
    }
    s = block_sum_d(s, sh);
    sx = block_sum_d(sx, sh);
    if (threadIdx.x == 0) {
        part[2 * (i64)blockIdx.x] = s;
        part[2 * (i64)blockIdx.x + 1] = sx;
    }
}

// bn_grad_dx is bn_finalize_grad and bn_dx in one launch (C <= BLOCK):
// every block finalises the coefficients in shared memory, block 0 writes
// dgamma and dbeta.
extern "C" __global__ void bn_grad_dx(const double* part, const float* x, const float* dy, float* dx, const float* mean,
                                      const float* invstd, const float* gamma, float* dgamma, float* dbeta, int n, int C,
                                      int S, int P)
{
    __shared__ float c0[BLOCK], c1[BLOCK];
    int c = threadIdx.x;
    if (c < C) {
        double s = 0.0, sx = 0.0;
        for (int p = 0; p < P; p++) {
            s += part[2 * (c * P + p)];
            sx += part[2 * (c * P + p) + 1];
        }
        double m = (double)n * (double)S;
        double sxh = sx * (double)invstd[c];
        if (blockIdx.x == 0) {
            dbeta[c] = (float)s;
            dgamma[c] = (float)sxh;
        }
        c0[c] = (float)(s / m);
        c1[c] = (float)(sxh / m);
    }
    __syncthreads();
    GRID_STRIDE(e, (i64)n * C * S) {
        int ch = (int)((e / S) % C);
        float is = invstd[ch];
        float k = gamma[ch] * is;
        float xh = (x[e] - mean[ch]) * is;
        dx[e] = k * (dy[e] - c0[ch] - xh * c1[ch]);
    }
}
