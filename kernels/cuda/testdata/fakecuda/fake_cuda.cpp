// fake_cuda.cpp: a CPU stand-in for libcuda.so.1, for testing the Go side
// of kernels/cuda without a GPU (see fake_test.go). It implements the
// driver API entry points the package uses with the signatures of cuda.h,
// keeps a per-thread "current context" (so a call from a thread where the
// context was not made current fails as on a GPU), puts guard pages around
// every allocation (an out-of-bounds kernel access crashes), fills new
// memory with NaN bytes (reading memory never written shows), and runs the
// package's kernels, compiled from the same .cu sources, on the CPU.
//
// The test writes kernels_all.inc (the NVRTC program) and
// kernel_table.inc (K(name) for every kernel) next to this file's copy.
#include "emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// The kernels are internal to this library (hidden), so names like "mul"
// cannot clash with anything else in the process.
#pragma GCC visibility push(hidden)
#include "kernels_all.inc"
#pragma GCC visibility pop

emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

// ---- fibers ----------------------------------------------------------------

const unsigned kMaxThreads = 1024;
const size_t kStack = 256 * 1024;

struct Fiber {
    ucontext_t ctx;
    bool done;
};
Fiber fibers[kMaxThreads];
char* stacks;
ucontext_t sched;
unsigned cur;
std::function<void()>* body;

void fiberEntry(int)
{
    (*body)();
    fibers[cur].done = true;
}

void runGrid(std::function<void()>& fn, unsigned gx, unsigned bx)
{
    if (!stacks) {
        stacks = (char*)malloc(kMaxThreads * kStack);
    }
    body = &fn;
    gridDim = {gx, 1, 1};
    blockDim = {bx, 1, 1};
    for (unsigned b = 0; b < gx; b++) {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < bx; t++) {
            getcontext(&fibers[t].ctx);
            fibers[t].ctx.uc_stack.ss_sp = stacks + (size_t)t * kStack;
            fibers[t].ctx.uc_stack.ss_size = kStack;
            fibers[t].ctx.uc_link = &sched;
            makecontext(&fibers[t].ctx, (void (*)())fiberEntry, 1, (int)t);
            fibers[t].done = false;
        }
        for (;;) {
            unsigned done = 0;
            for (unsigned t = 0; t < bx; t++) {
                if (!fibers[t].done) {
                    cur = t;
                    threadIdx = {t, 0, 0};
                    swapcontext(&sched, &fibers[t].ctx);
                }
                if (fibers[t].done) done++;
            }
            if (done == bx) break;
            if (done != 0) {
                fprintf(stderr, "fake cuda: divergent __syncthreads in block %u\n", b);
                abort();
            }
        }
    }
}

} // namespace

// __syncthreads parks the calling fiber until every thread of the block
// has reached the barrier (runGrid resumes them round by round).
void __syncthreads() { swapcontext(&fibers[cur].ctx, &sched); }

namespace {

// ---- kernels ---------------------------------------------------------------

template <typename... A, size_t... I>
std::function<void()> bindArgs(void (*k)(A...), void** p, std::index_sequence<I...>)
{
    auto args = std::make_tuple(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(p[I])...);
    return [k, args]() { std::apply(k, args); };
}

template <typename... A>
std::function<void()> bind(void (*k)(A...), void** p)
{
    return bindArgs(k, p, std::index_sequence_for<A...>{});
}

struct KernelEntry {
    const char* name;
    std::function<void()> (*make)(void**);
};

#define K(name) {#name, [](void** p) { return bind(&name, p); }},
KernelEntry kernelTable[] = {
#include "kernel_table.inc"
};
#undef K

// ---- memory ----------------------------------------------------------------

struct Alloc {
    char* base; // mapping start (guard page)
    size_t mapLen;
    size_t size; // usable bytes
};
std::map<unsigned long long, Alloc> allocs; // by user pointer
size_t inUse;
const size_t kTotal = 1ull << 30;

// find returns the allocation holding [p, p+n) or nullptr.
const Alloc* find(unsigned long long p, size_t n)
{
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    if (p < it->first || p + n > it->first + it->second.size) return nullptr;
    return &it->second;
}

// ---- contexts and streams --------------------------------------------------

int theCtx, theModule;
int ctxRefs;
bool inited;
thread_local void* current;
// A stream under capture records its work (kernels, memsets, copies and,
// through mnistgpu_fake_submit, cuBLAS and cuDNN calls) instead of running
// it; a graph is the recorded list, run in order at each launch. An
// operation that is not allowed during capture (a copy to or from the
// host, a synchronisation) fails and invalidates the capture, as on a GPU.
struct Op {
    int type; // CUgraphNodeType: 0 kernel, 1 memcpy, 2 memset
    std::function<void()> run;
};
struct Stream {
    int magic;
    bool capturing;
    bool invalid;
    std::vector<Op> rec;
};
struct Graph {
    int magic;
    std::vector<Op> ops;
    std::vector<int> types; // the nodes' types; a node handle points at one
};
const int kGraph = 0x6a4f, kExec = 0x6a50;

bool capturing(void* s) { return s != nullptr && ((Stream*)s)->capturing; }

// submit runs op now, or records it when s is capturing.
void submit(void* s, int type, std::function<void()> fn)
{
    if (capturing(s)) {
        ((Stream*)s)->rec.push_back(Op{type, std::move(fn)});
        return;
    }
    fn();
}

bool haveCtx() { return current == &theCtx && ctxRefs > 0; }

} // namespace

