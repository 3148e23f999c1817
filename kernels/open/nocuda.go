//go:build nocuda

package open

import (
	"errors"

	"mnistgpu/kernels"
)

// noCUDA is the reason a nocuda build gives for not using a GPU.
const noCUDA = "built without CUDA (nocuda build tag)"

// openGPU fails: this binary has no GPU path.
func openGPU(int) (kernels.Device, string, error) {
	return nil, noCUDA, errors.New(noCUDA)
}

// Probe says that this binary has no GPU path.
func Probe() Status {
	return Status{Problem: noCUDA,
		report: "CUDA: not in this binary: " + noCUDA + ", a static CPU-only build; --device auto runs on the CPU\n"}
}
