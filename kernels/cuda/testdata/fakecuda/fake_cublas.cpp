// fake_cublas.cpp: a CPU stand-in for libcublas.so.13 (see fake_cuda.cpp).
// cublasSgemm_v2 is the reference BLAS definition, column-major, with the
// BLAS argument checks (lda >= max(1, rows of the stored matrix)), so the
// Go side's row-major→column-major operand swap and leading dimensions are
// checked against the specification rather than against themselves.
#include <stdio.h>
#include <string.h>

#include "fakehooks.h"

extern "C" {

typedef int cublasStatus_t;
enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7, NOT_SUPPORTED = 15 };

struct Handle {
    int magic;
    void* stream;
    int pointerMode;
    int mathMode;
    void* ws;
    size_t wsBytes;
};

static bool ok(void* h) { return h != nullptr && ((Handle*)h)->magic == 0xb1a5; }

cublasStatus_t cublasCreate_v2(void** h)
{
    if (!fakeCtx()) return NOT_INITIALIZED;
    Handle* x = new Handle();
    x->magic = 0xb1a5;
    *h = x;
    return SUCCESS;
}

cublasStatus_t cublasDestroy_v2(void* h)
{
    if (!ok(h)) return NOT_INITIALIZED;
    ((Handle*)h)->magic = 0;
    delete (Handle*)h;
    return SUCCESS;
}

cublasStatus_t cublasSetStream_v2(void* h, void* s)
{
    if (!ok(h)) return NOT_INITIALIZED;
    ((Handle*)h)->stream = s;
    return SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(void* h, int mode)
{
    if (!ok(h)) return NOT_INITIALIZED;
    if (mode != 0 && mode != 1) return INVALID_VALUE;
    ((Handle*)h)->pointerMode = mode;
    return SUCCESS;
}

cublasStatus_t cublasSetMathMode(void* h, int mode)
{
    if (!ok(h)) return NOT_INITIALIZED;
    if (mode != 0 && mode != 3) return INVALID_VALUE; // the package uses DEFAULT or TF32
    ((Handle*)h)->mathMode = mode;
    return SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(void* h, void* ws, size_t n)
{
    if (!ok(h)) return NOT_INITIALIZED;
    ((Handle*)h)->ws = ws;
    ((Handle*)h)->wsBytes = n;
    return SUCCESS;
}

cublasStatus_t cublasGetProperty(int type, int* v)
{
    switch (type) {
    case 0: *v = 13; return SUCCESS;
    case 1: *v = 1; return SUCCESS;
    case 2: *v = 0; return SUCCESS;
    }
    return INVALID_VALUE;
}

const char* cublasGetStatusName(int st)
{
    switch (st) {
    case SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(int st) { return st == INVALID_VALUE ? "an invalid value was used as an argument" : "fake"; }

cublasStatus_t cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              const float* B, int ldb, const float* beta, float* C, int ldc)
{
    if (!ok(h)) return NOT_INITIALIZED;
    if (((Handle*)h)->pointerMode != 0) return NOT_SUPPORTED;
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || m < 0 || n < 0 || k < 0) return INVALID_VALUE;
    int rowsA = ta == 0 ? m : k, rowsB = tb == 0 ? k : n;
    if (lda < (rowsA > 1 ? rowsA : 1) || ldb < (rowsB > 1 ? rowsB : 1) || ldc < (m > 1 ? m : 1)) return INVALID_VALUE;
    if (!fakeCtx()) return 14; // CUBLAS_STATUS_INTERNAL_ERROR: no current context
    size_t colsA = ta == 0 ? k : m, colsB = tb == 0 ? n : k;
    if ((m > 0 && k > 0 && !fakeRange(A, 4 * ((colsA - 1) * lda + rowsA))) ||
        (k > 0 && n > 0 && !fakeRange(B, 4 * ((colsB - 1) * ldb + rowsB))) ||
        (m > 0 && n > 0 && !fakeRange(C, 4 * ((size_t)(n - 1) * ldc + m))))
        return 13; // CUBLAS_STATUS_EXECUTION_FAILED: out-of-bounds operand
    float a = *alpha, b = *beta;
    fakeSubmit(((Handle*)h)->stream, [=]() {
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int l = 0; l < k; l++) {
                    float x = ta == 0 ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                    float y = tb == 0 ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                    s += (double)x * y;
                }
                float* c = &C[i + (size_t)j * ldc];
                // BLAS: with beta == 0, C is not read (it may hold NaN).
                *c = b == 0.0f ? (float)(a * s) : (float)(a * s + (double)b * *c);
            }
        }
    });
    return SUCCESS;
}

} // extern "C"
