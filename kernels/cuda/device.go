package cuda

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"

	"mnistgpu/kernels"
)

// Options configure Open.
type Options struct {
	// TF32 lets cuBLAS and cuDNN run float32 math on TF32 tensor cores
	// (CUBLAS_TF32_TENSOR_OP_MATH, CUDNN_DEFAULT_MATH): faster, about 1e-3
	// relative error. Off (the default) keeps IEEE float32
	// (CUBLAS_DEFAULT_MATH, CUDNN_FMA_MATH), which matches the CPU device
	// to rounding.
	TF32 bool
	// CuDNNBatchNorm runs batch norm through cuDNN's
	// cudnnBatchNormalization* instead of this package's kernels.
	CuDNNBatchNorm bool
	// Verbose, when not nil, receives what the device loaded and chose.
	Verbose io.Writer
	// LibDirs are folders searched for the CUDA libraries before the usual
	// places (as the MNISTGPU_CUDA_LIB_PATH environment variable).
	LibDirs []string
	// NoKernelCache compiles the kernels even when a cached CUBIN exists.
	NoKernelCache bool
}

// buffer is device memory: a cuMemAlloc_v2 allocation or a view into one.
type buffer struct {
	ptr   uint64 // device address of element 0
	n     int
	dt    kernels.DType
	dev   *Device
	view  bool
	bytes int // allocation size (0 for views)
	freed bool
}

func (b *buffer) DType() kernels.DType { return b.dt }
func (b *buffer) Len() int             { return b.n }

// closer is a plan (convolution, batch norm) that holds device resources.
type closer interface{ close() }

// Device is an NVIDIA GPU: a primary context, one non-blocking stream, a
// cuBLAS and a cuDNN handle bound to that stream, and the package's
// kernels compiled for the GPU. It implements kernels.Device and
// kernels.Counter. It is not safe for concurrent use.
type Device struct {
	cu   *driverAPI
	blas *blasAPI
	dnn  *dnnAPI
	rtc  *rtcAPI
	opts Options

	gpu    GPU
	dev    int32
	ctx    uintptr
	stream uintptr
	blasH  uintptr
	dnnH   uintptr
	blasWS uint64
	module uintptr
	kern   [numKernels]*kernel

	// args is the argument array of raw (allocation-free) library calls.
	args [32]uintptr
	// scal holds float scalars that cuBLAS and cuDNN read through
	// pointers (host pointer mode): {1, 0, alpha, beta}. It is heap memory
	// owned by the Device, so the pointers stay valid.
	scal *[4]float32

	// launches counts kernels and library calls issued (Launches).
	launches int64
	// graphs are the live captured graphs, destroyed by Close.
	graphs map[*graph]struct{}

	maxBlocks int
	live      map[uint64]*buffer
	allocated int64
	plans     []closer
	retained  bool
	closed    bool
	name      string
	rng       rangeFlags // indices and labels found out of range (rangecheck.go)
}

var (
	_ kernels.Device  = (*Device)(nil)
	_ kernels.Counter = (*Device)(nil)
	_ kernels.Buffer  = (*buffer)(nil)
)

var errClosed = errors.New("cuda: device is closed")

// Open makes GPU number gpu (among those CUDA_VISIBLE_DEVICES leaves
// visible) ready, or says in one line why the GPU path is not available.
func Open(gpu int, opts Options) (*Device, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("cuda: CUDA is not available on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	s := defaultSearch(opts.LibDirs)
	cu, err := loadDriver(s)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	gpus, err := cu.listGPUs()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if len(gpus) == 0 {
		return nil, errors.New("cuda: cuDeviceGetCount: no CUDA device is visible")
	}
	if gpu < 0 || gpu >= len(gpus) {
		return nil, fmt.Errorf("cuda: GPU %d asked for, %d visible", gpu, len(gpus))
	}
	d := &Device{cu: cu, opts: opts, gpu: gpus[gpu], scal: &[4]float32{1, 0, 0, 0}, live: map[uint64]*buffer{}}
	if d.rtc, err = loadNvrtc(s); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if d.blas, err = loadCublas(s); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if d.dnn, err = loadCudnn(s); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	// The context is made current on this OS thread and used by the
	// handles' creation: keep the goroutine on it until Open returns.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.init(gpu); err != nil {
		d.Close()
		return nil, fmt.Errorf("cuda:%d: %w", gpu, err)
	}
	if err := d.allocRangeFlags(); err != nil {
		d.Close()
		return nil, fmt.Errorf("cuda:%d: %w", gpu, err)
	}
	return d, nil
}

