package cuda_test

import (
	"testing"

	"mnistgpu/kernels"
)

// Benchmarks of the two library-backed ops at the seed's sizes (batch 64).
// They skip without a GPU. Each iteration queues the op; the loop ends with
// a Sync so the time is the GPU's.

func benchAlloc(b *testing.B, d kernels.Device, n int) kernels.Buffer {
	buf, err := d.Alloc(kernels.F32, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Free(buf) })
	return buf
}

// BenchmarkGemm: the MLP's first layer, forward and both backward GEMMs.
func BenchmarkGemm(b *testing.B) {
	d := gpu(b)
	if fakeGPU() {
		b.Skip("fake GPU")
	}
	const n, in, out = 64, 784, 128
	x, w, y := benchAlloc(b, d, n*in), benchAlloc(b, d, out*in), benchAlloc(b, d, n*out)
	dw, dx := benchAlloc(b, d, out*in), benchAlloc(b, d, n*in)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Gemm(false, true, n, out, in, 1, x, w, 0, y); err != nil {
			b.Fatal(err)
		}
		if err := d.Gemm(true, false, out, in, n, 1, y, x, 0, dw); err != nil {
			b.Fatal(err)
		}
		if err := d.Gemm(false, false, n, in, out, 1, y, w, 0, dx); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(3*2*n*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConv: the CNN's first convolution (1→4 channels, 28×28, K=3),
// forward, backward data and backward filter.
func BenchmarkConv(b *testing.B) {
	d := gpu(b)
	if fakeGPU() {
		b.Skip("fake GPU")
	}
	const n = 64
	s := kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}
	c, err := d.NewConv2D(s, n)
	if err != nil {
		b.Fatal(err)
	}
	x, w, y := benchAlloc(b, d, n*784), benchAlloc(b, d, 36), benchAlloc(b, d, n*4*784)
	dx, dw := benchAlloc(b, d, n*784), benchAlloc(b, d, 36)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Forward(n, x, w, y); err != nil {
			b.Fatal(err)
		}
		if err := c.BackwardData(n, y, w, dx); err != nil {
			b.Fatal(err)
		}
		if err := c.BackwardFilter(n, x, y, dw); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil {
		b.Fatal(err)
	}
}
