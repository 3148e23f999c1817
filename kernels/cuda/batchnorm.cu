// batchnorm.cu: spatial batch normalisation of x [n, C, S] over the n*S
// values of each channel (kernels.BatchNorm), forward and backward.
//
// Statistics are reduced in two launches: P blocks per channel each write a
// partial sum (in double) to a scratch buffer, then one thread per channel
// adds the P partials in a fixed order. No atomics: results are
// deterministic. Semantics, as PyTorch and the CPU device:
//   mean = sum x / M, var = sum (x - mean)^2 / M (biased), M = n*S
//   saveInvStd = 1 / sqrt(var + eps)
//   runMean = (1 - momentum) * runMean + momentum * mean
//   runVar  = (1 - momentum) * runVar  + momentum * var * M / (M - 1)  (unbiased)
//   y = (x - mean) * (invstd * gamma) + beta
// The variance is E[x^2] - mean^2 in double: float inputs square exactly in
// double, so this loses nothing measurable unless |mean| / std > 1e5.

// bn_partial_stats: block b handles channel c = b / P, chunk p = b % P, and
// writes part[2*b] = sum x, part[2*b+1] = sum x^2 over its elements.
extern "C" __global__ void bn_partial_stats(const float* x, double* part, int n, int C, int S, int P)
{
    __shared__ double sh[BLOCK];
    int c = blockIdx.x / P;
    int p = blockIdx.x - c * P;
    i64 m = (i64)n * S;
    double s = 0.0, s2 = 0.0;
    for (i64 t = (i64)p * blockDim.x + threadIdx.x; t < m; t += (i64)P * blockDim.x) {
        i64 i = t / S;
        i64 sp = t - i * S;
        double v = (double)x[(i * C + c) * S + sp];
        s += v;
        s2 += v * v;
    }
    s = block_sum_d(s, sh);
    s2 = block_sum_d(s2, sh);
    if (threadIdx.x == 0) {
        part[2 * (i64)blockIdx.x] = s;
        part[2 * (i64)blockIdx.x + 1] = s2;
    }
}

// bn_finalize_stats: one thread per channel turns the partials into the
// saved mean and inverse standard deviation and updates the running averages.
extern "C" __global__ void bn_finalize_stats(const double* part, float* saveMean, float* saveInvStd,
                                             float* runMean, float* runVar, int n, int C, int S, int P,
                                             float eps, float momentum)
{
    GRID_STRIDE(c, C) {
        double s = 0.0, s2 = 0.0;
        for (int p = 0; p < P; p++) {
            s += part[2 * (c * P + p)];
            s2 += part[2 * (c * P + p) + 1];
        }
        double m = (double)n * (double)S;
        double mean = s / m;
        double var = s2 / m - mean * mean;
        if (var < 0.0) var = 0.0;
        double invstd = 1.0 / sqrt(var + (double)eps);
        saveMean[c] = (float)mean;
        saveInvStd[c] = (float)invstd;
        double mom = (double)momentum;
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        runMean[c] = (float)((1.0 - mom) * (double)runMean[c] + mom * mean);
        runVar[c] = (float)((1.0 - mom) * (double)runVar[c] + mom * unbiased);
    }
}

// bn_apply: y = (x - mean[c]) * (invstd[c] * gamma[c]) + beta[c].
extern "C" __global__ void bn_apply(const float* x, float* y, const float* mean, const float* invstd,
                                    const float* gamma, const float* beta, int n, int C, int S)
{
    GRID_STRIDE(e, (i64)n * C * S) {
        int c = (int)((e / S) % C);
        float scale = invstd[c] * gamma[c];
        y[e] = (x[e] - mean[c]) * scale + beta[c];
    }
}

// bn_infer: y = (x - runMean[c]) * (gamma[c] / sqrt(runVar[c] + eps)) + beta[c],
// the scale computed in double and rounded once, as the CPU device.
extern "C" __global__ void bn_infer(const float* x, float* y, const float* runMean, const float* runVar,
                                    const float* gamma, const float* beta, int n, int C, int S, float eps)
{
    GRID_STRIDE(e, (i64)n * C * S) {
        int c = (int)((e / S) % C);
        float scale = (float)((double)gamma[c] / sqrt((double)runVar[c] + (double)eps));
        y[e] = (x[e] - runMean[c]) * scale + beta[c];
    }
}

// bn_partial_grad: like bn_partial_stats, for sum dy and sum dy * (x - mean).
extern "C" __global__ void bn_partial_grad(const float* x, const float* dy, const float* mean, double* part,
                                           int n, int C, int S, int P)
{
    __shared__ double sh[BLOCK];
    int c = blockIdx.x / P;
    int p = blockIdx.x - c * P;
    i64 m = (i64)n * S;
    float mu = mean[c];
    double s = 0.0, sx = 0.0;
    for (i64 t = (i64)p * blockDim.x + threadIdx.x; t < m; t += (i64)P * blockDim.x) {
        i64 i = t / S;
        i64 sp = t - i * S;
        i64 k = (i * C + c) * S + sp;
        double g = (double)dy[k];
        s += g;
        sx += g * (double)(x[k] - mu);
    }
    s = block_sum_d(s, sh);
    sx = block_sum_d(sx, sh);
    if (threadIdx.x == 0) {
        part[2 * (i64)blockIdx.x] = s;
        part[2 * (i64)blockIdx.x + 1] = sx;
    }
}

// bn_finalize_grad: dbeta[c] = sum dy, dgamma[c] = sum dy * xhat; coef
// keeps (sum dy / M, sum dy*xhat / M) for bn_dx.
extern "C" __global__ void bn_finalize_grad(const double* part, const float* invstd, float* dgamma, float* dbeta,
                                            float* coef, int n, int C, int S, int P)
{
    GRID_STRIDE(c, C) {
        double s = 0.0, sx = 0.0;
        for (int p = 0; p < P; p++) {
            s += part[2 * (c * P + p)];
            sx += part[2 * (c * P + p) + 1];
        }
        double m = (double)n * (double)S;
        double sxh = sx * (double)invstd[c];
        dbeta[c] = (float)s;
        dgamma[c] = (float)sxh;
        coef[2 * c] = (float)(s / m);
        coef[2 * c + 1] = (float)(sxh / m);
    }
}

// bn_dx: dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)).
extern "C" __global__ void bn_dx(const float* x, const float* dy, float* dx, const float* mean, const float* invstd,
                                 const float* gamma, const float* coef, int n, int C, int S)
{
    GRID_STRIDE(e, (i64)n * C * S) {
        int c = (int)((e / S) % C);
        float is = invstd[c];
        float k = gamma[c] * is;
        float xh = (x[e] - mean[c]) * is;
        dx[e] = k * (dy[e] - coef[2 * c] - xh * coef[2 * c + 1]);
    }
}
