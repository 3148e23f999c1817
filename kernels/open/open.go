// Package open opens the compute device a run asks for: the GPU when the
// CUDA libraries load and a device exists, otherwise the CPU, saying why.
package open

import (
	"fmt"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/kernels/cuda"
)

// Device returns the device for want: "cuda" (an error when the GPU path is
// not available), "cpu", or "auto" (the GPU when usable, else the CPU with
// a note saying why). gpu picks a device among the visible ones; threads
// sizes the CPU device (0: all cores).
func Device(want string, gpu, threads int) (dev kernels.Device, note string, err error) {
	switch want {
	case "cpu":
		return cpu.New(threads), "", nil
	case "cuda", "auto":
		d, err := cuda.Open(gpu, cuda.Options{})
		if err == nil {
			return d, "", nil
		}
		if want == "cuda" {
			return nil, "", fmt.Errorf("--device cuda: %w (run `mnistgpu devices` for details, or use --device cpu)", err)
		}
		c := cpu.New(threads)
		return c, fmt.Sprintf("no GPU used: %v; running on %s", err, c.Name()), nil
	}
	return nil, "", fmt.Errorf("--device %s: want auto, cpu or cuda", want)
}
