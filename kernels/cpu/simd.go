package cpu

// The vector fast path. Each architecture with vector kernels has a
// simd_ARCH.go (build tag !noasm) that sets useAsm at start-up from the CPU's
// features and supplies gemmMicro and the elementwise vector loops; builds
// with -tags noasm, other architectures and CPUs without the features use
// the pure-Go loops, which also serve as the reference in tests.
//
// Guarantee per path: on the same path with the same inputs, every op gives
// the same bits whatever the thread count. Across paths results agree within
// a relative tolerance (FMA rounds once where the Go loops round twice).

// Kernel paths reported by KernelPath.
const (
	PathAVX2FMA = "avx2-fma" // amd64 with AVX2 and FMA
	PathNEON    = "neon"     // arm64 (Advanced SIMD is part of the base architecture)
	PathNoasm   = "noasm"    // built with -tags noasm: pure Go everywhere
	PathGo      = "go"       // pure Go: no vector kernels for this CPU or architecture
)

// KernelPath names the inner loops this build runs on this CPU: "avx2-fma",
// "neon", "noasm" or "go". Run folders and benchmarks record it, since
// results depend on it (within tolerance).
func KernelPath() string {
	if useAsm {
		return asmPath
	}
	return fallbackPath
}

// KernelPath is the package's KernelPath, as a method so that code holding
// a kernels.Device can ask for it without importing this package.
func (d *Device) KernelPath() string { return KernelPath() }

const (
	// packNR is the columns of the vector GEMM's register tile on every
	// architecture; gemmMicroMR (per architecture) is its rows.
	packNR = 16
	// packKC is the most depth of a packed k-block of the vector GEMM.
	packKC = 256
	// vecBlock is the granule (elements) in which elementwise vector ops
	// split their work among threads: a multiple of every vector width.
	vecBlock = 16
)
