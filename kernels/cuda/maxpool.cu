// maxpool.cu: 2x2 max-pool with stride 2 over [n*C, H, W] (kernels.MaxPool),
// forward and backward. A trailing odd row or column is dropped, as
// PyTorch. Ties go to the first element of the window in row-major order
// (strict >), and a NaN wins (as torch.max_pool2d and the CPU device).

// max4 returns the index (0..3, row-major) of the window's maximum.
__device__ int max4(float a, float b, float c, float d, float* m)
{
    float v = a;
    int k = 0;
    if (b > v || b != b) { v = b; k = 1; }
    if (c > v || c != c) { v = c; k = 2; }
    if (d > v || d != d) { v = d; k = 3; }
    *m = v;
    return k;
}

// maxpool_forward: one thread per output element.
extern "C" __global__ void maxpool_forward(const float* x, float* y, int planes, int H, int W)
{
    int ho = H / 2, wo = W / 2;
    GRID_STRIDE(e, (i64)planes * ho * wo) {
        i64 ox = e % wo;
        i64 t = e / wo;
        i64 oy = t % ho;
        i64 pl = t / ho;
        const float* r0 = x + (pl * H + 2 * oy) * W + 2 * ox;
        const float* r1 = r0 + W;
        float m;
        max4(r0[0], r0[1], r1[0], r1[1], &m);
        y[e] = m;
    }
}

// maxpool_backward: one thread per input element; dx is dy at the window's
// arg-max and 0 elsewhere (dropped rows and columns included). The arg-max
// is recomputed from x, so y is not needed.
extern "C" __global__ void maxpool_backward(const float* x, const float* dy, float* dx, int planes, int H, int W)
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
            const float* r0 = x + (pl * H + 2 * oy) * W + 2 * ox;
            const float* r1 = r0 + W;
            float m;
            int k = max4(r0[0], r0[1], r1[0], r1[1], &m);
            int mine = (int)((h - 2 * oy) * 2 + (w - 2 * ox));
            if (k == mine) g = dy[(pl * ho + oy) * wo + ox];
        }
        dx[e] = g;
    }
}
