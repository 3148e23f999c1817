// Package cuda is the NVIDIA GPU implementation of mnistgpu's compute device
// (kernels.Device). It loads the CUDA driver (libcuda.so.1), cuBLAS, cuDNN 9
// and NVRTC at run time with github.com/ebitengine/purego, so the program
// builds with CGO_ENABLED=0 on machines without CUDA and only needs the
// libraries where it runs.
//
// What runs where:
//
//   - Gemm: cublasSgemm_v2 (row-major C = op(A)·op(B) is computed as the
//     column-major C^T = op(B)^T·op(A)^T, operands swapped, no copies).
//   - Convolutions: cuDNN's legacy API (cudnnConvolutionForward,
//     BackwardData, BackwardFilter), algorithms chosen once per plan and
//     batch size, one workspace per plan.
//   - Everything else (gather, bias, batch norm, max-pool, activations,
//     dropout, losses, softmax, optimizers): CUDA C kernels in the *.cu files
//     of this package (one op per file, forward and backward together),
//     compiled once per process by NVRTC for the GPU's architecture and
//     cached on disk under os.UserCacheDir()/mnistgpu.
//
// Batch norm runs as CUDA C kernels by default (see batchnorm.cu: the
// running variance is the unbiased one, as PyTorch; the saved statistic is
// 1/sqrt(var+eps)); Options.CuDNNBatchNorm selects cuDNN's
// cudnnBatchNormalization* instead. The kernels are the default because
// cuDNN's batch-norm entry points take double arguments, which purego can
// only pass through its reflection-based call path (about twenty heap
// allocations per call), while every other op here is issued through a
// preallocated argument block and allocates nothing.
//
// Max-pool is CUDA C (maxpool.cu) rather than cuDNN pooling: the interface
// routes a tied gradient to the first maximum in row-major order, which the
// kernel guarantees and cuDNN does not document. Activations are CUDA C too:
// they are one line each, need no tensor descriptors, and can later be fused
// into the ops around them.
//
// Threading: a Device is not safe for concurrent use; issue its ops from one
// goroutine at a time (any goroutine: every entry point makes the device's
// context current on the calling OS thread with cuCtxSetCurrent, which is
// cheap). Ops are asynchronous on one non-blocking stream; only Upload,
// Download, Sync, Free and Close wait for it.
//
// CUDA graphs (graph.go): Capture records the work a function issues on the
// stream (cuStreamBeginCapture_v2 in relaxed mode, so other devices of the
// process are not disturbed) into a graph that Launch replays with one
// cuGraphLaunch. The training step captured this way reads what changes
// between steps from a device counter (kernels.StepOps, step.cu). The graph
// entry points are optional: a driver without them, or
// MNISTGPU_CUDA_GRAPHS=0, makes Capture fail and training issue each op.
// Launches counts kernels, library calls, memsets and copies issued.
//
// Library search (see Probe): MNISTGPU_CUDA_LIB_PATH (colon-separated
// folders searched first), LD_LIBRARY_PATH, the loader cache
// (/etc/ld.so.cache), /usr/local/cuda*/targets/<arch>/lib,
// /usr/local/cuda*/lib64, the system library folders, /usr/local/nvidia/lib64,
// Python environments' site-packages/nvidia/*/lib, and finally a plain dlopen
// by soname.
//
// Testing: the parity tests (TestGPU*) compare every op with kernels/cpu
// and skip with "no GPU: <reason>" when Open fails, or fail when
// MNISTGPU_REQUIRE_GPU is set (scripts/gpu-check.sh sets it);
// MNISTGPU_CUDA_VERBOSE=1 makes their devices log what they load and
// choose. Without a GPU, TestFakeGPU builds CPU stand-ins for the four
// libraries from testdata/fakecuda (the fake libcuda runs the .cu kernels,
// compiled as C++, on emulated thread blocks) and runs the same tests on
// them (the fakes record work issued under capture, library calls
// included, and replay it at each graph launch); MNISTGPU_FAKE_KEEP=DIR keeps the fakes in DIR/lib, for example to
// run `MNISTGPU_CUDA_LIB_PATH=DIR/lib mnistgpu train mlp --device cuda`.
package cuda
