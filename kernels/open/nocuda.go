//go:build nocuda

package open

import (
	"errors"

	"mnistgpu/kernels"
)

// noCUDA is the reason a nocuda build gives for not using a GPU.
const noCUDA = "this binary is built without CUDA"

// openGPU fails: this binary has no GPU path.
func openGPU(int) (kernels.Device, string, error) {
	return nil, noCUDA, errors.New(noCUDA)
}

// Probe says that this binary has no GPU path.
func Probe() Status {
	return Status{Problem: noCUDA,
		report: "CUDA: none: " + noCUDA + " (-tags nocuda, a static CPU-only build); --device auto runs on the CPU\n"}
}