extern "C" {

typedef int CUresult;
enum {
    OK = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    INVALID_DEVICE = 101,
    INVALID_IMAGE = 200,
    INVALID_CONTEXT = 201,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    ILLEGAL_STATE = 401,
    ILLEGAL_ADDRESS = 700,
    CAPTURE_UNSUPPORTED = 900,
    CAPTURE_INVALIDATED = 901,
};

CUresult cuInit(unsigned flags)
{
    if (flags != 0) return INVALID_VALUE;
    inited = true;
    return OK;
}

CUresult cuDriverGetVersion(int* v)
{
    *v = 13000;
    return OK;
}

CUresult cuDeviceGetCount(int* n)
{
    if (!inited) return NOT_INITIALIZED;
    *n = 1;
    return OK;
}

CUresult cuDeviceGet(int* dev, int ordinal)
{
    if (!inited) return NOT_INITIALIZED;
    if (ordinal != 0) return INVALID_DEVICE;
    *dev = 0;
    return OK;
}

CUresult cuDeviceGetName(char* name, int len, int dev)
{
    if (dev != 0) return INVALID_DEVICE;
    snprintf(name, len, "Fake GPU (CPU emulation)");
    return OK;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, int dev)
{
    if (dev != 0) return INVALID_DEVICE;
    *bytes = kTotal;
    return OK;
}

CUresult cuDeviceGetAttribute(int* v, int attr, int dev)
{
    if (dev != 0) return INVALID_DEVICE;
    switch (attr) {
    case 16: *v = 2; return OK;  // multiprocessors: few blocks, long grid-stride loops
    case 75: *v = 9; return OK;  // compute capability 9.0
    case 76: *v = 0; return OK;
    }
    return INVALID_VALUE;
}

CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev)
{
    if (!inited) return NOT_INITIALIZED;
    if (dev != 0) return INVALID_DEVICE;
    ctxRefs++;
    *ctx = &theCtx;
    return OK;
}

CUresult cuDevicePrimaryCtxRelease_v2(int dev)
{
    if (dev != 0 || ctxRefs == 0) return INVALID_DEVICE;
    ctxRefs--;
    return OK;
}

CUresult cuCtxSetCurrent(void* ctx)
{
    if (ctx != nullptr && ctx != &theCtx) return INVALID_CONTEXT;
    current = ctx;
    return OK;
}

CUresult cuStreamCreate(void** s, unsigned flags)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (flags != 1) return INVALID_VALUE; // the package asks for CU_STREAM_NON_BLOCKING
    *s = new Stream{0x57e4, false, false, {}};
    return OK;
}

static bool okStream(void* s) { return s != nullptr && ((Stream*)s)->magic == 0x57e4; }

CUresult cuStreamDestroy_v2(void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    ((Stream*)s)->magic = 0;
    delete (Stream*)s;
    return OK;
}

// notDuringCapture fails an operation a capturing stream does not allow
// and invalidates the capture.
static bool notDuringCapture(void* s)
{
    if (!capturing(s)) return false;
    ((Stream*)s)->invalid = true;
    return true;
}

