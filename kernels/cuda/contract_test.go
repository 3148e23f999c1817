package cuda_test

import (
	"testing"

	"mnistgpu/kernels/kernelstest"
)

// TestGPUContract runs the device contract's conformance suite (the same
// good and bad calls as kernels/cpu's TestContract) on the GPU: on a real
// one, and on the fake CUDA libraries through TestFakeGPU.
func TestGPUContract(t *testing.T) { kernelstest.Run(t, gpu(t)) }