func (d *Device) verbosef(format string, args ...any) {
	if d.opts.Verbose != nil {
		fmt.Fprintf(d.opts.Verbose, "cuda: "+format+"\n", args...)
	}
}

func (d *Device) init(gpu int) error {
	cu := d.cu
	d.name = fmt.Sprintf("cuda:%d %s (%s)", gpu, d.gpu.Name, d.gpu.Arch())
	d.maxBlocks = max(1, d.gpu.SMs) * 32
	d.verbosef("%s, %d SMs, %.1f GiB; driver %s, NVRTC %s, cuBLAS %s, cuDNN %s",
		d.name, d.gpu.SMs, float64(d.gpu.TotalMem)/(1<<30), cu.lib.path, d.rtc.lib.path, d.blas.lib.path, d.dnn.lib.path)
	if err := cu.err("cuDeviceGet", cu.cuDeviceGet(&d.dev, int32(gpu))); err != nil {
		return err
	}
	if err := cu.err("cuDevicePrimaryCtxRetain", cu.cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return err
	}
	d.retained = true
	if err := cu.err("cuCtxSetCurrent", cu.cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	if err := cu.err("cuStreamCreate", cu.cuStreamCreate(&d.stream, cuStreamNonBlocking)); err != nil {
		return err
	}

	b := d.blas
	if err := b.err("cublasCreate_v2", b.create(&d.blasH)); err != nil {
		return err
	}
	if err := b.err("cublasSetStream_v2", b.setStream(d.blasH, d.stream)); err != nil {
		return err
	}
	if err := b.err("cublasSetPointerMode_v2", b.setPointerMode(d.blasH, cublasPointerModeHost)); err != nil {
		return err
	}
	mode := int32(cublasDefaultMath)
	if d.opts.TF32 {
		mode = cublasTF32TensorMath
	}
	if err := b.err("cublasSetMathMode", b.setMathMode(d.blasH, mode)); err != nil {
		return err
	}
	// A workspace of our own keeps cuBLAS from allocating inside a GEMM
	// (and makes GEMMs capturable into a CUDA graph).
	if b.setWorkspace != nil {
		if st := cu.cuMemAlloc(&d.blasWS, cublasWorkspaceBytes); st == 0 {
			if err := b.err("cublasSetWorkspace_v2", b.setWorkspace(d.blasH, d.blasWS, cublasWorkspaceBytes)); err != nil {
				return err
			}
		} else {
			d.blasWS = 0
		}
	}

	n := d.dnn
	if err := n.err("cudnnCreate", n.create(&d.dnnH)); err != nil {
		return err
	}
	if err := n.err("cudnnSetStream", n.setStream(d.dnnH, d.stream)); err != nil {
		return err
	}
	return d.loadKernels()
}

// loadKernels compiles (or reads from the cache) the CUDA C kernels and
// looks up every function of the launch table.
func (d *Device) loadKernels() error {
	src := kernelSource()
	cc := d.gpu.Major*10 + d.gpu.Minor
	var dv int32
	d.cu.cuDriverGetVersion(&dv)
	key := cacheKey(src, cc, int(dv), d.rtc.version())
	loaded := false
	if !d.opts.NoKernelCache {
		if img, kind := readCache(key); img != nil {
			if err := d.loadModule(img); err == nil {
				d.verbosef("kernels: cached %s %s/%s.%s", kind, cacheDir(), key, kind)
				loaded = true
			}
		}
	}
	if !loaded {
		t0 := time.Now()
		p, err := d.rtc.compileKernels(src, cc)
		if err != nil {
			return fmt.Errorf("compiling the CUDA kernels with NVRTC: %w", err)
		}
		if err := d.loadModule(p.image); err != nil {
			return fmt.Errorf("loading the NVRTC %s for %s: %w", p.kind, p.arch, err)
		}
		d.verbosef("kernels: NVRTC compiled %d bytes of %s for %s in %v", len(p.image), p.kind, p.arch, time.Since(t0).Round(time.Millisecond))
		if p.log != "" {
			d.verbosef("NVRTC log:\n%s", p.log)
		}
		if !d.opts.NoKernelCache {
			writeCache(key, p)
		}
	}
	for id, spec := range kernelSpecs {
		var f uintptr
		if err := d.cu.err("cuModuleGetFunction", d.cu.cuModuleGetFunction(&f, d.module, spec.name)); err != nil {
			return fmt.Errorf("kernel %s: %w", spec.name, err)
		}
		d.kern[id] = newKernel(spec.name, spec.sig, f)
	}
	return nil
}

func (d *Device) loadModule(image []byte) error {
	var m uintptr
	st := d.cu.cuModuleLoadData(&m, unsafe.Pointer(&image[0]))
	runtime.KeepAlive(image)
	if err := d.cu.err("cuModuleLoadData", st); err != nil {
		return err
	}
	d.module = m
	return nil
}

// Name describes the device, e.g. "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
func (d *Device) Name() string { return d.name }

// GPU describes the device's GPU.
func (d *Device) GPU() GPU { return d.gpu }

// Allocated is the number of bytes held by Alloc'd buffers (plans' and
// libraries' workspaces are not counted).
func (d *Device) Allocated() int64 { return d.allocated }

// enter locks the calling goroutine to its OS thread and makes the
// device's context current there; leave unlocks. Every entry point that
// calls a CUDA library brackets its calls with them: a CUDA context is
// current per OS thread, and without the lock the Go scheduler could move
// the goroutine to another thread between two calls. Locks nest, so a
// caller that keeps its goroutine locked stays locked. cuCtxSetCurrent is
// a raw call through the preallocated argument array: no allocation.
func (d *Device) enter() error {
	if d.closed {
		return errClosed
	}
	runtime.LockOSThread()
	d.args[0] = d.ctx
	r, _, _ := purego.SyscallN(d.cu.rawCtxSetCurrent, d.args[:1]...)
	if st := int32(r); st != 0 {
		runtime.UnlockOSThread()
		return d.cu.err("cuCtxSetCurrent", st)
	}
	return nil
}

// leave ends what enter began.
func (d *Device) leave() { runtime.UnlockOSThread() }

// cuErrDetail is a driver error with a detail (e.g. the kernel's name).
func (d *Device) cuErrDetail(fn string, st int32, detail string) error {
	err := d.cu.err(fn, st)
	if e, ok := err.(*Error); ok {
		e.Detail = detail
	}
	return err
}

// Close releases everything the device holds. It waits for queued work.
func (d *Device) Close() error {
	if d.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cu := d.cu
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if d.ctx != 0 {
		keep(cu.err("cuCtxSetCurrent", cu.cuCtxSetCurrent(d.ctx)))
	}
	if d.stream != 0 {
		keep(cu.err("cuStreamSynchronize", cu.cuStreamSynchronize(d.stream)))
	}
	for g := range d.graphs {
		d.destroyGraph(g)
	}
	for i := len(d.plans) - 1; i >= 0; i-- {
		d.plans[i].close()
	}
	d.plans = nil
	for p, b := range d.live {
		cu.cuMemFree(p)
		b.freed = true
	}
	d.live, d.allocated = nil, 0
	if d.dnnH != 0 {
		keep(d.dnn.err("cudnnDestroy", d.dnn.destroy(d.dnnH)))
		d.dnnH = 0
	}
	if d.blasH != 0 {
		keep(d.blas.err("cublasDestroy_v2", d.blas.destroy(d.blasH)))
		d.blasH = 0
	}
	if d.blasWS != 0 {
		cu.cuMemFree(d.blasWS)
		d.blasWS = 0
	}
	if d.module != 0 {
		keep(cu.err("cuModuleUnload", cu.cuModuleUnload(d.module)))
		d.module = 0
	}
	if d.stream != 0 {
		keep(cu.err("cuStreamDestroy_v2", cu.cuStreamDestroy(d.stream)))
		d.stream = 0
	}
	if d.retained {
		keep(cu.err("cuDevicePrimaryCtxRelease_v2", cu.cuDevicePrimaryCtxRelease(d.dev)))
		d.retained = false
	}
	d.closed = true
	return first
}

// devAlloc allocates raw device memory for plans and scratch, saying on
// failure how much was asked for and how much is free.
func (d *Device) devAlloc(what string, bytes int) (uint64, error) {
	if bytes <= 0 {
		bytes = 4
	}
	var p uint64
	if st := d.cu.cuMemAlloc(&p, uint64(bytes)); st != 0 {
		return 0, d.cuErrDetail("cuMemAlloc_v2", st, what+": "+d.memDetail(bytes))
	}
	return p, nil
}

// memDetail is "asked for X MiB; Y MiB free of Z MiB".
func (d *Device) memDetail(bytes int) string {
	var free, total uint64
	s := fmt.Sprintf("asked for %.1f MiB", float64(bytes)/(1<<20))
	if d.cu.cuMemGetInfo(&free, &total) == 0 {
		s += fmt.Sprintf("; %.1f MiB free of %.1f MiB", float64(free)/(1<<20), float64(total)/(1<<20))
	}
	return s
}

// Alloc returns a zeroed buffer of n elements.
func (d *Device) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: Alloc: negative length %d", n)
	}
	if dt != kernels.F32 && dt != kernels.U8 && dt != kernels.I32 {
		return nil, fmt.Errorf("cuda: Alloc: unknown type %v", dt)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	bytes := n * dt.Size()
	size := max(bytes, 4) // what is allocated and zeroed (a U8 buffer of 1-3 bytes too)
	p, err := d.devAlloc(fmt.Sprintf("Alloc(%v, %d)", dt, n), size)
	if err != nil {
		return nil, err
	}
	if err := d.cu.err("cuMemsetD8Async", d.cu.cuMemsetD8Async(p, 0, uint64(size), d.stream)); err != nil {
		d.cu.cuMemFree(p)
		return nil, err
	}
	b := &buffer{ptr: p, n: n, dt: dt, dev: d, bytes: bytes}
	d.live[p] = b
	d.allocated += int64(bytes)
	return b, nil
}

