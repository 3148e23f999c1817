package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// rtcAPI is libnvrtc.so.13 (or .12), nvrtc.h.
type rtcAPI struct {
	lib *dynlib

	// nvrtcResult nvrtcVersion(int *major, int *minor)
	version_ func(major, minor *int32) int32
	// const char *nvrtcGetErrorString(nvrtcResult result)
	errorString func(st int32) string
	// nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src,
	//   const char *name, int numHeaders, const char * const *headers,
	//   const char * const *includeNames)
	create func(p *uintptr, src, name string, numHeaders int32, headers, includeNames uintptr) int32
	// nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options)
	compile func(p uintptr, n int32, opts **byte) int32
	// nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet)
	logSize func(p uintptr, n *uint64) int32
	// nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log)
	log func(p uintptr, buf *byte) int32
	// nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet)
	cubinSize func(p uintptr, n *uint64) int32
	// nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin)
	cubin func(p uintptr, buf *byte) int32
	// nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet)
	ptxSize func(p uintptr, n *uint64) int32
	// nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx)
	ptx func(p uintptr, buf *byte) int32
	// nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog)
	destroy func(p *uintptr) int32
	// nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs); optional
	numArchs func(n *int32) int32
	// nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs); optional
	archs func(a *int32) int32
}

func bindNvrtc(l *dynlib) (*rtcAPI, error) {
	a := &rtcAPI{lib: l}
	for _, b := range []struct {
		f    any
		name string
	}{
		{&a.version_, "nvrtcVersion"},
		{&a.errorString, "nvrtcGetErrorString"},
		{&a.create, "nvrtcCreateProgram"},
		{&a.compile, "nvrtcCompileProgram"},
		{&a.logSize, "nvrtcGetProgramLogSize"},
		{&a.log, "nvrtcGetProgramLog"},
		{&a.cubinSize, "nvrtcGetCUBINSize"},
		{&a.cubin, "nvrtcGetCUBIN"},
		{&a.ptxSize, "nvrtcGetPTXSize"},
		{&a.ptx, "nvrtcGetPTX"},
		{&a.destroy, "nvrtcDestroyProgram"},
	} {
		if err := l.bind(b.f, b.name); err != nil {
			return nil, err
		}
	}
	if !l.bindOpt(&a.numArchs, "nvrtcGetNumSupportedArchs") || !l.bindOpt(&a.archs, "nvrtcGetSupportedArchs") {
		a.numArchs, a.archs = nil, nil
	}
	return a, nil
}

func (a *rtcAPI) err(fn string, st int32) error {
	if st == 0 {
		return nil
	}
	name := a.errorString(st)
	if name == "" {
		name = statusName(nvrtcResultNames, "NVRTC_ERROR", int(st))
	}
	return &Error{Func: fn, Code: int(st), Name: name}
}

func (a *rtcAPI) version() string {
	var major, minor int32
	if st := a.version_(&major, &minor); st != 0 {
		return "? (" + a.err("nvrtcVersion", st).Error() + ")"
	}
	return fmt.Sprintf("%d.%d", major, minor)
}

// supportedArchs lists the sm_XY numbers (XY) this NVRTC can build for.
func (a *rtcAPI) supportedArchs() []int {
	if a.numArchs == nil {
		return nil
	}
	var n int32
	if a.numArchs(&n) != 0 || n <= 0 || n > 1024 {
		return nil
	}
	out := make([]int32, n)
	if a.archs(&out[0]) != 0 {
		return nil
	}
	r := make([]int, n)
	for i, v := range out {
		r[i] = int(v)
	}
	return r
}

// program is a compiled module image: a CUBIN, or PTX for the driver to
// JIT when NVRTC does not know the GPU's architecture.
type program struct {
	image []byte // NUL-terminated when PTX
	kind  string // "cubin" or "ptx"
	arch  string
	log   string
}

