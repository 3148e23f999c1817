// emu.h: just enough CUDA C for the package's .cu kernels to compile as
// C++ and run on the CPU inside the fake libcuda (fake_cuda.cpp). A block's
// threads are cooperative fibers (ucontext): each runs until __syncthreads
// or its end, so barrier semantics hold; blocks run one after another, so
// __shared__ arrays can be function statics.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

struct emu_dim3 {
    unsigned x, y, z;
};
extern emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
void __syncthreads();

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

inline float atomicAdd(float* p, float v)
{
    float old = *p;
    *p = old + v;
    return old;
}

inline int atomicAdd(int* p, int v)
{
    int old = *p;
    *p = old + v;
    return old;
}

inline void __threadfence() {}

inline double __longlong_as_double(long long x)
{
    double d;
    memcpy(&d, &x, sizeof d);
    return d;
}