// Free releases a buffer returned by Alloc (views are ignored). It waits
// for queued work, which may still use the memory.
func (d *Device) Free(b kernels.Buffer) {
	bb, ok := b.(*buffer)
	if !ok || bb == nil || bb.view || bb.freed || bb.dev != d || d.closed {
		return
	}
	if d.enter() != nil {
		return
	}
	defer d.leave()
	d.cu.cuStreamSynchronize(d.stream)
	d.cu.cuMemFree(bb.ptr)
	bb.freed = true
	delete(d.live, bb.ptr)
	d.allocated -= int64(bb.bytes)
}

// View returns elements [off, off+n) of b, sharing its memory. It panics
// when the range is outside b, as slicing does.
func (d *Device) View(b kernels.Buffer, off, n int) kernels.Buffer {
	bb, ok := b.(*buffer)
	if !ok || bb == nil {
		panic(fmt.Sprintf("cuda: View of %T, not a buffer of this device", b))
	}
	if off < 0 || n < 0 || off+n > bb.n {
		panic(fmt.Sprintf("cuda: View [%d, %d) of a buffer of %d elements", off, off+n, bb.n))
	}
	return &buffer{ptr: bb.ptr + uint64(off*bb.dt.Size()), n: n, dt: bb.dt, dev: d, view: true}
}

