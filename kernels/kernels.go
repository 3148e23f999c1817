// Package kernels defines the compute-device interface that mnistgpu's models
// are written against once, and that kernels/cpu (pure Go) and kernels/cuda
// (NVIDIA GPUs through cuBLAS, cuDNN and NVRTC) implement.
//
// The interface is shaped like llm.c: every layer has an explicit forward and
// backward op, parameters and gradients live in flat buffers that layers see
// through views, and nothing in a training step allocates, copies to or from
// the host, or waits for the device. Host transfers (Upload, Download) and
// Sync are for set-up and for the end of an epoch.
//
// Conventions: tensors are float32, NCHW, row-major. Every op that produces a
// gradient overwrites its output (there is no accumulation into gradients), so
// nothing needs zeroing between steps. Ops take the batch size n at call time:
// a device may cache per-n descriptors, of which a run has at most a few
// (the batch size and the last, partial batch).
package kernels

import "fmt"

// DType is the element type of a Buffer.
type DType int

const (
	// F32 is float32: activations, parameters, gradients.
	F32 DType = iota
	// U8 is uint8: the resident data set's pixels and labels.
	U8
	// I32 is int32: labels of a batch, permutation indices.
	I32
)

// String returns the type's name.
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case U8:
		return "u8"
	case I32:
		return "i32"
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// Size is the number of bytes one element takes.
func (d DType) Size() int {
	if d == U8 {
		return 1
	}
	return 4
}

// Buffer is memory owned by a Device: a whole allocation or a view into one.
// Buffers of one device must not be passed to another.
type Buffer interface {
	// DType is the element type.
	DType() DType
	// Len is the number of elements.
	Len() int
}

// Activation selects an elementwise nonlinearity.
type Activation int

const (
	// ReLU is max(0, x).
	ReLU Activation = iota
	// Sigmoid is 1 / (1 + exp(-x)).
	Sigmoid
	// Tanh is the hyperbolic tangent.
	Tanh
	// Identity passes x through unchanged.
	Identity
)

// String returns the flag spelling of the activation.
func (a Activation) String() string {
	switch a {
	case ReLU:
		return "relu"
	case Sigmoid:
		return "sigmoid"
	case Tanh:
		return "tanh"
	case Identity:
		return "identity"
	}
	return fmt.Sprintf("activation(%d)", int(a))
}

// Loss selects a loss function computed from logits.
type Loss int

const (
	// CrossEntropy is softmax cross-entropy on logits: -log softmax(z)[y].
	CrossEntropy Loss = iota
	// NLL is the negative log-likelihood of log_softmax(z). On logits it is
	// the same function as CrossEntropy; it is computed as log-softmax
	// followed by picking -logp[y], as PyTorch's NLLLoss after LogSoftmax.
	NLL
	// MSE is the mean squared error between softmax(z) and the one-hot
	// label, averaged over all n·classes elements as PyTorch's MSELoss; the
	// per-sample loss added to a sum is Σ_c (p_c - onehot_c)² / classes.
	MSE
)

// String returns the flag spelling of the loss.
func (l Loss) String() string {
	switch l {
	case CrossEntropy:
		return "ce"
	case NLL:
		return "nll"
	case MSE:
		return "mse"
	}
	return fmt.Sprintf("loss(%d)", int(l))
}

// ConvShape describes a 2-D convolution with stride 1 and "same" zero
// padding (pad = (K-1)/2, K odd), so the output is H×W like the input.
type ConvShape struct {
	C, H, W int // input channels, height, width
	K       int // kernel size (odd)
	OutC    int // output channels
}

// Conv2D is a convolution planned once for a shape. Weights are
// [OutC, C, K, K]; x is [n, C, H, W]; y is [n, OutC, H, W]. Bias is added
// separately with AddBias.
type Conv2D interface {
	// Forward computes y = conv(x, w).
	Forward(n int, x, w, y Buffer) error
	// BackwardData computes dx = conv_transpose(dy, w).
	BackwardData(n int, dy, w, dx Buffer) error
	// BackwardFilter computes dw = correlation of x with dy, summed over the batch.
	BackwardFilter(n int, x, dy, dw Buffer) error
}

// BatchNorm is a spatial batch normalisation over C channels of H·W values,
// planned once. Statistics are per channel over n·H·W values; running
// averages follow PyTorch: running = (1-momentum)·running + momentum·batch,
// with the unbiased batch variance for running_var.
type BatchNorm interface {
	// ForwardTrain normalises x with the batch statistics, writes y, updates
	// runMean and runVar, and saves the batch mean and inverse standard
	// deviation (1/sqrt(var+eps), biased var) for Backward.
	ForwardTrain(n int, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Buffer) error
	// ForwardInfer normalises x with the running averages.
	ForwardInfer(n int, x, gamma, beta, runMean, runVar, y Buffer) error
	// Backward computes dx, dgamma and dbeta from the saved statistics.
	Backward(n int, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Buffer) error
}

