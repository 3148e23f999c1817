package cuda

import (
	"fmt"
	"unsafe"
)

// CUDA driver API constants (cuda.h).
const (
	cuStreamNonBlocking = 0x1 // CU_STREAM_NON_BLOCKING

	cuStreamCaptureModeRelaxed = 2 // CU_STREAM_CAPTURE_MODE_RELAXED
	cuGraphNodeTypeKernel      = 0 // CU_GRAPH_NODE_TYPE_KERNEL
	cuGraphNodeTypeMemset      = 2 // CU_GRAPH_NODE_TYPE_MEMSET
	cuGraphNodeTypeMemcpy      = 1 // CU_GRAPH_NODE_TYPE_MEMCPY

	cuAttrMultiprocessorCount = 16 // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
	cuAttrCCMajor             = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	cuAttrCCMinor             = 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
)

// driverAPI is libcuda.so.1. Since CUDA 4.0/11 several entry points exist
// only as *_v2 symbols behind #defines in cuda.h (cuMemAlloc → cuMemAlloc_v2,
// cuMemFree → cuMemFree_v2, cuMemGetInfo → cuMemGetInfo_v2,
// cuDeviceTotalMem → cuDeviceTotalMem_v2, cuStreamDestroy →
// cuStreamDestroy_v2, cuDevicePrimaryCtxRelease →
// cuDevicePrimaryCtxRelease_v2, cuMemcpy*Async → cuMemcpy*Async_v2); the
// symbols below are the ones the CUDA 12/13 headers resolve to. CUresult is
// a C enum: the typed functions return int32, and raw calls mask to 32 bits.
type driverAPI struct {
	lib *dynlib

	// CUresult cuInit(unsigned int Flags)
	cuInit func(flags uint32) int32
	// CUresult cuDriverGetVersion(int *driverVersion)
	cuDriverGetVersion func(v *int32) int32
	// CUresult cuDeviceGetCount(int *count)
	cuDeviceGetCount func(n *int32) int32
	// CUresult cuDeviceGet(CUdevice *device, int ordinal)
	cuDeviceGet func(dev *int32, ordinal int32) int32
	// CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
	cuDeviceGetName func(name *byte, n int32, dev int32) int32
	// CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
	cuDeviceTotalMem func(bytes *uint64, dev int32) int32
	// CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
	cuDeviceGetAttribute func(v *int32, attr int32, dev int32) int32
	// CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
	cuDevicePrimaryCtxRetain func(ctx *uintptr, dev int32) int32
	// CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
	cuDevicePrimaryCtxRelease func(dev int32) int32
	// CUresult cuCtxSetCurrent(CUcontext ctx)
	cuCtxSetCurrent func(ctx uintptr) int32
	// CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
	cuStreamCreate func(s *uintptr, flags uint32) int32
	// CUresult cuStreamDestroy_v2(CUstream hStream)
	cuStreamDestroy func(s uintptr) int32
	// CUresult cuStreamSynchronize(CUstream hStream)
	cuStreamSynchronize func(s uintptr) int32
	// CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
	cuMemAlloc func(p *uint64, bytes uint64) int32
	// CUresult cuMemFree_v2(CUdeviceptr dptr)
	cuMemFree func(p uint64) int32
	// CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
	cuMemGetInfo func(free, total *uint64) int32
	// CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
	cuMemcpyHtoDAsync func(dst uint64, src unsafe.Pointer, n uint64, s uintptr) int32
	// CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
	cuMemcpyDtoHAsync func(dst unsafe.Pointer, src uint64, n uint64, s uintptr) int32
	// CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char uc, size_t N, CUstream s)
	cuMemsetD8Async func(dst uint64, v uint8, n uint64, s uintptr) int32
	// CUresult cuModuleLoadData(CUmodule *module, const void *image)
	cuModuleLoadData func(m *uintptr, image unsafe.Pointer) int32
	// CUresult cuModuleUnload(CUmodule hmod)
	cuModuleUnload func(m uintptr) int32
	// CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
	cuModuleGetFunction func(f *uintptr, m uintptr, name string) int32
	// CUresult cuGetErrorName(CUresult error, const char **pStr)
	cuGetErrorName func(code int32, s **byte) int32
	// CUresult cuGetErrorString(CUresult error, const char **pStr)
	cuGetErrorString func(code int32, s **byte) int32

	// CUDA graphs (stream capture and replay), all optional: graphs is
	// false when the driver lacks one of the required ones, and training
	// then launches every op directly. The names are those of the CUDA 12
	// and 13 headers (cuStreamBeginCapture → cuStreamBeginCapture_v2).
	graphs bool
	// CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
	cuStreamBeginCapture func(s uintptr, mode uint32) int32
	// CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
	cuStreamEndCapture func(s uintptr, g *uintptr) int32
	// CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)
	cuGraphInstantiateWithFlags func(e *uintptr, g uintptr, flags uint64) int32
	// CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
	cuGraphExecDestroy func(e uintptr) int32
	// CUresult cuGraphDestroy(CUgraph hGraph)
	cuGraphDestroy func(g uintptr) int32
	// CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes); optional
	cuGraphGetNodes func(g uintptr, nodes *uintptr, n *uint64) int32
	// CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type); optional
	cuGraphNodeGetType func(node uintptr, t *int32) int32
	// rawGraphLaunch is cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream).
	rawGraphLaunch uintptr

	// Raw addresses for the allocation-free hot path (purego.SyscallN).
	rawCtxSetCurrent   uintptr // cuCtxSetCurrent
	rawLaunchKernel    uintptr // cuLaunchKernel
	rawMemsetD32Async  uintptr // cuMemsetD32Async
	rawMemcpyDtoDAsync uintptr // cuMemcpyDtoDAsync_v2
}

