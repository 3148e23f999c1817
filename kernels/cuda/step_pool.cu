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