// MaxPool is a 2×2 max-pool with stride 2 over [n, C, H, W] (H and W even
// or not: a trailing odd row or column is dropped, as PyTorch does).
type MaxPool interface {
	// Forward writes y [n, C, H/2, W/2].
	Forward(n int, x, y Buffer) error
	// Backward routes dy to the arg-max of each window in dx (ties go to the
	// first element in row-major order) and zeroes the rest of dx.
	Backward(n int, x, y, dy, dx Buffer) error
}

// Device is a compute device: memory, transfers and the ops of mnistgpu's
// layers, losses and optimizers. Ops are issued in order; a device may run
// them asynchronously, and Download and Sync wait for all earlier work.
type Device interface {
	// Name describes the device, e.g. "cpu (2 threads)" or "cuda:0 NVIDIA H100".
	Name() string
	// Close releases everything the device holds.
	Close() error

	// Alloc returns a zeroed buffer of n elements.
	Alloc(dt DType, n int) (Buffer, error)
	// Free releases a buffer returned by Alloc (not a view).
	Free(b Buffer)
	// View returns the elements [off, off+n) of b, sharing its memory.
	View(b Buffer, off, n int) Buffer
	// Upload copies src ([]float32, []uint8 or []int32 matching dst's type)
	// into dst; len(src) may be less than dst.Len().
	Upload(dst Buffer, src any) error
	// Download copies src into dst ([]float32, []uint8 or []int32), waiting
	// for earlier work; len(dst) may be less than src.Len().
	Download(dst any, src Buffer) error
	// Sync waits until all issued work is done and reports a deferred error.
	Sync() error

	// Fill sets every element of the F32 buffer x to v.
	Fill(x Buffer, v float32) error
	// Copy copies src into dst (same type and length).
	Copy(dst, src Buffer) error

	// GatherImages writes dst[i*d+j] = (data[idx[i]*d+j]/255 - mean)/std for
	// i < n, j < d: a normalised batch gathered from the uint8 data set by
	// the int32 permutation slice idx.
	GatherImages(n, d int, data, idx, dst Buffer, mean, std float32) error
	// GatherLabels writes dst[i] = int32(labels[idx[i]]) for i < n.
	GatherLabels(n int, labels, idx, dst Buffer) error

	// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
	// op(A) m×k, op(B) k×n, C m×n; transA and transB select transposes.
	Gemm(transA, transB bool, m, n, k int, alpha float32, a, b Buffer, beta float32, c Buffer) error
	// AddBias adds bias[c] to y[i, c, s] for y of shape [n, ch, spatial].
	AddBias(n, ch, spatial int, y, bias Buffer) error
	// BiasGrad writes dbias[c] = Σ_{i,s} dy[i, c, s].
	BiasGrad(n, ch, spatial int, dy, dbias Buffer) error

	// NewConv2D plans a convolution for batches of up to maxN.
	NewConv2D(s ConvShape, maxN int) (Conv2D, error)
	// NewBatchNorm plans batch normalisation over ch channels of spatial values.
	NewBatchNorm(ch, spatial, maxN int, eps, momentum float32) (BatchNorm, error)
	// NewMaxPool plans a 2×2 stride-2 max-pool over [n, ch, h, w].
	NewMaxPool(ch, h, w, maxN int) (MaxPool, error)

	// ActForward writes y = f(x) elementwise for the first count elements.
	ActForward(act Activation, count int, x, y Buffer) error
	// ActBackward writes dx = dy·f'(x), with f' expressed through y = f(x).
	ActBackward(act Activation, count int, x, y, dy, dx Buffer) error

	// DropoutForward draws a keep mask with probability 1-p from a
	// counter-based generator keyed by (seed, step), writes
	// mask = keep/(1-p) and y = x·mask (inverted dropout).
	DropoutForward(count int, p float32, seed, step uint64, x, mask, y Buffer) error
	// Mul writes z = x·y elementwise (dropout's backward: dx = dy·mask).
	Mul(count int, x, y, z Buffer) error

	// LossForward computes the loss of logits [n, classes] against int32
	// labels: it adds the summed (not averaged) loss to lossSum[0] and the
	// number of rows whose arg-max equals the label to correct[0] (F32
	// accumulators that stay on the device), and, when dlogits is not nil,
	// writes the gradient of the batch-mean loss with respect to the logits.
	LossForward(loss Loss, n, classes int, logits, labels, dlogits, lossSum, correct Buffer) error
	// Softmax writes the row-wise softmax of x [n, classes] into y.
	Softmax(n, classes int, x, y Buffer) error

	// SGD updates params with momentum and L2 weight decay as PyTorch does:
	// g = grad + wd·p; v = momentum·v + g; p -= lr·v (v unused when
	// momentum is 0).
	SGD(count int, lr, momentum, wd float32, params, grads, vel Buffer) error
	// Adam updates params as PyTorch's Adam (L2 weight decay added to the
	// gradient); step is the 1-based step number for bias correction.
	Adam(count int, lr, beta1, beta2, eps, wd float32, step int, params, grads, m, v Buffer) error

	StepOps
}

// Counter is implemented by devices that can report the number of bytes
// they have allocated, for tests that check a step allocates nothing.
type Counter interface {
	// Allocated is the number of bytes currently held by Alloc'd buffers.
	Allocated() int64
}