CUresult cuStreamSynchronize(void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (notDuringCapture(s)) return CAPTURE_UNSUPPORTED;
    return OK;
}

CUresult cuStreamBeginCapture_v2(void* s, int mode)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (mode != 2) return INVALID_VALUE; // the package captures in CU_STREAM_CAPTURE_MODE_RELAXED
    Stream* st = (Stream*)s;
    if (st->capturing) return ILLEGAL_STATE;
    st->capturing = true;
    st->invalid = false;
    st->rec.clear();
    return OK;
}

CUresult cuStreamEndCapture(void* s, void** g)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    Stream* st = (Stream*)s;
    if (!st->capturing) return ILLEGAL_STATE;
    st->capturing = false;
    *g = nullptr;
    if (st->invalid) {
        st->rec.clear();
        return CAPTURE_INVALIDATED;
    }
    Graph* gr = new Graph{kGraph, std::move(st->rec), {}};
    for (auto& op : gr->ops) gr->types.push_back(op.type);
    st->rec.clear();
    *g = gr;
    return OK;
}

static Graph* asGraph(void* g, int magic) { return g != nullptr && ((Graph*)g)->magic == magic ? (Graph*)g : nullptr; }

CUresult cuGraphInstantiateWithFlags(void** e, void* g, unsigned long long flags)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    Graph* gr = asGraph(g, kGraph);
    if (!gr) return INVALID_HANDLE;
    if (flags != 0) return INVALID_VALUE;
    *e = new Graph{kExec, gr->ops, gr->types};
    return OK;
}

CUresult cuGraphLaunch(void* e, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    Graph* ex = asGraph(e, kExec);
    if (!ex) return INVALID_HANDLE;
    if (!okStream(s)) return INVALID_HANDLE;
    if (capturing(s)) return CAPTURE_UNSUPPORTED; // the package never nests graphs
    for (auto& op : ex->ops) op.run();
    return OK;
}

CUresult cuGraphExecDestroy(void* e)
{
    Graph* ex = asGraph(e, kExec);
    if (!ex) return INVALID_HANDLE;
    ex->magic = 0;
    delete ex;
    return OK;
}

CUresult cuGraphDestroy(void* g)
{
    Graph* gr = asGraph(g, kGraph);
    if (!gr) return INVALID_HANDLE;
    gr->magic = 0;
    delete gr;
    return OK;
}

CUresult cuGraphGetNodes(void* g, void** nodes, size_t* n)
{
    Graph* gr = asGraph(g, kGraph);
    if (!gr || n == nullptr) return INVALID_VALUE;
    if (nodes == nullptr) {
        *n = gr->types.size();
        return OK;
    }
    size_t k = *n < gr->types.size() ? *n : gr->types.size();
    for (size_t i = 0; i < k; i++) nodes[i] = &gr->types[i];
    *n = k;
    return OK;
}

CUresult cuGraphNodeGetType(void* node, int* t)
{
    if (node == nullptr) return INVALID_VALUE;
    *t = *(int*)node;
    return OK;
}

CUresult cuMemAlloc_v2(unsigned long long* p, size_t n)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (n == 0) return INVALID_VALUE;
    if (inUse + n > kTotal) return OUT_OF_MEMORY;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (n + 15) / 16 * 16;
    size_t body = (rounded + page - 1) / page * page;
    size_t len = body + 2 * page;
    char* base = (char*)mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return OUT_OF_MEMORY;
    mprotect(base + page, body, PROT_READ | PROT_WRITE);
    char* user = base + page + (body - rounded); // the end touches the guard page
    memset(user, 0xFF, rounded);                  // NaN until written
    allocs[(unsigned long long)user] = Alloc{base, len, n};
    inUse += n;
    *p = (unsigned long long)user;
    return OK;
}

CUresult cuMemFree_v2(unsigned long long p)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    auto it = allocs.find(p);
    if (it == allocs.end()) return INVALID_VALUE;
    munmap(it->second.base, it->second.mapLen);
    inUse -= it->second.size;
    allocs.erase(it);
    return OK;
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    *free = kTotal - inUse;
    *total = kTotal;
    return OK;
}

