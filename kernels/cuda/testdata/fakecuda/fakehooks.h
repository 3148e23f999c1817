// fakehooks.h: the fake cuBLAS and cuDNN ask the fake libcuda (loaded
// RTLD_GLOBAL first) whether a device range is allocated and whether the
// calling thread has the context current, and hand it the work of each call
// (fakeSubmit), which it runs at once or, while the stream is being
// captured, records into the graph.
#pragma once
#include <dlfcn.h>
#include <stddef.h>

#include <functional>

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

// fakeSubmit runs fn now, or records it when stream is capturing. fn must
// hold copies of everything it reads from the call's host arguments
// (scalars, descriptors): a replay runs after the call has returned.
inline void fakeSubmit(void* stream, std::function<void()> fn)
{
    static auto f = (void (*)(void*, std::function<void()>*))dlsym(RTLD_DEFAULT, "mnistgpu_fake_submit");
    if (f == nullptr) {
        fn();
        return;
    }
    f(stream, &fn);
}
