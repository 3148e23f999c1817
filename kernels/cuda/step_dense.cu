// step_dense.cu: the fused dense layer (kernels.StepOps.DenseForward and
// DenseBackward): a tiled fp32 GEMM of its own with the bias, activation
// and dropout in the forward's epilogue, and the weight gradient, bias
// gradient and input gradient (through the previous layer's dropout mask
// and activation) of the backward in one launch. Every output element is
// summed by one thread in a fixed order: deterministic, no atomics.

#define TILE 16 // BLOCK = TILE * TILE threads: one output element each

// tile_gemm returns this thread's element (row, col) of the TILE×TILE tile
// (tileRow, tileCol) of C = A·B, C M×N, summed over K, with
// A(i, k) = A[i*sai + k*sak] and B(k, j) = B[k*sbk + j*sbj] (so either
// operand may be transposed). Every thread of the block must call it.
__device__ float tile_gemm(const float* A, int sai, int sak, const float* B, int sbk, int sbj, int M, int N, int K,
                           int tileRow, int tileCol, float* As, float* Bs)
{
    int tr = threadIdx.x / TILE, tc = threadIdx.x % TILE;
    int row = tileRow * TILE + tr, col = tileCol * TILE + tc;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        int ka = k0 + tc, kb = k0 + tr;
        As[tr * TILE + tc] = (row < M && ka < K) ? A[(i64)row * sai + (i64)ka * sak] : 0.0f;
        Bs[tr * TILE + tc] = (kb < K && col < N) ? B[(i64)kb * sbk + (i64)col * sbj] : 0.0f;
        __syncthreads();
        for (int kk = 0; kk < TILE; kk++) acc += As[tr * TILE + kk] * Bs[kk * TILE + tc];
        __syncthreads();
    }
    return acc;
}

// act_fwd and act_bwd are act_forward's and act_backward's formulas.
__device__ float act_fwd(int act, float v)
{
    switch (act) {
    case 0: return v <= 0.0f ? 0.0f : v;
    case 1: return (float)(1.0 / (1.0 + exp(-(double)v)));
    case 2: return (float)tanh((double)v);
    }
    return v;
}

__device__ float act_bwd(int act, float y, float g)
{
    switch (act) {
    case 0: return y > 0.0f ? g : 0.0f;
    case 1: return g * y * (1.0f - y);
    case 2: return g * (1.0f - y * y);
    }
    return g;
}

// dense_forward: a = f(x·Wᵀ + b) for x [n, in], W [out, in]; when mask is
// not NULL, inverted dropout as dropout_forward_at (element e = row*out +
// col, step ctr[1] << 8 | sub): mask = keep ? scale : 0, y = a * mask.
extern "C" __global__ void dense_forward(const float* x, const float* w, const float* b, float* a, float* mask, float* y,
                                         const int* ctr, int n, int in, int out, int act, float p, float scale, u64 seed,
                                         u64 sub)
{
    __shared__ float As[TILE * TILE], Bs[TILE * TILE];
    int tilesN = (out + TILE - 1) / TILE, tiles = (n + TILE - 1) / TILE * tilesN;
    u64 key = 0;
    if (mask) key = splitmix64(seed ^ splitmix64(((u64)(i64)ctr[1] << 8) | sub));
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tileRow = t / tilesN, tileCol = t % tilesN;
        float acc = tile_gemm(x, in, 1, w, 1, in, n, out, in, tileRow, tileCol, As, Bs);
        int row = tileRow * TILE + threadIdx.x / TILE, col = tileCol * TILE + threadIdx.x % TILE;
        if (row < n && col < out) {
            i64 e = (i64)row * out + col;
            float r = act_fwd(act, acc + b[col]);
            a[e] = r;
            if (mask) {
                u64 h = splitmix64(key + (u64)e);
                float u = (float)(unsigned int)(h >> 40) * 5.9604644775390625e-8f; // 2^-24
                float m = u >= p ? scale : 0.0f;
                mask[e] = m;
                y[e] = r * m;
            }
        }
    }
}