// hostSlice returns the address, length and type of a []float32, []uint8
// or []int32.
func hostSlice(s any) (p unsafe.Pointer, n int, dt kernels.DType, err error) {
	switch v := s.(type) {
	case []float32:
		if len(v) > 0 {
			p = unsafe.Pointer(&v[0])
		}
		return p, len(v), kernels.F32, nil
	case []uint8:
		if len(v) > 0 {
			p = unsafe.Pointer(&v[0])
		}
		return p, len(v), kernels.U8, nil
	case []int32:
		if len(v) > 0 {
			p = unsafe.Pointer(&v[0])
		}
		return p, len(v), kernels.I32, nil
	}
	return nil, 0, 0, fmt.Errorf("%T is not []float32, []uint8 or []int32", s)
}

// Upload copies src into dst. The copy is queued on the device's stream
// (after the work that may still read dst) with cuMemcpyHtoDAsync_v2, and
// Upload waits for it, so src may be reused when it returns.
func (d *Device) Upload(dst kernels.Buffer, src any) error {
	p, n, dt, err := hostSlice(src)
	if err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	b, err := d.buf("Upload", "dst", dst, dt, n)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	st := d.cu.cuMemcpyHtoDAsync(b.ptr, p, uint64(n*dt.Size()), d.stream)
	if st == 0 {
		st = d.cu.cuStreamSynchronize(d.stream)
	}
	runtime.KeepAlive(src)
	return d.cu.err("cuMemcpyHtoDAsync_v2", st)
}

