package cuda_test

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"sync"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/kernels/cuda"
)

// The GPU tests share one device per option set (opening one compiles the
// kernels and creates cuBLAS and cuDNN handles). They skip with "no GPU:
// <why>" when Open fails, unless MNISTGPU_REQUIRE_GPU is set (the GPU check
// script and the fake-GPU test set it), in which case they fail.

var gpus struct {
	sync.Mutex
	devs map[optKey]*opened
}

// optKey is the part of cuda.Options the tests vary.
type optKey struct{ tf32, cudnnBN bool }

type opened struct {
	dev *cuda.Device
	err error
}

func TestMain(m *testing.M) {
	code := m.Run()
	gpus.Lock()
	for _, o := range gpus.devs {
		if o.dev != nil {
			o.dev.Close()
		}
	}
	gpus.Unlock()
	os.Exit(code)
}

// fakeGPU says whether the tests run on the CPU emulation of fake_test.go.
func fakeGPU() bool { return os.Getenv("MNISTGPU_FAKE_GPU") != "" }

// gpuWith opens (once) the GPU device with opts, or skips.
func gpuWith(t testing.TB, opts cuda.Options) *cuda.Device {
	t.Helper()
	gpus.Lock()
	defer gpus.Unlock()
	if gpus.devs == nil {
		gpus.devs = map[optKey]*opened{}
	}
	key := optKey{opts.TF32, opts.CuDNNBatchNorm}
	o := gpus.devs[key]
	if o == nil {
		o = &opened{}
		opts.NoKernelCache = fakeGPU()
		if os.Getenv("MNISTGPU_CUDA_VERBOSE") != "" {
			opts.Verbose = os.Stderr
		}
		o.dev, o.err = cuda.Open(0, opts)
		gpus.devs[key] = o
		if o.err == nil {
			t.Logf("opened %s (TF32 %v, cuDNN batch norm %v)", o.dev.Name(), opts.TF32, opts.CuDNNBatchNorm)
		}
	}
	if o.err != nil {
		if os.Getenv("MNISTGPU_REQUIRE_GPU") != "" {
			t.Fatalf("GPU required (MNISTGPU_REQUIRE_GPU is set): %v", o.err)
		}
		t.Skipf("no GPU: %v", o.err)
	}
	return o.dev
}

// gpu is the device with the default options (TF32 off).
func gpu(t testing.TB) *cuda.Device { return gpuWith(t, cuda.Options{}) }

var cpuDev = sync.OnceValue(func() *cpu.Device { return cpu.New(2) })

// env holds a GPU and the CPU reference and frees what a test allocates.
type env struct {
	t    *testing.T
	g, c kernels.Device
	rng  *rand.Rand
}

func newEnv(t *testing.T, g kernels.Device) *env {
	t.Helper()
	return &env{t: t, g: g, c: cpuDev(), rng: rand.New(rand.NewSource(int64(len(t.Name()))*7919 + 1))}
}

// pair is the same tensor on the GPU and on the CPU.
type pair struct{ g, c kernels.Buffer }

func (e *env) alloc(d kernels.Device, dt kernels.DType, n int) kernels.Buffer {
	e.t.Helper()
	b, err := d.Alloc(dt, n)
	if err != nil {
		e.t.Fatalf("%s: Alloc(%v, %d): %v", d.Name(), dt, n, err)
	}
	e.t.Cleanup(func() { d.Free(b) })
	return b
}

// f32 uploads v to both devices.
func (e *env) f32(v []float32) pair {
	e.t.Helper()
	p := pair{e.alloc(e.g, kernels.F32, len(v)), e.alloc(e.c, kernels.F32, len(v))}
	e.upload(p, v)
	return p
}

func (e *env) upload(p pair, v any) {
	e.t.Helper()
	if err := e.g.Upload(p.g, v); err != nil {
		e.t.Fatalf("GPU Upload: %v", err)
	}
	if err := e.c.Upload(p.c, v); err != nil {
		e.t.Fatalf("CPU Upload: %v", err)
	}
}

func (e *env) i32(v []int32) pair {
	e.t.Helper()
	p := pair{e.alloc(e.g, kernels.I32, len(v)), e.alloc(e.c, kernels.I32, len(v))}
	e.upload(p, v)
	return p
}

func (e *env) u8(v []uint8) pair {
	e.t.Helper()
	p := pair{e.alloc(e.g, kernels.U8, len(v)), e.alloc(e.c, kernels.U8, len(v))}
	e.upload(p, v)
	return p
}