// compileKernels compiles src for the compute capability cc (e.g. 90) with
// NVRTC. Options: the real architecture (a CUBIN), -default-device, and no
// --use_fast_math (IEEE division and square root, accurate expf/logf), so
// the kernels agree with the CPU device to rounding.
func (a *rtcAPI) compileKernels(src string, cc int) (*program, error) {
	arch := fmt.Sprintf("sm_%d", cc)
	kind := "cubin"
	if archs := a.supportedArchs(); len(archs) > 0 {
		if !slices.Contains(archs, cc) {
			// A GPU newer than this NVRTC: emit PTX for the newest
			// architecture it knows and let the driver JIT it.
			best := 0
			for _, v := range archs {
				if v <= cc && v > best {
					best = v
				}
			}
			if best == 0 {
				return nil, fmt.Errorf("NVRTC supports architectures %v, none usable for sm_%d", archs, cc)
			}
			arch, kind = fmt.Sprintf("compute_%d", best), "ptx"
		}
	}
	opts := []string{"--gpu-architecture=" + arch, "-default-device"}
	var prog uintptr
	if err := a.err("nvrtcCreateProgram", a.create(&prog, src, "mnistgpu_kernels.cu", 0, 0, 0)); err != nil {
		return nil, err
	}
	defer a.destroy(&prog)
	cOpts := make([][]byte, len(opts))
	ptrs := make([]*byte, len(opts))
	for i, o := range opts {
		cOpts[i] = cbytes(o)
		ptrs[i] = &cOpts[i][0]
	}
	st := a.compile(prog, int32(len(ptrs)), &ptrs[0])
	runtime.KeepAlive(cOpts)
	runtime.KeepAlive(ptrs)
	log := a.programLog(prog)
	if st != 0 {
		e := a.err("nvrtcCompileProgram", st).(*Error)
		e.Detail = fmt.Sprintf("options %s\n--- NVRTC log ---\n%s", strings.Join(opts, " "), log)
		return nil, e
	}
	p := &program{kind: kind, arch: arch, log: log}
	var n uint64
	if kind == "cubin" {
		if err := a.err("nvrtcGetCUBINSize", a.cubinSize(prog, &n)); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("nvrtcGetCUBINSize: empty CUBIN for %s", arch)
		}
		p.image = make([]byte, n)
		if err := a.err("nvrtcGetCUBIN", a.cubin(prog, &p.image[0])); err != nil {
			return nil, err
		}
		return p, nil
	}
	if err := a.err("nvrtcGetPTXSize", a.ptxSize(prog, &n)); err != nil {
		return nil, err
	}
	p.image = make([]byte, n+1)
	if err := a.err("nvrtcGetPTX", a.ptx(prog, &p.image[0])); err != nil {
		return nil, err
	}
	return p, nil
}

func (a *rtcAPI) programLog(prog uintptr) string {
	var n uint64
	if a.logSize(prog, &n) != 0 || n <= 1 {
		return ""
	}
	buf := make([]byte, n)
	if a.log(prog, &buf[0]) != 0 {
		return ""
	}
	return strings.TrimRight(cstring(&buf[0]), "\n")
}

// cacheKey identifies a compiled image: the source, the architecture and
// the driver and NVRTC versions.
func cacheKey(src string, cc, driverVersion int, nvrtcVersion string) string {
	h := sha256.New()
	fmt.Fprintf(h, "mnistgpu-kernels-v1\x00sm_%d\x00driver %d\x00nvrtc %s\x00", cc, driverVersion, nvrtcVersion)
	h.Write([]byte(src))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// cacheDir is where compiled images are kept; "" when there is none.
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil || d == "" {
		return ""
	}
	return filepath.Join(d, "mnistgpu")
}

// readCache returns a cached image or nil. Failures are not errors.
func readCache(key string) (image []byte, kind string) {
	dir := cacheDir()
	if dir == "" {
		return nil, ""
	}
	for _, k := range []string{"cubin", "ptx"} {
		if b, err := os.ReadFile(filepath.Join(dir, key+"."+k)); err == nil && len(b) > 0 {
			return b, k
		}
	}
	return nil, ""
}

// writeCache stores an image atomically; failures are ignored.
func writeCache(key string, p *program) {
	dir := cacheDir()
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, key+".tmp*")
	if err != nil {
		return
	}
	_, werr := f.Write(p.image)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, key+"."+p.kind)); err != nil {
		os.Remove(f.Name())
	}
}