// Download copies src into dst after all queued work
// (cuMemcpyDtoHAsync_v2 on the stream, then cuStreamSynchronize).
func (d *Device) Download(dst any, src kernels.Buffer) error {
	p, n, dt, err := hostSlice(dst)
	if err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	b, err := d.buf("Download", "src", src, dt, 0)
	if err != nil {
		return err
	}
	if err := kernels.CheckDownload(dst, src); err != nil { // a longer dst is an error, not a short copy
		return fmt.Errorf("cuda: %w", err)
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if n == 0 {
		return d.Sync()
	}
	st := d.cu.cuMemcpyDtoHAsync(p, b.ptr, uint64(n*dt.Size()), d.stream)
	if st != 0 {
		return d.cu.err("cuMemcpyDtoHAsync_v2", st)
	}
	st = d.cu.cuStreamSynchronize(d.stream)
	runtime.KeepAlive(dst)
	if err := d.cu.err("cuStreamSynchronize", st); err != nil {
		return err
	}
	return d.checkRange()
}

// Sync waits for all queued work and reports a deferred error (a kernel's
// illegal address, for example).
func (d *Device) Sync() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if err := d.cu.err("cuStreamSynchronize", d.cu.cuStreamSynchronize(d.stream)); err != nil {
		return err
	}
	return d.checkRange()
}

// buf checks that b is a buffer of this device of type dt with at least n
// elements. It allocates only when it returns an error.
func (d *Device) buf(op, name string, b kernels.Buffer, dt kernels.DType, n int) (*buffer, error) {
	bb, ok := b.(*buffer)
	if !ok || bb == nil {
		return nil, fmt.Errorf("cuda: %s: %s is %T, not a buffer of a CUDA device", op, name, b)
	}
	if bb.dev != d {
		return nil, fmt.Errorf("cuda: %s: %s belongs to another device", op, name)
	}
	if bb.dt != dt {
		return nil, fmt.Errorf("cuda: %s: %s is %v, want %v", op, name, bb.dt, dt)
	}
	if bb.n < n {
		return nil, fmt.Errorf("cuda: %s: %s has %d elements, need %d", op, name, bb.n, n)
	}
	if bb.freed {
		return nil, fmt.Errorf("cuda: %s: %s was freed", op, name)
	}
	return bb, nil
}

func (d *Device) f32(op, name string, b kernels.Buffer, n int) (*buffer, error) {
	return d.buf(op, name, b, kernels.F32, n)
}

// isNil says whether an optional buffer argument was left out.
func isNil(b kernels.Buffer) bool {
	if b == nil {
		return true
	}
	bb, ok := b.(*buffer)
	return ok && bb == nil
}

// Fill sets the first x.Len() elements of the F32 buffer x to v
// (cuMemsetD32Async with v's bits).
func (d *Device) Fill(x kernels.Buffer, v float32) error {
	b, err := d.f32("Fill", "x", x, 0)
	if err != nil {
		return err
	}
	if b.n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	a := &d.args
	// CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
	a[0], a[1], a[2], a[3] = uintptr(b.ptr), uintptr(math.Float32bits(v)), uintptr(b.n), d.stream
	r, _, _ := purego.SyscallN(d.cu.rawMemsetD32Async, a[:4]...)
	d.launches++
	if st := int32(r); st != 0 {
		return d.cu.err("cuMemsetD32Async", st)
	}
	return nil
}

// Copy copies src into dst (same type and length), on the stream.
func (d *Device) Copy(dst, src kernels.Buffer) error {
	s, ok := src.(*buffer)
	if !ok || s == nil {
		return fmt.Errorf("cuda: Copy: src is %T, not a buffer of a CUDA device", src)
	}
	if _, err := d.buf("Copy", "src", src, s.dt, 0); err != nil {
		return err
	}
	t, err := d.buf("Copy", "dst", dst, s.dt, s.n)
	if err != nil {
		return err
	}
	if t.n != s.n {
		return fmt.Errorf("cuda: Copy: dst has %d elements, src %d", t.n, s.n)
	}
	if s.n == 0 || s.ptr == t.ptr {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	// CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
	return d.copyDtoD(t.ptr, s.ptr, s.n*s.dt.Size())
}

// grid is the number of blocks for n elements (grid-stride kernels accept
// any count; more than maxBlocks only adds scheduling).
func (d *Device) grid(n int) int {
	if n <= 0 {
		return 0
	}
	return max(1, min(ceilDiv(n, blockSize), d.maxBlocks))
}
