// fake_cudnn.cpp: a CPU stand-in for libcudnn.so.9's legacy API (see
// fake_cuda.cpp): descriptors, algorithm search, the three convolutions
// and spatial batch norm, computed naively in double. Convolutions follow
// cuDNN's definitions (NCHW, cross-correlation, zero padding, y = alpha *
// op + beta * y with y not read when beta == 0) and check that descriptors
// agree with each other, that buffers are as large as their descriptors
// say, and that the workspace is as large as the algorithm asked for.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "fakehooks.h"

extern "C" {

typedef int cudnnStatus_t;
enum { SUCCESS = 0, NOT_INITIALIZED = 1001, BAD_PARAM = 2000, NOT_SUPPORTED = 3000, EXECUTION_FAILED = 5000 };

struct Perf {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};
static_assert(sizeof(Perf) == 48, "cudnnConvolution*AlgoPerf_t is 48 bytes");

struct Handle {
    int magic;
    void* stream;
};
struct Tensor {
    int magic;
    bool set;
    int n, c, h, w;
};
struct Filter {
    int magic;
    bool set;
    int k, c, h, w;
};
struct Conv {
    int magic;
    bool set;
    int ph, pw, u, v, dh, dw;
    int math;
};

enum { HANDLE = 0xd1, TENSOR = 0xd2, FILTER = 0xd3, CONV = 0xd4 };

static char lastErr[256];

static cudnnStatus_t fail(cudnnStatus_t st, const char* msg)
{
    snprintf(lastErr, sizeof lastErr, "fake cudnn: %s", msg);
    return st;
}

static Handle* H(void* p) { return p && ((Handle*)p)->magic == HANDLE ? (Handle*)p : nullptr; }
static Tensor* T(void* p) { return p && ((Tensor*)p)->magic == TENSOR && ((Tensor*)p)->set ? (Tensor*)p : nullptr; }
static Filter* F(void* p) { return p && ((Filter*)p)->magic == FILTER && ((Filter*)p)->set ? (Filter*)p : nullptr; }
static Conv* C(void* p) { return p && ((Conv*)p)->magic == CONV && ((Conv*)p)->set ? (Conv*)p : nullptr; }

size_t cudnnGetVersion(void) { return 91400; }

const char* cudnnGetErrorString(int st)
{
    switch (st) {
    case SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

void cudnnGetLastErrorString(char* msg, size_t n)
{
    snprintf(msg, n, "%s", lastErr);
    lastErr[0] = 0;
}

cudnnStatus_t cudnnCreate(void** h)
{
    if (!fakeCtx()) return fail(NOT_INITIALIZED, "cudnnCreate without a current context");
    *h = new Handle{HANDLE, nullptr};
    return SUCCESS;
}

cudnnStatus_t cudnnDestroy(void* h)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    ((Handle*)h)->magic = 0;
    delete (Handle*)h;
    return SUCCESS;
}

cudnnStatus_t cudnnSetStream(void* h, void* s)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    H(h)->stream = s;
    return SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(void** d)
{
    *d = new Tensor{TENSOR, false, 0, 0, 0, 0};
    return SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(void* d, int format, int dtype, int n, int c, int h, int w)
{
    Tensor* t = (Tensor*)d;
    if (!t || t->magic != TENSOR) return fail(BAD_PARAM, "bad tensor descriptor");
    if (format != 0) return fail(NOT_SUPPORTED, "tensor format is not NCHW");
    if (dtype != 0) return fail(NOT_SUPPORTED, "tensor data type is not FLOAT");
    if (n < 1 || c < 1 || h < 1 || w < 1) return fail(BAD_PARAM, "tensor dimension < 1");
    *t = Tensor{TENSOR, true, n, c, h, w};
    return SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(void* d)
{
    Tensor* t = (Tensor*)d;
    if (!t || t->magic != TENSOR) return fail(BAD_PARAM, "bad tensor descriptor");
    t->magic = 0;
    delete t;
    return SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(void** d)
{
    *d = new Filter{FILTER, false, 0, 0, 0, 0};
    return SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(void* d, int dtype, int format, int k, int c, int h, int w)
{
    Filter* f = (Filter*)d;
    if (!f || f->magic != FILTER) return fail(BAD_PARAM, "bad filter descriptor");
    if (dtype != 0) return fail(NOT_SUPPORTED, "filter data type is not FLOAT");
    if (format != 0) return fail(NOT_SUPPORTED, "filter format is not NCHW");
    if (k < 1 || c < 1 || h < 1 || w < 1) return fail(BAD_PARAM, "filter dimension < 1");
    *f = Filter{FILTER, true, k, c, h, w};
    return SUCCESS;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(void* d)
{
    Filter* f = (Filter*)d;
    if (!f || f->magic != FILTER) return fail(BAD_PARAM, "bad filter descriptor");
    f->magic = 0;
    delete f;
    return SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(void** d)
{
    *d = new Conv{CONV, false, 0, 0, 0, 0, 0, 0, 0};
    return SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(void* d, int ph, int pw, int u, int v, int dh, int dw, int mode, int ctype)
{
    Conv* c = (Conv*)d;
    if (!c || c->magic != CONV) return fail(BAD_PARAM, "bad convolution descriptor");
    if (mode != 1) return fail(NOT_SUPPORTED, "mode is not CUDNN_CROSS_CORRELATION");
    if (ctype != 0) return fail(NOT_SUPPORTED, "compute type is not FLOAT");
    if (ph < 0 || pw < 0 || u < 1 || v < 1 || dh < 1 || dw < 1) return fail(BAD_PARAM, "bad convolution geometry");
    int math = c->math;
    *c = Conv{CONV, true, ph, pw, u, v, dh, dw, math};
    return SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(void* d, int math)
{
    Conv* c = (Conv*)d;
    if (!c || c->magic != CONV) return fail(BAD_PARAM, "bad convolution descriptor");
    if (math < 0 || math > 3) return fail(BAD_PARAM, "bad math type");
    c->math = math;
    return SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(void* d)
{
    Conv* c = (Conv*)d;
    if (!c || c->magic != CONV) return fail(BAD_PARAM, "bad convolution descriptor");
    c->magic = 0;
    delete c;
    return SUCCESS;
}

// geometry checks x, w and y against the convolution and returns status.
static cudnnStatus_t geometry(Tensor* x, Filter* w, Conv* c, Tensor* y)
{
    if (!x || !w || !c || !y) return fail(BAD_PARAM, "unset descriptor");
    if (x->c != w->c) return fail(BAD_PARAM, "x channels != filter channels");
    int oh = (x->h + 2 * c->ph - (c->dh * (w->h - 1) + 1)) / c->u + 1;
    int ow = (x->w + 2 * c->pw - (c->dw * (w->w - 1) + 1)) / c->v + 1;
    if (y->n != x->n || y->c != w->k || y->h != oh || y->w != ow) return fail(BAD_PARAM, "y descriptor does not match conv(x, w)");
    return SUCCESS;
}

static size_t sz(Tensor* t) { return (size_t)t->n * t->c * t->h * t->w * 4; }
static size_t szf(Filter* f) { return (size_t)f->k * f->c * f->h * f->w * 4; }

// Two algorithms: 1 is "fast" and wants 64 bytes of workspace per image,
// 0 needs none.
static size_t wsNeed(int algo, Tensor* x) { return algo == 1 ? 64 * (size_t)x->n : 0; }

static int perfList(Conv* c, Tensor* x, size_t limit, int req, int* ret, Perf* perf)
{
    int n = 0;
    for (int algo : {1, 0}) {
        size_t m = wsNeed(algo, x);
        if (m > limit || n >= req) continue;
        Perf p{};
        p.algo = algo;
        p.status = 0;
        p.time = algo == 1 ? 0.1f : 0.2f;
        p.memory = m;
        p.determinism = 1;
        p.mathType = c->math;
        perf[n++] = p;
    }
    *ret = n;
    return SUCCESS;
}

#define CHECK(expr)                      \
    do {                                 \
        cudnnStatus_t st_ = (expr);      \
        if (st_ != SUCCESS) return st_;  \
    } while (0)

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(void* h, void* x, void* w, void* c, void* y, int req, int* ret, Perf* perf)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(x), F(w), C(c), T(y)));
    return perfList(C(c), T(x), (size_t)-1, req, ret, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(void* h, void* w, void* dy, void* c, void* dx, int req, int* ret, Perf* perf)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(dx), F(w), C(c), T(dy)));
    return perfList(C(c), T(dx), (size_t)-1, req, ret, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(void* h, void* x, void* dy, void* c, void* dw, int req, int* ret, Perf* perf)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(x), F(dw), C(c), T(dy)));
    return perfList(C(c), T(x), (size_t)-1, req, ret, perf);
}

static cudnnStatus_t wsSize(int algo, Tensor* x, size_t* n)
{
    if (algo != 0 && algo != 1) return fail(NOT_SUPPORTED, "unknown algorithm");
    *n = wsNeed(algo, x);
    return SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(void* h, void* x, void* w, void* c, void* y, int algo, size_t* n)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(x), F(w), C(c), T(y)));
    return wsSize(algo, T(x), n);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(void* h, void* w, void* dy, void* c, void* dx, int algo, size_t* n)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(dx), F(w), C(c), T(dy)));
    return wsSize(algo, T(dx), n);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(void* h, void* x, void* dy, void* c, void* dw, int algo, size_t* n)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(x), F(dw), C(c), T(dy)));
    return wsSize(algo, T(x), n);
}