// dense_backward, for the layer above with input x [n, in] and output
// gradient dy [n, out]: dW = dyᵀ·x, db = Σ_rows dy and, when dx is not
// NULL, dx = act_bwd(a, (dy·W) * mask) (mask NULL: 1; a NULL: identity),
// the gradient before the previous layer's dropout and activation. The
// three are independent work items (dW tiles, dx tiles, runs of BLOCK
// bias entries) spread over the grid.
extern "C" __global__ void dense_backward(const float* dy, const float* x, const float* w, float* dw, float* db, float* dx,
                                          const float* a, const float* mask, int n, int in, int out, int act)
{
    __shared__ float As[TILE * TILE], Bs[TILE * TILE];
    int tilesI = (in + TILE - 1) / TILE;
    int nW = (out + TILE - 1) / TILE * tilesI;
    int nX = dx ? (n + TILE - 1) / TILE * tilesI : 0;
    int nB = (out + BLOCK - 1) / BLOCK;
    int tr = threadIdx.x / TILE, tc = threadIdx.x % TILE;
    for (int t = blockIdx.x; t < nW + nX + nB; t += gridDim.x) {
        if (t < nW) {
            int tileRow = t / tilesI, tileCol = t % tilesI;
            float acc = tile_gemm(dy, 1, out, x, in, 1, out, in, n, tileRow, tileCol, As, Bs);
            int o = tileRow * TILE + tr, k = tileCol * TILE + tc;
            if (o < out && k < in) dw[(i64)o * in + k] = acc;
        } else if (t < nW + nX) {
            int u = t - nW;
            int tileRow = u / tilesI, tileCol = u % tilesI;
            float acc = tile_gemm(dy, out, 1, w, in, 1, n, in, out, tileRow, tileCol, As, Bs);
            int i = tileRow * TILE + tr, k = tileCol * TILE + tc;
            if (i < n && k < in) {
                i64 e = (i64)i * in + k;
                float g = mask ? acc * mask[e] : acc;
                dx[e] = a ? act_bwd(act, a[e], g) : g;
            }
        } else {
            int o = (t - nW - nX) * BLOCK + threadIdx.x;
            if (o < out) {
                double s = 0.0;
                for (int i = 0; i < n; i++) s += (double)dy[(i64)i * out + o];
                db[o] = (float)s;
            }
        }
    }
}

// dense_forward_gather is gather_batch followed by dense_forward, in one
// launch: the A tiles are read from the data set through the permutation
// (off = ctr[0]) and normalised as gather_batch does; the blocks of the
// first tile column also write them to x (the backward's input) and the
// labels to dstLabels.
extern "C" __global__ void dense_forward_gather(const u8* data, const u8* labels, const int* perm, const int* ctr, float* x,
                                                int* dstLabels, const float* w, const float* b, float* a, float* mask, float* y,
                                                int n, int in, int out, int act, int permLen, float mean, float stdv, float p,
                                                float scale, u64 seed, u64 sub, int rows, int* flags)
{
    __shared__ float As[TILE * TILE], Bs[TILE * TILE];
    int tilesN = (out + TILE - 1) / TILE, tiles = (n + TILE - 1) / TILE * tilesN;
    int off = ctr[0];
    u64 key = 0;
    if (mask) key = splitmix64(seed ^ splitmix64(((u64)(i64)ctr[1] << 8) | sub));
    int tr = threadIdx.x / TILE, tc = threadIdx.x % TILE;
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tileRow = t / tilesN, tileCol = t % tilesN;
        int row = tileRow * TILE + tr, col = tileCol * TILE + tc;
        // The sample of this thread's A row, or -1 outside the batch or perm.
        i64 r = -1;
        if (row < n) r = batch_row(perm, off, row, permLen, rows, flags);
        float acc = 0.0f;
        for (int k0 = 0; k0 < in; k0 += TILE) {
            int ka = k0 + tc, kb = k0 + tr;
            float xv = 0.0f;
            if (r >= 0 && ka < in) {
                float s = (float)data[r * in + ka] / 255.0f;
                xv = (s - mean) / stdv;
                if (tileCol == 0) {
                    x[(i64)row * in + ka] = xv;
                    if (ka == 0) dstLabels[row] = (int)labels[r];
                }
            }
            As[tr * TILE + tc] = xv;
            int cb = tileCol * TILE + tc;
            Bs[tr * TILE + tc] = (kb < in && cb < out) ? w[(i64)cb * in + kb] : 0.0f;
            __syncthreads();
            for (int kk = 0; kk < TILE; kk++) acc += As[tr * TILE + kk] * Bs[kk * TILE + tc];
            __syncthreads();
        }
        if (row < n && col < out) {
            i64 e = (i64)row * out + col;
            float v = act_fwd(act, acc + b[col]);
            a[e] = v;
            if (mask) {
                u64 h = splitmix64(key + (u64)e);
                float u = (float)(unsigned int)(h >> 40) * 5.9604644775390625e-8f; // 2^-24
                float m = u >= p ? scale : 0.0f;
                mask[e] = m;
                y[e] = v * m;
            }
        }
    }
}

