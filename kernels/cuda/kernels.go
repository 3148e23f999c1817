package cuda

import (
	"embed"
	"fmt"
	"math"
	"sort"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The CUDA C sources: common.cuh first, then one file per op.
//
//go:embed common.cuh *.cu
var cudaFS embed.FS

// kernelSource is the one NVRTC program: common.cuh and every *.cu file in
// name order, each preceded by a #line directive so NVRTC's log names the
// file and line.
func kernelSource() string {
	var b strings.Builder
	add := func(name string) {
		data, err := cudaFS.ReadFile(name)
		if err != nil {
			panic(err) // embedded at build time
		}
		fmt.Fprintf(&b, "#line 1 %q\n", name)
		b.Write(data)
		b.WriteString("\n")
	}
	add("common.cuh")
	entries, _ := cudaFS.ReadDir(".")
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cu") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		add(n)
	}
	return b.String()
}

// kernelID names a kernel of the launch table.
type kernelID int

const (
	kGatherImages kernelID = iota
	kGatherLabels
	kAddBias
	kBiasGrad
	kBNPartialStats
	kBNFinalizeStats
	kBNApply
	kBNInfer
	kBNPartialGrad
	kBNFinalizeGrad
	kBNDx
	kMaxPoolForward
	kMaxPoolBackward
	kLossForward
	kSoftmax
	kDropoutForward
	kSGD
	kAdam
	kActForward
	kActBackward
	kMul
	kGatherBatch
	kDropoutForwardAt
	kSGDAt
	kAdamAt
	kSetCounter
	kDenseForward
	kDenseBackward
	kDenseForwardGather
	kActMaxPoolForward
	kMaxPoolActBackward
	kBNActMaxPoolForward
	kConvBiasForward
	kConvBiasBackward
	kBNStatsActMaxPoolForward
	kPoolActBNPartialGrad
	kBNGradDx
	kConvBiasStatsForward
	kConvGatherStatsForward
	kDenseLoss
	kBNConvBackward
	kTSNEAttract
	kTSNERepulse
	kTSNEReduce
	kTSNEUpdate
	kTSNEKNN
	numKernels
)

// kernelSpecs is the launch table: each kernel's name in the .cu files and
// its parameter kinds, one letter per parameter: p pointer, i int, f float,
// u unsigned long long. TestKernelSignatures checks it against the sources.
var kernelSpecs = [numKernels]struct{ name, sig string }{
	kGatherImages:             {"gather_images", "pppiiiffp"},
	kGatherLabels:             {"gather_labels", "pppiip"},
	kAddBias:                  {"add_bias", "ppiii"},
	kBiasGrad:                 {"bias_grad", "ppiii"},
	kBNPartialStats:           {"bn_partial_stats", "ppiiii"},
	kBNFinalizeStats:          {"bn_finalize_stats", "pppppiiiiff"},
	kBNApply:                  {"bn_apply", "ppppppiii"},
	kBNInfer:                  {"bn_infer", "ppppppiiif"},
	kBNPartialGrad:            {"bn_partial_grad", "ppppiiii"},
	kBNFinalizeGrad:           {"bn_finalize_grad", "pppppiiii"},
	kBNDx:                     {"bn_dx", "pppppppiii"},
	kMaxPoolForward:           {"maxpool_forward", "ppiii"},
	kMaxPoolBackward:          {"maxpool_backward", "pppiii"},
	kLossForward:              {"loss_forward", "ipppppiip"},
	kSoftmax:                  {"softmax_rows", "ppii"},
	kDropoutForward:           {"dropout_forward", "pppiffu"},
	kSGD:                      {"sgd_step", "pppifff"},
	kAdam:                     {"adam_step", "ppppiffffff"},
	kActForward:               {"act_forward", "ippi"},
	kActBackward:              {"act_backward", "ipppi"},
	kMul:                      {"mul_elementwise", "pppi"},
	kGatherBatch:              {"gather_batch", "ppppppiiiffip"},
	kDropoutForwardAt:         {"dropout_forward_at", "ppppiffuu"},
	kSGDAt:                    {"sgd_step_at", "ppppiifff"},
	kAdamAt:                   {"adam_step_at", "pppppiifffff"},
	kSetCounter:               {"set_counter", "pii"},
	kDenseForward:             {"dense_forward", "pppppppiiiiffuu"},
	kDenseBackward:            {"dense_backward", "ppppppppiiii"},
	kDenseForwardGather:       {"dense_forward_gather", "pppppppppppiiiiiffffuuip"},
	kActMaxPoolForward:        {"act_maxpool_forward", "ipppiii"},
	kMaxPoolActBackward:       {"maxpool_act_backward", "ipppiii"},
	kBNActMaxPoolForward:      {"bn_act_maxpool_forward", "pppppppiiiii"},
	kConvBiasForward:          {"conv_bias_forward", "ppppiiiiii"},
	kConvBiasBackward:         {"conv_bias_backward", "ppppppiiiiii"},
	kBNStatsActMaxPoolForward: {"bn_stats_act_maxpool_forward", "ppppppppppiiiiiiff"},
	kPoolActBNPartialGrad:     {"pool_act_bn_partial_grad", "ippppppiiiii"},
	kBNGradDx:                 {"bn_grad_dx", "pppppppppiiii"},
	kConvBiasStatsForward:     {"conv_bias_stats_forward", "pppppiiiiiii"},
	kConvGatherStatsForward:   {"conv_gather_stats_forward", "ppppppppppiiiiiiiiffip"},
	kDenseLoss:                {"dense_loss", "ipppppppppppppiiiip"},
	kBNConvBackward:           {"bn_conv_backward", "pppppppppppppiiiiiii"},
	kTSNEAttract:              {"tsne_attract", "ppppppii"},
	kTSNERepulse:              {"tsne_repulse", "pppiii"},
	kTSNEReduce:               {"tsne_reduce", "pipipi"},
	kTSNEUpdate:               {"tsne_update", "pppppppiifff"},
	kTSNEKNN:                  {"tsne_knn", "piiipp"},
}