// The three convolutions, naive, in double.
static void convFwd(Tensor* xd, const float* x, Filter* wd, const float* w, Conv* c, Tensor* yd, float* y, float alpha, float beta)
{
    for (int n = 0; n < yd->n; n++)
        for (int k = 0; k < yd->c; k++)
            for (int oh = 0; oh < yd->h; oh++)
                for (int ow = 0; ow < yd->w; ow++) {
                    double s = 0;
                    for (int ch = 0; ch < xd->c; ch++)
                        for (int r = 0; r < wd->h; r++)
                            for (int q = 0; q < wd->w; q++) {
                                int ih = oh * c->u - c->ph + r * c->dh, iw = ow * c->v - c->pw + q * c->dw;
                                if (ih < 0 || ih >= xd->h || iw < 0 || iw >= xd->w) continue;
                                s += (double)x[((n * xd->c + ch) * xd->h + ih) * xd->w + iw] * w[((k * wd->c + ch) * wd->h + r) * wd->w + q];
                            }
                    float* o = &y[((n * yd->c + k) * yd->h + oh) * yd->w + ow];
                    *o = beta == 0 ? (float)(alpha * s) : (float)(alpha * s + beta * *o);
                }
}

static void bwdData(Tensor* xt, Tensor* yt, Filter* f, Conv* c, const float* w, const float* dy, float* dx, float alpha, float beta);
static void bwdFilter(Tensor* xt, Tensor* yt, Filter* f, Conv* c, const float* x, const float* dy, float* dw, float alpha, float beta);

