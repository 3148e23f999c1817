package runs

import "mnistgpu/kernels"

// KernelPath is the kernel path of a device that reports one (the CPU
// device: "avx2-fma", "neon", "noasm" or "go"), else "".
func KernelPath(dev kernels.Device) string {
	if k, ok := dev.(interface{ KernelPath() string }); ok {
		return k.KernelPath()
	}
	return ""
}