// dense_loss is the network's last dense layer (no activation, no
// dropout), the loss and that layer's backward in one launch of one block:
// dense_forward's tiles (logits = x·Wᵀ + b), loss_forward's rows (the
// summed loss and hits added to lossSum and correct, dlogits written), then
// dense_backward's work items with dy = dlogits. The block's barriers
// order the three phases; each element is computed by the code and in the
// order of the separate kernels.
extern "C" __global__ void dense_loss(int kind, const float* x, const float* w, const float* b, float* logits,
                                      const int* labels, float* dlogits, float* lossSum, float* correct, float* dw,
                                      float* db, float* dx, const float* a, const float* mask, int n, int in, int out,
                                      int act, int* flags)
{
    __shared__ float As[TILE * TILE], Bs[TILE * TILE];
    __shared__ double sh[BLOCK];
    if (blockIdx.x != 0) return;
    int tr = threadIdx.x / TILE, tc = threadIdx.x % TILE;
    int tilesN = (out + TILE - 1) / TILE, tiles = (n + TILE - 1) / TILE * tilesN;
    for (int t = 0; t < tiles; t++) {
        int tileRow = t / tilesN, tileCol = t % tilesN;
        float acc = tile_gemm(x, in, 1, w, 1, in, n, out, in, tileRow, tileCol, As, Bs);
        int row = tileRow * TILE + tr, col = tileCol * TILE + tc;
        if (row < n && col < out) logits[(i64)row * out + col] = acc + b[col];
    }
    __syncthreads();
    double lsum = 0.0, hits = 0.0;
    for (i64 r = threadIdx.x; r < n; r += blockDim.x)
        loss_row(kind, logits, labels, dlogits, r, n, out, flags, &lsum, &hits);
    lsum = block_sum_d(lsum, sh);
    hits = block_sum_d(hits, sh);
    if (threadIdx.x == 0) {
        atomicAdd(lossSum, (float)lsum);
        atomicAdd(correct, (float)hits);
    }
    __syncthreads();
    const float* dy = dlogits;
    int tilesI = (in + TILE - 1) / TILE;
    int nW = (out + TILE - 1) / TILE * tilesI;
    int nX = dx ? (n + TILE - 1) / TILE * tilesI : 0;
    int nB = (out + BLOCK - 1) / BLOCK;
    for (int t = 0; t < nW + nX + nB; t++) {
        if (t < nW) {
            int tileRow = t / tilesI, tileCol = t % tilesI;
            float acc = tile_gemm(dy, 1, out, x, in, 1, out, in, n, tileRow, tileCol, As, Bs);
            int o = tileRow * TILE + tr, k = tileCol * TILE + tc;
            if (o < out && k < in) dw[(i64)o * in + k] = acc;
        } else if (t < nW + nX) {
            int u = t - nW;
            int tileRow = u / tilesI, tileCol = u % tilesI;
            float acc = tile_gemm(dy, out, 1, w, in, 1, n, in, out, tileRow, tileCol, As, Bs);
            int i = tileRow * TILE + tr, k = tileCol * TILE + tc;
            if (i < n && k < in) {
                i64 e = (i64)i * in + k;
                float g = mask ? acc * mask[e] : acc;
                dx[e] = a ? act_bwd(act, a[e], g) : g;
            }
        } else {
            int o = (t - nW - nX) * BLOCK + threadIdx.x;
            if (o < out) {
                double s = 0.0;
                for (int i = 0; i < n; i++) s += (double)dy[(i64)i * out + o];
                db[o] = (float)s;
            }
        }
    }
}