const (
	blockSize = 256 // BLOCK in common.cuh
	maxParams = 24
)

// kernel is a loaded function and its preallocated argument block:
// cuLaunchKernel reads kernelParams[i], a pointer to the i-th argument's
// value. Values live in vals (8 bytes each; a 4-byte int or float sits in
// the low half, which is where a little-endian read of 4 bytes finds it),
// ptrs[i] points at vals[i]. Both are in this heap object, which the
// Device keeps alive, and the driver copies the values during the call, so
// the block is reused by every launch: launching allocates nothing.
type kernel struct {
	name string
	sig  string
	fn   uintptr
	vals [maxParams]uint64
	ptrs [maxParams]uintptr
}

func newKernel(name, sig string, fn uintptr) *kernel {
	k := &kernel{name: name, sig: sig, fn: fn}
	for i := range k.ptrs {
		k.ptrs[i] = uintptr(unsafe.Pointer(&k.vals[i]))
	}
	return k
}

// Argument encodings for launch.
func argPtr(b *buffer) uint64 {
	if b == nil {
		return 0
	}
	return b.ptr
}
func argInt(v int) uint64     { return uint64(uint32(int32(v))) }
func argF32(v float32) uint64 { return uint64(math.Float32bits(v)) }
func ceilDiv(a, b int) int    { return (a + b - 1) / b }

// launch runs kernel id on grid blocks of blockSize threads on the device's
// stream. It allocates nothing: the argument values go to the kernel's
// block and the call's arguments to the Device's scratch array.
func (d *Device) launch(id kernelID, grid int, args ...uint64) error {
	k := d.kern[id]
	if len(args) != len(k.sig) {
		return fmt.Errorf("cuda: %s: %d arguments, want %d (%s)", k.name, len(args), len(k.sig), k.sig)
	}
	if grid <= 0 {
		return nil
	}
	copy(k.vals[:], args)
	a := &d.args
	a[0] = k.fn
	a[1], a[2], a[3] = uintptr(grid), 1, 1
	a[4], a[5], a[6] = blockSize, 1, 1
	a[7] = 0 // dynamic shared memory
	a[8] = d.stream
	a[9] = uintptr(unsafe.Pointer(&k.ptrs[0]))
	a[10] = 0 // extra
	// CUresult cuLaunchKernel(CUfunction f, unsigned gridDimX, gridDimY,
	//   gridDimZ, unsigned blockDimX, blockDimY, blockDimZ,
	//   unsigned sharedMemBytes, CUstream hStream, void **kernelParams,
	//   void **extra)
	r, _, _ := purego.SyscallN(d.cu.rawLaunchKernel, a[:11]...)
	d.launches++
	if st := int32(r); st != 0 {
		return d.cuErrDetail("cuLaunchKernel", st, k.name)
	}
	return nil
}
