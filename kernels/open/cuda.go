//go:build !nocuda

package open

import (
	"fmt"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cuda"
)

// openGPU opens GPU gpu, or says in a few words why not.
func openGPU(gpu int) (kernels.Device, string, error) {
	d, err := cuda.Open(gpu, cuda.Options{})
	if err != nil {
		return nil, cuda.Brief(err), err
	}
	return d, "", nil
}

// Probe looks for the CUDA libraries and GPUs (cuda.Probe).
func Probe() Status {
	r := cuda.Probe()
	s := Status{Problem: r.Problem, report: r.String()}
	for _, g := range r.GPUs {
		s.GPUs = append(s.GPUs, fmt.Sprintf("cuda:%d %s (%s)", g.Index, g.Name, g.Arch()))
	}
	return s
}
