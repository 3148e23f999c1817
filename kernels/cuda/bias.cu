// bias.cu: per-channel bias of y [n, ch, spatial] (kernels.Device.AddBias)
// and its gradient (BiasGrad).

// add_bias adds bias[c] to y[i, c, s].
extern "C" __global__ void add_bias(float* y, const float* bias, int n, int ch, int spatial)
{
    GRID_STRIDE(e, (i64)n * ch * spatial) {
        int c = (int)((e / spatial) % ch);
        y[e] += bias[c];
    }
}

// bias_grad writes dbias[c] = sum over i, s of dy[i, c, s]: one block per
// channel (grid-stride over channels), summed in double in a fixed order.
extern "C" __global__ void bias_grad(const float* dy, float* dbias, int n, int ch, int spatial)
{
    __shared__ double sh[BLOCK];
    i64 m = (i64)n * spatial;
    for (int c = blockIdx.x; c < ch; c += gridDim.x) {
        double s = 0.0;
        for (i64 t = threadIdx.x; t < m; t += blockDim.x) {
            i64 i = t / spatial;
            i64 sp = t - i * spatial;
            s += (double)dy[(i * ch + c) * spatial + sp];
        }
        s = block_sum_d(s, sh);
        if (threadIdx.x == 0) dbias[c] = (float)s;
    }
}
