package cpu

import (
	"testing"

	"mnistgpu/kernels/kernelstest"
)

// TestContract runs the device contract's conformance suite on the CPU
// device (kernels/cuda runs the same suite on the GPU).
func TestContract(t *testing.T) {
	d := New(2)
	defer d.Close()
	kernelstest.Run(t, d)
}
