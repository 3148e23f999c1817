// softmax.cu: row-wise softmax of x [n, classes] (kernels.Device.Softmax),
// one thread per row, in double with the row's max subtracted. There is no
// backward: the losses in loss.cu differentiate through it themselves.

extern "C" __global__ void softmax_rows(const float* x, float* y, int n, int classes)
{
    GRID_STRIDE(r, n) {
        const float* z = x + r * classes;
        double mx = (double)z[0];
        for (int c = 1; c < classes; c++)
            if ((double)z[c] > mx) mx = (double)z[c];
        double se = 0.0;
        for (int c = 0; c < classes; c++) se += exp((double)z[c] - mx);
        double lse = mx + log(se);
        for (int c = 0; c < classes; c++) y[r * classes + c] = (float)exp((double)z[c] - lse);
    }
}
