// tsne.cu: t-SNE's exact gradient descent (kernels.TSNEPlan), four launches
// per iteration and nothing copied to the host:
//   tsne_attract  one thread per point: the attraction over its sparse row
//                 of P (and, when asked, the cross-entropy partials)
//   tsne_repulse  tiles of BLOCK points against slices of all points: the
//                 repulsion and the partial sums of q
//   tsne_reduce   one block adds the partials in a fixed order: Z (and the
//                 cross-entropy)
//   tsne_update   the gradient, the gains, the momentum update
// Positions, forces and gains are float; every sum over more than one
// thread is in double and in a fixed order, so results are deterministic.
// q_ij = 1 / (1 + |y_i - y_j|^2), Z = sum over i != j of q_ij.
//
// Unlike the grid-stride kernels, tsne_attract needs exactly
// ceil(n / BLOCK) blocks and tsne_repulse ceil(n / BLOCK) * S blocks (one
// per partial sum); tsne_reduce runs as one block.

__device__ int tsne_mini(int a, int b) { return a < b ? a : b; }

// The bits of a float and back (as __float_as_uint, __uint_as_float).
__device__ unsigned tsne_bits(float f)
{
    union {
        float f;
        unsigned u;
    } v;
    v.f = f;
    return v.u;
}
__device__ float tsne_float(unsigned u)
{
    union {
        float f;
        unsigned u;
    } v;
    v.u = u;
    return v.f;
}

// tsne_attract: attr[2i], attr[2i+1] = sum_j P_ij q_ij (y_i - y_j) over row i
// of P (compressed rows); with withCE, part[block] = the block's
// sum P_ij log(1 + d_ij^2).
extern "C" __global__ void tsne_attract(const int* rowStart, const int* col, const float* val, const float* y,
                                        float* attr, double* part, int n, int withCE)
{
    __shared__ double sh[BLOCK];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    double ce = 0.0;
    if (i < n) {
        float xi = y[2 * i], yi = y[2 * i + 1];
        float fx = 0.0f, fy = 0.0f;
        for (int m = rowStart[i]; m < rowStart[i + 1]; m++) {
            int j = col[m];
            float dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
            float d2 = dx * dx + dy * dy;
            float pq = val[m] / (1.0f + d2);
            fx += pq * dx;
            fy += pq * dy;
            if (withCE) ce += (double)val[m] * log1p((double)d2);
        }
        attr[2 * i] = fx;
        attr[2 * i + 1] = fy;
    }
    if (withCE) { // the same for the whole block
        ce = block_sum_d(ce, sh);
        if (threadIdx.x == 0) part[blockIdx.x] = ce;
    }
}