func bindDriver(l *dynlib) (*driverAPI, error) {
	a := &driverAPI{lib: l}
	binds := []struct {
		f    any
		name string
	}{
		{&a.cuInit, "cuInit"},
		{&a.cuDriverGetVersion, "cuDriverGetVersion"},
		{&a.cuDeviceGetCount, "cuDeviceGetCount"},
		{&a.cuDeviceGet, "cuDeviceGet"},
		{&a.cuDeviceGetName, "cuDeviceGetName"},
		{&a.cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
		{&a.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&a.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
		{&a.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
		{&a.cuCtxSetCurrent, "cuCtxSetCurrent"},
		{&a.cuStreamCreate, "cuStreamCreate"},
		{&a.cuStreamDestroy, "cuStreamDestroy_v2"},
		{&a.cuStreamSynchronize, "cuStreamSynchronize"},
		{&a.cuMemAlloc, "cuMemAlloc_v2"},
		{&a.cuMemFree, "cuMemFree_v2"},
		{&a.cuMemGetInfo, "cuMemGetInfo_v2"},
		{&a.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"},
		{&a.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"},
		{&a.cuMemsetD8Async, "cuMemsetD8Async"},
		{&a.cuModuleLoadData, "cuModuleLoadData"},
		{&a.cuModuleUnload, "cuModuleUnload"},
		{&a.cuModuleGetFunction, "cuModuleGetFunction"},
		{&a.cuGetErrorName, "cuGetErrorName"},
		{&a.cuGetErrorString, "cuGetErrorString"},
	}
	for _, b := range binds {
		if err := l.bind(b.f, b.name); err != nil {
			return nil, err
		}
	}
	if err := l.symbols(map[string]*uintptr{
		"cuCtxSetCurrent":      &a.rawCtxSetCurrent,
		"cuLaunchKernel":       &a.rawLaunchKernel,
		"cuMemsetD32Async":     &a.rawMemsetD32Async,
		"cuMemcpyDtoDAsync_v2": &a.rawMemcpyDtoDAsync,
	}); err != nil {
		return nil, err
	}
	a.bindGraphs(l)
	return a, nil
}

// bindGraphs binds the optional graph entry points; graphs is set only when
// every one that capture and replay need is there.
func (a *driverAPI) bindGraphs(l *dynlib) {
	ok := l.bindOpt(&a.cuStreamBeginCapture, "cuStreamBeginCapture_v2")
	ok = l.bindOpt(&a.cuStreamEndCapture, "cuStreamEndCapture") && ok
	ok = l.bindOpt(&a.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags") && ok
	ok = l.bindOpt(&a.cuGraphExecDestroy, "cuGraphExecDestroy") && ok
	ok = l.bindOpt(&a.cuGraphDestroy, "cuGraphDestroy") && ok
	a.rawGraphLaunch = l.optSym("cuGraphLaunch")
	a.graphs = ok && a.rawGraphLaunch != 0
	if !l.bindOpt(&a.cuGraphGetNodes, "cuGraphGetNodes") || !l.bindOpt(&a.cuGraphNodeGetType, "cuGraphNodeGetType") {
		a.cuGraphGetNodes, a.cuGraphNodeGetType = nil, nil
	}
}

// err turns a CUresult into an *Error (nil for CUDA_SUCCESS).
func (a *driverAPI) err(fn string, st int32) error {
	if st == 0 {
		return nil
	}
	e := &Error{Func: fn, Code: int(st)}
	var p *byte
	if a.cuGetErrorName(st, &p) == 0 && p != nil {
		e.Name = cstring(p)
	} else {
		e.Name = statusName(cuResultNames, "CUDA_ERROR", int(st))
	}
	p = nil
	if a.cuGetErrorString(st, &p) == 0 && p != nil {
		e.Msg = cstring(p)
	}
	return e
}

// errText is err's text, for reports.
func (a *driverAPI) errText(fn string, st int32) string {
	if e := a.err(fn, st); e != nil {
		return e.Error()
	}
	return ""
}

// listGPUs initialises the driver and describes every visible device.
func (a *driverAPI) listGPUs() ([]GPU, error) {
	if err := a.err("cuInit", a.cuInit(0)); err != nil {
		return nil, err
	}
	var n int32
	if err := a.err("cuDeviceGetCount", a.cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	var out []GPU
	for i := int32(0); i < n; i++ {
		g, err := a.describe(i)
		if err != nil {
			return out, err
		}
		out = append(out, g)
	}
	return out, nil
}

// describe reads one device's name, memory and compute capability.
func (a *driverAPI) describe(ordinal int32) (GPU, error) {
	g := GPU{Index: int(ordinal)}
	var dev int32
	if err := a.err("cuDeviceGet", a.cuDeviceGet(&dev, ordinal)); err != nil {
		return g, err
	}
	name := make([]byte, 256)
	if err := a.err("cuDeviceGetName", a.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return g, err
	}
	g.Name = cstring(&name[0])
	var mem uint64
	if err := a.err("cuDeviceTotalMem_v2", a.cuDeviceTotalMem(&mem, dev)); err != nil {
		return g, err
	}
	g.TotalMem = mem
	for _, q := range []struct {
		attr int32
		dst  *int
	}{{cuAttrCCMajor, &g.Major}, {cuAttrCCMinor, &g.Minor}, {cuAttrMultiprocessorCount, &g.SMs}} {
		var v int32
		if err := a.err(fmt.Sprintf("cuDeviceGetAttribute(%d)", q.attr), a.cuDeviceGetAttribute(&v, q.attr, dev)); err != nil {
			return g, err
		}
		*q.dst = int(v)
	}
	return g, nil
}
