// elementwise.cu: activations (kernels.Device.ActForward, ActBackward) and
// Mul (dropout's backward). Fill and Copy need no kernel: they are
// cuMemsetD32Async and cuMemcpyDtoDAsync_v2 on the device's stream.
//
// act: 0 ReLU, 1 Sigmoid, 2 Tanh, 3 Identity (kernels.Activation). Sigmoid
// and tanh are evaluated in double and rounded once, as the CPU device; the
// backward is expressed through y = f(x), as PyTorch.

extern "C" __global__ void act_forward(int act, const float* x, float* y, int count)
{
    GRID_STRIDE(i, count) {
        float v = x[i];
        float r;
        switch (act) {
        case 0: r = v <= 0.0f ? 0.0f : v; break; // NaN passes through
        case 1: r = (float)(1.0 / (1.0 + exp(-(double)v))); break;
        case 2: r = (float)tanh((double)v); break;
        default: r = v; break;
        }
        y[i] = r;
    }
}

extern "C" __global__ void act_backward(int act, const float* y, const float* dy, float* dx, int count)
{
    GRID_STRIDE(i, count) {
        float v = y[i];
        float g = dy[i];
        float r;
        switch (act) {
        case 0: r = v > 0.0f ? g : 0.0f; break;
        case 1: r = g * v * (1.0f - v); break;
        case 2: r = g * (1.0f - v * v); break;
        default: r = g; break;
        }
        dx[i] = r;
    }
}

// mul_elementwise writes z = x * y (kernels.Device.Mul).
extern "C" __global__ void mul_elementwise(const float* x, const float* y, float* z, int count)
{
    GRID_STRIDE(i, count) {
        z[i] = x[i] * y[i];
    }
}