// zeros allocates n float32 zeros on both (outputs).
func (e *env) zeros(n int) pair {
	e.t.Helper()
	return pair{e.alloc(e.g, kernels.F32, n), e.alloc(e.c, kernels.F32, n)}
}

// garbage allocates outputs pre-filled with a NaN-free pattern, so an op
// that forgets to write an element shows.
func (e *env) garbage(n int) pair {
	e.t.Helper()
	v := make([]float32, n)
	for i := range v {
		v[i] = 12345.5
	}
	return e.f32(v)
}

func (e *env) randn(n int, scale, offset float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.NormFloat64())*scale + offset
	}
	return v
}

// run calls the op on both devices and fails on an error from either.
func (e *env) run(name string, f func(d kernels.Device, pick func(pair) kernels.Buffer) error) {
	e.t.Helper()
	if err := f(e.g, func(p pair) kernels.Buffer { return p.g }); err != nil {
		e.t.Fatalf("%s on the GPU: %v", name, err)
	}
	if err := f(e.c, func(p pair) kernels.Buffer { return p.c }); err != nil {
		e.t.Fatalf("%s on the CPU: %v", name, err)
	}
}

func (e *env) download(d kernels.Device, b kernels.Buffer) []float32 {
	e.t.Helper()
	v := make([]float32, b.Len())
	if err := d.Download(v, b); err != nil {
		e.t.Fatalf("%s: Download: %v", d.Name(), err)
	}
	return v
}

// close compares the GPU and CPU values of p (first n elements; n < 0:
// all) with the norm-wise relative error ||g-c||/||c|| <= tol and the
// element-wise |g-c| <= tol*max|c| + 1e-6.
func (e *env) close(name string, p pair, n int, tol float64) {
	e.t.Helper()
	g, c := e.download(e.g, p.g), e.download(e.c, p.c)
	if n >= 0 {
		g, c = g[:n], c[:n]
	}
	if msg := compare(g, c, tol); msg != "" {
		e.t.Errorf("%s: %s", name, msg)
	}
}

// compare is close's verdict ("" when g and c agree). A NaN on either side
// is a failure, even where both sides have one: a test that expects NaN
// uses compareNaN.
func compare(g, c []float32, tol float64) string {
	return compareNaN(g, c, tol, false)
}

// compareNaN is compare, except that with nanOK a position where both sides
// are NaN counts as agreeing (for a test that expects NaN there).
func compareNaN(g, c []float32, tol float64, nanOK bool) string {
	if len(g) != len(c) {
		return fmt.Sprintf("lengths %d and %d", len(g), len(c))
	}
	var num, den, maxAbs, maxRef float64
	worst := -1
	for i := range g {
		gn, cn := math.IsNaN(float64(g[i])), math.IsNaN(float64(c[i]))
		if gn || cn {
			if gn != cn || !nanOK {
				return fmt.Sprintf("element %d: GPU %v, CPU %v", i, g[i], c[i])
			}
			continue
		}
		d := float64(g[i]) - float64(c[i])
		num += d * d
		den += float64(c[i]) * float64(c[i])
		if math.IsNaN(d) { // Inf on both sides
			return fmt.Sprintf("element %d: GPU %v, CPU %v", i, g[i], c[i])
		}
		if math.Abs(d) > maxAbs {
			maxAbs, worst = math.Abs(d), i
		}
		maxRef = math.Max(maxRef, math.Abs(float64(c[i])))
	}
	rel := math.Sqrt(num)
	if den > 0 {
		rel /= math.Sqrt(den)
	}
	if !(rel <= tol) || !(maxAbs <= tol*maxRef+1e-6) {
		return fmt.Sprintf("relative error %.3g, max |diff| %.3g at %d (GPU %v, CPU %v; max |CPU| %.3g), tolerance %.0e",
			rel, maxAbs, worst, g[worst], c[worst], maxRef, tol)
	}
	return ""
}

// exact compares bit for bit (NaN equal to NaN).
func (e *env) exact(name string, p pair) {
	e.t.Helper()
	g, c := e.download(e.g, p.g), e.download(e.c, p.c)
	for i := range g {
		if g[i] != c[i] && !(g[i] != g[i] && c[i] != c[i]) {
			e.t.Errorf("%s: element %d: GPU %v, CPU %v", name, i, g[i], c[i])
			return
		}
	}
}
