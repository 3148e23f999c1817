package runs

import (
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

func TestKernelPath(t *testing.T) {
	d := cpu.New(1)
	defer d.Close()
	if got, want := KernelPath(d), cpu.KernelPath(); got != want || got == "" {
		t.Fatalf("KernelPath(cpu device) = %q, want %q", got, want)
	}
	var other kernels.Device = struct{ kernels.Device }{d} // hides the method, as a GPU device lacks it
	if got := KernelPath(other); got != "" {
		t.Fatalf("KernelPath of a device without kernel paths = %q, want empty", got)
	}
}