CUresult cuMemcpyHtoDAsync_v2(unsigned long long dst, const void* src, size_t n, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (!find(dst, n)) return INVALID_VALUE;
    if (notDuringCapture(s)) return CAPTURE_UNSUPPORTED;
    memcpy((void*)dst, src, n);
    return OK;
}

CUresult cuMemcpyDtoHAsync_v2(void* dst, unsigned long long src, size_t n, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (!find(src, n)) return INVALID_VALUE;
    if (notDuringCapture(s)) return CAPTURE_UNSUPPORTED;
    memcpy(dst, (void*)src, n);
    return OK;
}

CUresult cuMemcpyDtoDAsync_v2(unsigned long long dst, unsigned long long src, size_t n, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (!find(dst, n) || !find(src, n)) return INVALID_VALUE;
    submit(s, 1, [dst, src, n]() { memmove((void*)dst, (void*)src, n); });
    return OK;
}

CUresult cuMemsetD8Async(unsigned long long dst, unsigned char v, size_t n, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (!find(dst, n)) return INVALID_VALUE;
    submit(s, 2, [dst, v, n]() { memset((void*)dst, v, n); });
    return OK;
}

CUresult cuMemsetD32Async(unsigned long long dst, unsigned v, size_t n, void* s)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    if (dst % 4 != 0 || !find(dst, 4 * n)) return INVALID_VALUE;
    submit(s, 2, [dst, v, n]() {
        unsigned* p = (unsigned*)dst;
        for (size_t i = 0; i < n; i++) p[i] = v;
    });
    return OK;
}

CUresult cuModuleLoadData(void** m, const void* image)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (memcmp(image, "FAKECUBIN", 9) != 0) return INVALID_IMAGE;
    *m = &theModule;
    return OK;
}

CUresult cuModuleUnload(void* m)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    return m == &theModule ? OK : INVALID_HANDLE;
}

CUresult cuModuleGetFunction(void** f, void* m, const char* name)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (m != &theModule) return INVALID_HANDLE;
    for (auto& k : kernelTable) {
        if (strcmp(k.name, name) == 0) {
            *f = &k;
            return OK;
        }
    }
    return NOT_FOUND;
}

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void* s, void** params, void** extra)
{
    if (!haveCtx()) return INVALID_CONTEXT;
    if (!okStream(s)) return INVALID_HANDLE;
    KernelEntry* k = (KernelEntry*)f;
    bool known = false;
    for (auto& e : kernelTable) known = known || k == &e;
    if (!known) return INVALID_HANDLE;
    if (gx == 0 || gy != 1 || gz != 1 || bx == 0 || bx > kMaxThreads || by != 1 || bz != 1 || shmem != 0 ||
        extra != nullptr || params == nullptr || (bx & (bx - 1)) != 0)
        return INVALID_VALUE;
    std::function<void()> fn = k->make(params); // copies the arguments, as the driver does
    submit(s, 0, [fn, gx, bx]() mutable { runGrid(fn, gx, bx); });
    return OK;
}

// Hooks for the fake cuBLAS and cuDNN (fakehooks.h).
int mnistgpu_fake_check(unsigned long long p, size_t n) { return find(p, n) != nullptr; }
int mnistgpu_fake_have_ctx() { return haveCtx(); }
// mnistgpu_fake_submit runs a library call's work now or, when stream is
// capturing, records it as a kernel node to run at each launch of the graph.
void mnistgpu_fake_submit(void* stream, std::function<void()>* fn) { submit(stream, 0, *fn); }

static const char* errName(int e)
{
    switch (e) {
    case OK: return "CUDA_SUCCESS";
    case INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
    case NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    case INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
    case INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
    case INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
    case NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
    case ILLEGAL_STATE: return "CUDA_ERROR_ILLEGAL_STATE";
    case CAPTURE_UNSUPPORTED: return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    case CAPTURE_INVALIDATED: return "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    }
    return nullptr;
}

CUresult cuGetErrorName(int e, const char** s)
{
    *s = errName(e);
    return *s ? OK : INVALID_VALUE;
}

CUresult cuGetErrorString(int e, const char** s)
{
    *s = errName(e) ? "fake driver error" : nullptr;
    return *s ? OK : INVALID_VALUE;
}

} // extern "C"
