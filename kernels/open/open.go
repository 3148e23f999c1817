// Package open opens the compute device a run asks for: the GPU when the
// CUDA libraries load and a device exists, otherwise the CPU, saying why.
//
// Built with the nocuda tag (`make build-static`), the package leaves
// kernels/cuda, and with it purego and every dynamic-loader need, out of
// the binary: --device auto then runs on the CPU and --device cuda says the
// binary was built without CUDA.
package open

import (
	"fmt"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

// Device returns the device for want: "cuda" (an error when the GPU path is
// not available), "cpu", or "auto" (the GPU when usable, else the CPU with
// a one-line note saying why). gpu picks a device among the visible ones;
// threads sizes the CPU device (0: all cores).
func Device(want string, gpu, threads int) (dev kernels.Device, note string, err error) {
	switch want {
	case "cpu":
		return cpu.New(threads), "", nil
	case "cuda", "auto":
		d, brief, err := openGPU(gpu)
		if err == nil {
			return d, "", nil
		}
		if want == "cuda" {
			return nil, "", &gpuError{msg: "--device cuda: " + brief + " (mnistgpu devices for details, or --device cpu)", err: err}
		}
		return cpu.New(threads), "no GPU: " + brief + " (mnistgpu devices for details); running on cpu", nil
	}
	return nil, "", fmt.Errorf("--device %s: want auto, cpu or cuda", want)
}

// gpuError is a short message for a GPU that could not be opened; the full
// error stays reachable with errors.Unwrap.
type gpuError struct {
	msg string
	err error
}

func (e *gpuError) Error() string { return e.msg }
func (e *gpuError) Unwrap() error { return e.err }

// Status is what the GPU probe found.
type Status struct {
	// GPUs are the visible GPUs, e.g. "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
	GPUs []string
	// Problem is why the GPU path is not available; "" when it is.
	Problem string
	report  string
}

// OK says whether the GPU path is available.
func (s Status) OK() bool { return s.Problem == "" }

// String is the full report `mnistgpu devices` prints: the libraries
// loaded and their versions, the GPUs, or exactly what failed.
func (s Status) String() string { return s.report }
