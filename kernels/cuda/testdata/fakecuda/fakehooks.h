// fakehooks.h: the fake cuBLAS and cuDNN ask the fake libcuda (loaded
// RTLD_GLOBAL first) whether a device range is allocated and whether the
// calling thread has the context current.
#pragma once
#include <dlfcn.h>
#include <stddef.h>

inline bool fakeRange(const void* p, size_t n)
{
    static auto f = (int (*)(unsigned long long, size_t))dlsym(RTLD_DEFAULT, "mnistgpu_fake_check");
    return f == nullptr || n == 0 || f((unsigned long long)p, n) != 0;
}

inline bool fakeCtx()
{
    static auto f = (int (*)())dlsym(RTLD_DEFAULT, "mnistgpu_fake_have_ctx");
    return f == nullptr || f() != 0;
}
