package cuda

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFakeGPU runs the GPU tests of this package (TestGPU*) without a GPU:
// it builds CPU stand-ins for libcuda.so.1, libcublas.so.13, libcudnn.so.9
// and libnvrtc.so.13 from testdata/fakecuda with the system's C++ compiler
// (the fake libcuda runs this package's .cu kernels, compiled as C++, on
// emulated thread blocks), then re-runs the test binary with
// MNISTGPU_CUDA_LIB_PATH pointing at them. That exercises everything on the
// Go side (discovery, purego bindings and argument orders as the fakes
// declare them, launch argument blocks, descriptors, workspaces, the
// no-allocation property) and the kernels' logic, against kernels/cpu.
// It does not replace a run on a GPU: the fakes encode this package's
// reading of the NVIDIA headers, and the emulation runs one thread at a
// time. It skips when there is no g++ or on a non-Linux system, and fails
// there instead when CI=1 or MNISTGPU_REQUIRE_FAKE_GPU=1 (as .ci/run sets),
// so that CI cannot pass without running any CUDA code.
// MNISTGPU_FAKE_RUN selects the tests to run (default ^TestGPU), and
// MNISTGPU_FAKE_KEEP=DIR builds the libraries into DIR/lib and keeps them.
func TestFakeGPU(t *testing.T) {
	if os.Getenv("MNISTGPU_FAKE_GPU") != "" {
		t.Skip("already inside the fake-GPU run")
	}
	if runtime.GOOS != "linux" {
		skipUnlessRequired(t, "the fake CUDA libraries are built for Linux")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	cxx, err := exec.LookPath("g++")
	if err != nil {
		skipUnlessRequired(t, "no g++ to build the fake CUDA libraries")
	}
	dir := t.TempDir()
	if keep := os.Getenv("MNISTGPU_FAKE_KEEP"); keep != "" {
		// Keep the fake libraries, e.g. to run the CLI on them:
		// MNISTGPU_CUDA_LIB_PATH=$keep/lib mnistgpu train mlp --device cuda ...
		dir = keep
	}
	lib := filepath.Join(dir, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("testdata/fakecuda")
	if err != nil {
		t.Fatal(err)
	}
	// The NVRTC program as the device compiles it, and the kernel table.
	if err := os.WriteFile(filepath.Join(dir, "kernels_all.inc"), []byte(kernelSource()), 0o644); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	for _, k := range kernelSpecs {
		fmt.Fprintf(&table, "K(%s)\n", k.name)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel_table.inc"), []byte(table.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := []struct{ src, out string }{
		{"fake_cuda.cpp", "libcuda.so.1"},
		{"fake_cublas.cpp", "libcublas.so.13"},
		{"fake_cudnn.cpp", "libcudnn.so.9"},
		{"fake_nvrtc.cpp", "libnvrtc.so.13"},
		{"stub.cpp", "libcublasLt.so.13"},
		{"stub.cpp", "libcudnn_graph.so.9"},
		{"stub.cpp", "libcudnn_ops.so.9"},
		{"stub.cpp", "libcudnn_cnn.so.9"},
		{"stub.cpp", "libnvrtc-builtins.so.13.0"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(builds))
	for i, b := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(cxx, "-std=c++17", "-O1", "-g", "-fPIC", "-shared", "-Wall", "-Wno-unused-parameter",
				"-I", dir, "-I", src, "-Wl,-soname,"+b.out, "-o", filepath.Join(lib, b.out), filepath.Join(src, b.src), "-ldl")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s: %v\n%s", b.src, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("building the fake CUDA libraries: %v", err)
		}
	}

	run := os.Getenv("MNISTGPU_FAKE_RUN")
	if run == "" {
		run = "^TestGPU"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The cross-device checkpoint test trains on real MNIST: minutes on the
	// emulation, so it runs on real GPUs only.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", run, "-test.skip", "^TestGPUCheckpointCrossDevice$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		LibPathEnv+"="+lib,
		"MNISTGPU_FAKE_GPU=1",
		"MNISTGPU_REQUIRE_GPU=1",
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
	)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("GPU tests on the fake CUDA libraries failed: %v\n%s", err, text)
	}
	if !strings.Contains(text, "--- PASS: TestGPU") || strings.Contains(text, "--- SKIP: TestGPU") {
		t.Fatalf("GPU tests did not run on the fake libraries:\n%s", text)
	}
	if testing.Verbose() {
		t.Logf("GPU tests on the fake CUDA libraries:\n%s", text)
	}
}

// requireFakeGPU reports whether the environment asks for the fake-GPU run
// to fail rather than skip when it cannot be built: CI=1 or
// MNISTGPU_REQUIRE_FAKE_GPU=1.
func requireFakeGPU() bool {
	return os.Getenv("CI") == "1" || os.Getenv("MNISTGPU_REQUIRE_FAKE_GPU") == "1"
}

// skipUnlessRequired skips the test with why, or fails it when the
// environment requires the fake-GPU run.
func skipUnlessRequired(t *testing.T, why string) {
	t.Helper()
	if requireFakeGPU() {
		t.Fatalf("%s, and CI=1 or MNISTGPU_REQUIRE_FAKE_GPU=1 requires the fake-GPU run (install g++)", why)
	}
	t.Skip(why)
}
