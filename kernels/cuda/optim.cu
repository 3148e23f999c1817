// optim.cu: optimizer steps over the flat parameter buffer, as PyTorch's
// torch.optim.SGD and Adam (single-tensor path) and the CPU device.

// sgd_update updates element i: g = grad + wd*p; with momentum:
// v = momentum*v + g, p -= lr*v; without (momentum == 0): p -= lr*g and v
// is not touched (it may be NULL).
__device__ __forceinline__ void sgd_update(float* p, const float* grad, float* v, int i, float lr, float momentum, float wd)
{
    float g = grad[i] + wd * p[i];
    if (momentum != 0.0f) {
        float vi = momentum * v[i] + g;
        v[i] = vi;
        p[i] -= lr * vi;
    } else {
        p[i] -= lr * g;
    }
}

// sgd_step is sgd_update over the count parameters.
extern "C" __global__ void sgd_step(float* p, const float* grad, float* v, int count, float lr, float momentum, float wd)
{
    GRID_STRIDE(i, count) {
        sgd_update(p, grad, v, i, lr, momentum, wd);
    }
}

// lerp as torch.lerp: a + w*(b-a) for |w| < 0.5, else b - (b-a)*(1-w).
__device__ float lerp_torch(float a, float b, float w)
{
    if (w < 0.5f && w > -0.5f) return a + w * (b - a);
    return b - (b - a) * (1.0f - w);
}

// adam_update updates element i: g = grad + wd*p; m = lerp(m, g, 1-beta1);
// v = beta2*v + (1-beta2)*g*g; p -= stepSize * (m / (sqrt(v)/bc2Sqrt + eps)),
// with stepSize = lr / (1 - beta1^step) and bc2Sqrt = sqrt(1 - beta2^step)
// computed on the host in double.
__device__ __forceinline__ void adam_update(float* p, const float* grad, float* m, float* v, int i,
                                            float beta1, float beta2, float eps, float wd, float stepSize, float bc2Sqrt)
{
    float g = grad[i] + wd * p[i];
    float mi = lerp_torch(m[i], g, 1.0f - beta1);
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float denom = sqrtf(vi) / bc2Sqrt + eps;
    p[i] -= stepSize * (mi / denom);
}

// adam_step is adam_update over the count parameters.
extern "C" __global__ void adam_step(float* p, const float* grad, float* m, float* v, int count,
                                     float beta1, float beta2, float eps, float wd, float stepSize, float bc2Sqrt)
{
    GRID_STRIDE(i, count) {
        adam_update(p, grad, m, v, i, beta1, beta2, eps, wd, stepSize, bc2Sqrt);
    }
}