// Real cuDNN kernels may use 16-byte vector loads: the fake insists.
static cudnnStatus_t checkAlign(const void* a, const void* b, const void* c)
{
    if ((unsigned long long)a % 16 || (unsigned long long)b % 16 || (unsigned long long)c % 16)
        return fail(2003, "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER (the fake wants 16-byte alignment)");
    return SUCCESS;
}

static cudnnStatus_t checkWS(int algo, Tensor* x, void* ws, size_t wsBytes)
{
    if (algo != 0 && algo != 1) return fail(NOT_SUPPORTED, "unknown algorithm");
    size_t need = wsNeed(algo, x);
    if (wsBytes < need) return fail(BAD_PARAM, "workspace smaller than the algorithm needs");
    if (need > 0 && !fakeRange(ws, need)) return fail(BAD_PARAM, "workspace pointer not allocated");
    return SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(void* h, const float* alpha, void* xd, const float* x, void* wd, const float* w, void* cd, int algo,
                                      void* ws, size_t wsBytes, const float* beta, void* yd, float* y)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    if (!fakeCtx()) return fail(EXECUTION_FAILED, "no current context");
    CHECK(geometry(T(xd), F(wd), C(cd), T(yd)));
    CHECK(checkWS(algo, T(xd), ws, wsBytes));
    CHECK(checkAlign(x, w, y));
    if (!fakeRange(x, sz(T(xd))) || !fakeRange(w, szf(F(wd))) || !fakeRange(y, sz(T(yd)))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    Tensor X = *T(xd), Y = *T(yd);
    Filter W = *F(wd);
    Conv Cv = *C(cd);
    float a = *alpha, b = *beta;
    fakeSubmit(H(h)->stream, [=]() mutable { convFwd(&X, x, &W, w, &Cv, &Y, y, a, b); });
    return SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardData(void* h, const float* alpha, void* wd, const float* w, void* dyd, const float* dy, void* cd,
                                           int algo, void* ws, size_t wsBytes, const float* beta, void* dxd, float* dx)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    if (!fakeCtx()) return fail(EXECUTION_FAILED, "no current context");
    Tensor *xt = T(dxd), *yt = T(dyd);
    Filter* f = F(wd);
    Conv* c = C(cd);
    CHECK(geometry(xt, f, c, yt));
    CHECK(checkWS(algo, xt, ws, wsBytes));
    CHECK(checkAlign(w, dy, dx));
    if (!fakeRange(w, szf(f)) || !fakeRange(dy, sz(yt)) || !fakeRange(dx, sz(xt))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    fakeSubmit(H(h)->stream, [X = *xt, Y = *yt, Fl = *f, Cv = *c, w, dy, dx, a = *alpha, b = *beta]() mutable {
        bwdData(&X, &Y, &Fl, &Cv, w, dy, dx, a, b);
    });
    return SUCCESS;
}

static void bwdData(Tensor* xt, Tensor* yt, Filter* f, Conv* c, const float* w, const float* dy, float* dx, float alpha, float beta)
{
    std::vector<double> acc((size_t)xt->n * xt->c * xt->h * xt->w, 0.0);
    for (int n = 0; n < yt->n; n++)
        for (int k = 0; k < yt->c; k++)
            for (int oh = 0; oh < yt->h; oh++)
                for (int ow = 0; ow < yt->w; ow++) {
                    double g = dy[((n * yt->c + k) * yt->h + oh) * yt->w + ow];
                    for (int ch = 0; ch < xt->c; ch++)
                        for (int r = 0; r < f->h; r++)
                            for (int q = 0; q < f->w; q++) {
                                int ih = oh * c->u - c->ph + r * c->dh, iw = ow * c->v - c->pw + q * c->dw;
                                if (ih < 0 || ih >= xt->h || iw < 0 || iw >= xt->w) continue;
                                acc[((n * xt->c + ch) * xt->h + ih) * xt->w + iw] += g * w[((k * f->c + ch) * f->h + r) * f->w + q];
                            }
                }
    for (size_t i = 0; i < acc.size(); i++) dx[i] = beta == 0 ? (float)(alpha * acc[i]) : (float)(alpha * acc[i] + beta * dx[i]);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(void* h, const float* alpha, void* xd, const float* x, void* dyd, const float* dy, void* cd,
                                             int algo, void* ws, size_t wsBytes, const float* beta, void* dwd, float* dw)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    if (!fakeCtx()) return fail(EXECUTION_FAILED, "no current context");
    Tensor *xt = T(xd), *yt = T(dyd);
    Filter* f = F(dwd);
    Conv* c = C(cd);
    CHECK(geometry(xt, f, c, yt));
    CHECK(checkWS(algo, xt, ws, wsBytes));
    CHECK(checkAlign(x, dy, dw));
    if (!fakeRange(x, sz(xt)) || !fakeRange(dy, sz(yt)) || !fakeRange(dw, szf(f))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    fakeSubmit(H(h)->stream, [X = *xt, Y = *yt, Fl = *f, Cv = *c, x, dy, dw, a = *alpha, b = *beta]() mutable {
        bwdFilter(&X, &Y, &Fl, &Cv, x, dy, dw, a, b);
    });
    return SUCCESS;
}

static void bwdFilter(Tensor* xt, Tensor* yt, Filter* f, Conv* c, const float* x, const float* dy, float* dw, float alpha, float beta)
{
    for (int k = 0; k < f->k; k++)
        for (int ch = 0; ch < f->c; ch++)
            for (int r = 0; r < f->h; r++)
                for (int q = 0; q < f->w; q++) {
                    double s = 0;
                    for (int n = 0; n < yt->n; n++)
                        for (int oh = 0; oh < yt->h; oh++)
                            for (int ow = 0; ow < yt->w; ow++) {
                                int ih = oh * c->u - c->ph + r * c->dh, iw = ow * c->v - c->pw + q * c->dw;
                                if (ih < 0 || ih >= xt->h || iw < 0 || iw >= xt->w) continue;
                                s += (double)x[((n * xt->c + ch) * xt->h + ih) * xt->w + iw] * dy[((n * yt->c + k) * yt->h + oh) * yt->w + ow];
                            }
                    float* o = &dw[((k * f->c + ch) * f->h + r) * f->w + q];
                    *o = beta == 0 ? (float)(alpha * s) : (float)(alpha * s + beta * *o);
                }
}

// Find*Ex: the same two algorithms, restricted to the workspace offered.
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(void* h, void* xd, const float* x, void* wd, const float* w, void* cd, void* yd, float* y,
                                                     int req, int* ret, Perf* perf, void* ws, size_t wsBytes)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(xd), F(wd), C(cd), T(yd)));
    if (!fakeRange(x, sz(T(xd))) || !fakeRange(w, szf(F(wd))) || !fakeRange(y, sz(T(yd)))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    if (wsBytes > 0 && !fakeRange(ws, wsBytes)) return fail(BAD_PARAM, "workspace not allocated");
    return perfList(C(cd), T(xd), wsBytes, req, ret, perf);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(void* h, void* wd, const float* w, void* dyd, const float* dy, void* cd, void* dxd,
                                                          float* dx, int req, int* ret, Perf* perf, void* ws, size_t wsBytes)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(dxd), F(wd), C(cd), T(dyd)));
    if (!fakeRange(w, szf(F(wd))) || !fakeRange(dy, sz(T(dyd))) || !fakeRange(dx, sz(T(dxd)))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    if (wsBytes > 0 && !fakeRange(ws, wsBytes)) return fail(BAD_PARAM, "workspace not allocated");
    return perfList(C(cd), T(dxd), wsBytes, req, ret, perf);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(void* h, void* xd, const float* x, void* dyd, const float* dy, void* cd, void* dwd,
                                                            float* dw, int req, int* ret, Perf* perf, void* ws, size_t wsBytes)
{
    if (!H(h)) return fail(BAD_PARAM, "bad handle");
    CHECK(geometry(T(xd), F(dwd), C(cd), T(dyd)));
    if (!fakeRange(x, sz(T(xd))) || !fakeRange(dy, sz(T(dyd))) || !fakeRange(dw, szf(F(dwd)))) return fail(BAD_PARAM, "buffer smaller than its descriptor");
    if (wsBytes > 0 && !fakeRange(ws, wsBytes)) return fail(BAD_PARAM, "workspace not allocated");
    return perfList(C(cd), T(xd), wsBytes, req, ret, perf);
}

// Batch norm, CUDNN_BATCHNORM_SPATIAL only, with the semantics the Go side
// relies on: running variance unbiased, saved inverse variance 1/sqrt(var+eps).
cudnnStatus_t cudnnDeriveBNTensorDescriptor(void* bn, void* xd, int mode)
{
    Tensor* x = T(xd);
    Tensor* b = (Tensor*)bn;
    if (!x || !b || b->magic != TENSOR) return fail(BAD_PARAM, "bad descriptor");
    if (mode != 1) return fail(NOT_SUPPORTED, "mode is not CUDNN_BATCHNORM_SPATIAL");
    *b = Tensor{TENSOR, true, 1, x->c, 1, 1};
    return SUCCESS;
}

static bool bnShapes(Tensor* x, Tensor* b) { return x && b && b->n == 1 && b->c == x->c && b->h == 1 && b->w == 1; }

cudnnStatus_t cudnnBatchNormalizationForwardTraining(void* h, int mode, const float* alpha, const float* beta, void* xd, const float* x, void* yd,
                                                     float* y, void* bnd, const float* scale, const float* bias, double factor,
                                                     float* runMean, float* runVar, double eps, float* saveMean, float* saveInvVar)
{
    Tensor *xt = T(xd), *yt = T(yd), *bt = T(bnd);
    if (!H(h) || mode != 1 || !bnShapes(xt, bt) || !yt || sz(xt) != sz(yt)) return fail(BAD_PARAM, "bad batch norm arguments");
    if (!fakeCtx()) return fail(EXECUTION_FAILED, "no current context");
    if (eps <= 0 || factor < 0 || factor > 1) return fail(BAD_PARAM, "bad epsilon or factor");
    int N = xt->n, Ch = xt->c, S = xt->h * xt->w;
    double M = (double)N * S;
    float a_ = *alpha, b_ = *beta;
    fakeSubmit(H(h)->stream, [=]() {
        for (int c = 0; c < Ch; c++) {
            double s = 0, s2 = 0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    double v = x[((size_t)n * Ch + c) * S + i];
                    s += v;
                    s2 += v * v;
                }
            double mean = s / M, var = s2 / M - mean * mean;
            double is = 1.0 / sqrt(var + eps);
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    size_t k = ((size_t)n * Ch + c) * S + i;
                    double v = scale[c] * (x[k] - mean) * is + bias[c];
                    y[k] = b_ == 0 ? (float)(a_ * v) : (float)(a_ * v + b_ * y[k]);
                }
            runMean[c] = (float)((1 - factor) * runMean[c] + factor * mean);
            runVar[c] = (float)((1 - factor) * runVar[c] + factor * var * M / (M - 1));
            if (saveMean) saveMean[c] = (float)mean;
            if (saveInvVar) saveInvVar[c] = (float)is;
        }
    });
    return SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(void* h, int mode, const float* alpha, const float* beta, void* xd, const float* x,
                                                      void* yd, float* y, void* bnd, const float* scale, const float* bias,
                                                      const float* mean, const float* var, double eps)
{
    Tensor *xt = T(xd), *yt = T(yd), *bt = T(bnd);
    if (!H(h) || mode != 1 || !bnShapes(xt, bt) || !yt || sz(xt) != sz(yt)) return fail(BAD_PARAM, "bad batch norm arguments");
    int N = xt->n, Ch = xt->c, S = xt->h * xt->w;
    float a_ = *alpha, b_ = *beta;
    fakeSubmit(H(h)->stream, [=]() {
        for (int c = 0; c < Ch; c++)
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    size_t k = ((size_t)n * Ch + c) * S + i;
                    double v = scale[c] * (x[k] - mean[c]) / sqrt(var[c] + eps) + bias[c];
                    y[k] = b_ == 0 ? (float)(a_ * v) : (float)(a_ * v + b_ * y[k]);
                }
    });
    return SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationBackward(void* h, int mode, const float* aD, const float* bD, const float* aP, const float* bP, void* xd,
                                              const float* x, void* dyd, const float* dy, void* dxd, float* dx, void* bnd,
                                              const float* scale, float* dScale, float* dBias, double eps, const float* saveMean,
                                              const float* saveInvVar)
{
    Tensor *xt = T(xd), *dyt = T(dyd), *dxt = T(dxd), *bt = T(bnd);
    if (!H(h) || mode != 1 || !bnShapes(xt, bt) || !dyt || !dxt) return fail(BAD_PARAM, "bad batch norm arguments");
    if (!saveMean || !saveInvVar) return fail(NOT_SUPPORTED, "the fake needs the saved statistics");
    int N = xt->n, Ch = xt->c, S = xt->h * xt->w;
    double M = (double)N * S;
    float aD_ = *aD, bD_ = *bD, aP_ = *aP, bP_ = *bP;
    fakeSubmit(H(h)->stream, [=]() {
        for (int c = 0; c < Ch; c++) {
            double mean = saveMean[c], is = saveInvVar[c];
            double sdy = 0, sdyx = 0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    size_t k = ((size_t)n * Ch + c) * S + i;
                    sdy += dy[k];
                    sdyx += dy[k] * (x[k] - mean) * is;
                }
            for (int n = 0; n < N; n++)
                for (int i = 0; i < S; i++) {
                    size_t k = ((size_t)n * Ch + c) * S + i;
                    double xh = (x[k] - mean) * is;
                    double v = scale[c] * is * (dy[k] - sdy / M - xh * sdyx / M);
                    dx[k] = bD_ == 0 ? (float)(aD_ * v) : (float)(aD_ * v + bD_ * dx[k]);
                }
            dScale[c] = bP_ == 0 ? (float)(aP_ * sdyx) : (float)(aP_ * sdyx + bP_ * dScale[c]);
            dBias[c] = bP_ == 0 ? (float)(aP_ * sdy) : (float)(aP_ * sdy + bP_ * dBias[c]);
        }
    });
    return SUCCESS;
}

} // extern "C"
