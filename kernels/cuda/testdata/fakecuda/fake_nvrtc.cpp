// fake_nvrtc.cpp: a CPU stand-in for libnvrtc.so.13 (see fake_cuda.cpp).
// It checks the options the package passes and returns a marker image that
// the fake libcuda accepts; the kernels themselves are compiled into the
// fake libcuda from the same sources.
#include <stdio.h>
#include <string.h>
#include <string>

extern "C" {

typedef int nvrtcResult;
enum { OK = 0, INVALID_INPUT = 3, INVALID_PROGRAM = 4, INVALID_OPTION = 5, COMPILATION = 6 };

struct Program {
    int magic;
    std::string src, log;
    bool compiled, ptx;
};

static const char kImage[] = "FAKECUBIN";

nvrtcResult nvrtcVersion(int* major, int* minor)
{
    *major = 13;
    *minor = 0;
    return OK;
}

const char* nvrtcGetErrorString(int r)
{
    switch (r) {
    case OK: return "NVRTC_SUCCESS";
    case INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
    case INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
    case INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
    case COMPILATION: return "NVRTC_ERROR_COMPILATION";
    }
    return "NVRTC_ERROR unknown";
}

nvrtcResult nvrtcGetNumSupportedArchs(int* n)
{
    *n = 6;
    return OK;
}

nvrtcResult nvrtcGetSupportedArchs(int* a)
{
    int v[] = {75, 80, 86, 89, 90, 100};
    memcpy(a, v, sizeof v);
    return OK;
}

nvrtcResult nvrtcCreateProgram(void** p, const char* src, const char* name, int nh, const char* const* h, const char* const* inc)
{
    if (!src || nh != 0) return INVALID_INPUT;
    Program* x = new Program();
    x->magic = 0x7e7c;
    x->src = src;
    *p = x;
    return OK;
}

static Program* prog(void* p) { return p && ((Program*)p)->magic == 0x7e7c ? (Program*)p : nullptr; }

nvrtcResult nvrtcDestroyProgram(void** p)
{
    Program* x = prog(*p);
    if (!x) return INVALID_PROGRAM;
    x->magic = 0;
    delete x;
    *p = nullptr;
    return OK;
}

nvrtcResult nvrtcCompileProgram(void* p, int n, const char* const* opts)
{
    Program* x = prog(p);
    if (!x) return INVALID_PROGRAM;
    bool arch = false, dev = false;
    for (int i = 0; i < n; i++) {
        std::string o = opts[i];
        if (o == "--gpu-architecture=sm_90") arch = true;
        else if (o == "-default-device") dev = true;
        else if (o.find("fast_math") != std::string::npos) {
            x->log = "fake nvrtc: --use_fast_math breaks parity with the CPU device";
            return INVALID_OPTION;
        }
    }
    if (!arch || !dev) {
        x->log = "fake nvrtc: expected --gpu-architecture=sm_90 and -default-device";
        return INVALID_OPTION;
    }
    if (x->src.find("extern \"C\" __global__") == std::string::npos) {
        x->log = "fake nvrtc: no kernels in the program";
        return COMPILATION;
    }
    x->compiled = true;
    x->log = "fake nvrtc: " + std::to_string(x->src.size()) + " bytes of source accepted";
    return OK;
}

nvrtcResult nvrtcGetProgramLogSize(void* p, size_t* n)
{
    Program* x = prog(p);
    if (!x) return INVALID_PROGRAM;
    *n = x->log.size() + 1;
    return OK;
}

nvrtcResult nvrtcGetProgramLog(void* p, char* buf)
{
    Program* x = prog(p);
    if (!x) return INVALID_PROGRAM;
    memcpy(buf, x->log.c_str(), x->log.size() + 1);
    return OK;
}

nvrtcResult nvrtcGetCUBINSize(void* p, size_t* n)
{
    Program* x = prog(p);
    if (!x || !x->compiled) return INVALID_PROGRAM;
    *n = sizeof kImage;
    return OK;
}

nvrtcResult nvrtcGetCUBIN(void* p, char* buf)
{
    Program* x = prog(p);
    if (!x || !x->compiled) return INVALID_PROGRAM;
    memcpy(buf, kImage, sizeof kImage);
    return OK;
}

nvrtcResult nvrtcGetPTXSize(void* p, size_t* n) { return nvrtcGetCUBINSize(p, n); }
nvrtcResult nvrtcGetPTX(void* p, char* buf) { return nvrtcGetCUBIN(p, buf); }

} // extern "C"