// tsne_repulse: block b takes the BLOCK points i of tile b / S against the
// points j of slice s = b % S, [s*per, min(n, (s+1)*per)), staged through
// shared memory BLOCK at a time, and writes rep[s*2n + 2i], rep[s*2n + 2i+1]
// = sum_{j != i} q_ij^2 (y_i - y_j) over the slice and part[b] = the block's
// sum of q_ij.
extern "C" __global__ void tsne_repulse(const float* y, float* rep, double* part, int n, int S, int per)
{
    __shared__ float sx[BLOCK];
    __shared__ float sy[BLOCK];
    __shared__ double sh[BLOCK];
    int t = blockIdx.x / S;
    int s = blockIdx.x - t * S;
    int i = t * BLOCK + threadIdx.x;
    bool live = i < n;
    float xi = live ? y[2 * i] : 0.0f, yi = live ? y[2 * i + 1] : 0.0f;
    float fx = 0.0f, fy = 0.0f, z = 0.0f;
    int j0 = s * per, j1 = tsne_mini(n, j0 + per);
    for (int base = j0; base < j1; base += BLOCK) {
        int j = base + threadIdx.x;
        if (j < j1) {
            sx[threadIdx.x] = y[2 * j];
            sy[threadIdx.x] = y[2 * j + 1];
        }
        __syncthreads();
        int cnt = tsne_mini(BLOCK, j1 - base);
        if (live) {
            int self = i - base; // i's place in this tile, if it is there
            for (int k = 0; k < cnt; k++) {
                float dx = xi - sx[k], dy = yi - sy[k];
                float q = 1.0f / (1.0f + dx * dx + dy * dy);
                if (k == self) q = 0.0f;
                z += q;
                float q2 = q * q;
                fx += q2 * dx;
                fy += q2 * dy;
            }
        }
        __syncthreads();
    }
    if (live) {
        i64 o = (i64)s * 2 * n + 2 * (i64)i;
        rep[o] = fx;
        rep[o + 1] = fy;
    }
    double zb = block_sum_d((double)z, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = zb;
}

// tsne_reduce (one block): stats[0] = Z = max(sum of the nz partials zpart,
// 2^-52); with withCE, stats[1] = sum of the nce partials cepart + log Z.
extern "C" __global__ void tsne_reduce(const double* zpart, int nz, const double* cepart, int nce, double* stats,
                                       int withCE)
{
    __shared__ double sh[BLOCK];
    double z = 0.0;
    for (int b = threadIdx.x; b < nz; b += blockDim.x) z += zpart[b];
    z = block_sum_d(z, sh);
    double ce = 0.0;
    if (withCE) {
        for (int b = threadIdx.x; b < nce; b += blockDim.x) ce += cepart[b];
        ce = block_sum_d(ce, sh);
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        if (!(z >= 2.220446049250313e-16)) z = 2.220446049250313e-16;
        stats[0] = z;
        if (withCE) stats[1] = ce + log(z);
    }
}

// tsne_update: for each of the 2n coordinates m, the gradient
// g = 4 (exag attr[m] - rep[m] / Z) with rep summed over the S slices in
// order, the delta-bar-delta gain (+0.2 when upd and g disagree in sign,
// x0.8 otherwise, at least 0.01), upd = momentum upd - rate gain g, y += upd;
// g is kept in grad.
extern "C" __global__ void tsne_update(float* y, float* upd, float* gains, float* grad, const float* attr,
                                       const float* rep, const double* stats, int n, int S, float exag,
                                       float momentum, float rate)
{
    float z = (float)stats[0];
    i64 n2 = 2 * (i64)n;
    GRID_STRIDE(m, n2) {
        float r = 0.0f;
        for (int s = 0; s < S; s++) r += rep[(i64)s * n2 + m];
        float g = 4.0f * (exag * attr[m] - r / z);
        float u = upd[m];
        float gain = gains[m];
        if (u * g < 0.0f) {
            gain += 0.2f;
        } else {
            gain *= 0.8f;
        }
        if (gain < 0.01f) gain = 0.01f;
        u = momentum * u - rate * gain * g;
        gains[m] = gain;
        upd[m] = u;
        grad[m] = g;
        y[m] += u;
    }
}

// tsne_knn: block i finds point i's k nearest other points among the n
// rows of x (n x d, row-major): nbr[i*k + r] and dist2[i*k + r], r = 0 the
// nearest, equal distances by the lower index. The squared distances
// (float) of row i to every point go to shared memory as their bit patterns,
// which order as the non-negative floats do (the point itself gets
// 0xffffffff, after every float); a radix select two bits at a time finds
// the k-th smallest, T; the points below T and the first points equal to T
// by index are gathered in index order (each thread scans a contiguous
// chunk) and placed by their rank. It needs n <= TSNE_KNN_MAXN, k <= BLOCK,
// k < n, and exactly n blocks.
#define TSNE_KNN_MAXN 10240
extern "C" __global__ void tsne_knn(const float* x, int n, int d, int k, int* nbr, float* dist2)
{
    __shared__ unsigned keys[TSNE_KNN_MAXN];
    __shared__ unsigned scratch[4 * BLOCK];
    __shared__ unsigned tot[4];
    int i = blockIdx.x;
    unsigned t = threadIdx.x;
    const float* xi = x + (i64)i * d;
    for (int j = t; j < n; j += BLOCK) {
        unsigned key = 0xffffffffu;
        if (j != i) {
            const float* xj = x + (i64)j * d;
            float s = 0.0f;
            for (int f = 0; f < d; f++) {
                float v = xi[f] - xj[f];
                s += v * v;
            }
            key = tsne_bits(s);
        }
        keys[j] = key;
    }
    __syncthreads();
    int chunk = (n + BLOCK - 1) / BLOCK;
    int lo = tsne_mini(n, (int)t * chunk), hi = tsne_mini(n, lo + chunk);

    // Radix select: prefix holds the bits of T found so far, want the rank
    // of T among the keys that share them.
    unsigned prefix = 0;
    int want = k;
    for (int shift = 30; shift >= 0; shift -= 2) {
        unsigned c[4] = {0, 0, 0, 0};
        for (int j = lo; j < hi; j++) {
            unsigned key = keys[j];
            if (shift == 30 || (key >> (shift + 2)) == (prefix >> (shift + 2))) c[(key >> shift) & 3]++;
        }
        for (int b = 0; b < 4; b++) scratch[b * BLOCK + t] = c[b];
        __syncthreads();
        if (t < 4) {
            unsigned s = 0;
            for (int u = 0; u < BLOCK; u++) s += scratch[t * BLOCK + u];
            tot[t] = s;
        }
        __syncthreads();
        unsigned b = 0;
        while (b < 3 && want > (int)tot[b]) {
            want -= (int)tot[b];
            b++;
        }
        prefix |= b << shift;
        __syncthreads(); // tot and scratch are rewritten next round
    }
    // Gather: the keys below T and the first want keys equal to T.
    unsigned below = 0, equal = 0;
    for (int j = lo; j < hi; j++) {
        below += keys[j] < prefix;
        equal += keys[j] == prefix;
    }
    scratch[t] = below;
    scratch[BLOCK + t] = equal;
    __syncthreads();
    unsigned slot = 0, eq = 0; // exclusive prefix sums over the threads
    for (unsigned u = 0; u < t; u++) {
        slot += scratch[u];
        eq += scratch[BLOCK + u];
    }
    __syncthreads();
    unsigned* selKey = scratch + 2 * BLOCK;
    unsigned* selIdx = scratch + 3 * BLOCK;
    unsigned firstEq = (unsigned)(k - want);
    for (int j = lo; j < hi; j++) {
        unsigned key = keys[j];
        if (key < prefix) {
            selKey[slot] = key;
            selIdx[slot] = (unsigned)j;
            slot++;
        } else if (key == prefix) {
            if (eq < (unsigned)want) {
                selKey[firstEq + eq] = key;
                selIdx[firstEq + eq] = (unsigned)j;
            }
            eq++;
        }
    }
    __syncthreads();
    if ((int)t < k) {
        unsigned key = selKey[t], idx = selIdx[t];
        int r = 0;
        for (int u = 0; u < k; u++) {
            unsigned ku = selKey[u];
            r += ku < key || (ku == key && selIdx[u] < idx);
        }
        nbr[(i64)i * k + r] = (int)idx;
        dist2[(i64)i * k + r] = tsne_float(key);
    }
}
