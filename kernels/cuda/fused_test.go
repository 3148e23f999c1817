package cuda_test

import (
	"fmt"
	"testing"

	"mnistgpu/kernels"
)

// TestGPUDense checks the fused dense layer (DenseForward, DenseBackward)
// against the CPU device, which composes the separate ops, for every
// activation, with and without dropout and input gradient, on shapes that
// are not multiples of the GPU's 16×16 tiles (tolerance 1e-4: fp32 sums
// in another order).
func TestGPUDense(t *testing.T) {
	g := gpu(t)
	for _, c := range []struct {
		n, in, out int
		act        kernels.Activation
		drop, dx   bool
	}{
		{37, 50, 21, kernels.ReLU, true, true},
		{16, 32, 16, kernels.Sigmoid, false, true},
		{5, 19, 40, kernels.Tanh, true, false},
		{64, 64, 10, kernels.Identity, false, true},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d-%v-drop%v-dx%v", c.n, c.in, c.out, c.act, c.drop, c.dx), func(t *testing.T) {
			e := newEnv(t, g)
			x, w, b := e.f32(e.randn(c.n*c.in, 1, 0)), e.f32(e.randn(c.out*c.in, 0.3, 0)), e.f32(e.randn(c.out, 0.1, 0))
			ctr := e.i32([]int32{0, 7, 0})
			a := e.garbage(c.n * c.out)
			var mask, y pair
			if c.drop {
				mask, y = e.garbage(c.n*c.out), e.garbage(c.n*c.out)
			}
			dy := e.f32(e.randn(c.n*c.out, 1, 0))
			dw, db := e.garbage(c.out*c.in), e.garbage(c.out)
			var dx, pa, pmask pair
			if c.dx {
				dx = e.garbage(c.n * c.in)
				pa = e.f32(e.randn(c.n*c.in, 0.5, 0.5)) // previous layer's activation output
				if c.act == kernels.ReLU || c.act == kernels.Identity {
					pa = e.f32(e.randn(c.n*c.in, 1, 0))
				}
				pmask = e.f32(e.randn(c.n*c.in, 1, 0))
			}
			e.run("dense", func(d kernels.Device, p func(pair) kernels.Buffer) error {
				opt := func(q pair) kernels.Buffer {
					if q.g == nil {
						return nil
					}
					return p(q)
				}
				if err := d.DenseForward(c.n, c.in, c.out, c.act, 0.3, 11, 3, p(ctr), p(x), p(w), p(b), p(a), opt(mask), opt(y)); err != nil {
					return err
				}
				return d.DenseBackward(c.n, c.in, c.out, p(dy), p(x), p(w), p(dw), p(db), c.act, opt(pa), opt(pmask), opt(dx))
			})
			e.close("a", a, -1, 1e-4)
			if c.drop {
				e.close("mask", mask, -1, 0)
				e.close("y", y, -1, 1e-4)
			}
			e.close("dw", dw, -1, 1e-4)
			e.close("db", db, -1, 1e-4)
			if c.dx {
				e.close("dx", dx, -1, 1e-4)
			}
		})
	}
}
