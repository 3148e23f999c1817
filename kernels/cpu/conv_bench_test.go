package cpu

// Direct convolution (conv.go) against im2col + GEMM on the CNN's shapes.

import (
	"fmt"
	"testing"

	"mnistgpu/kernels"
)

// im2colConv is the alternative measured by BenchmarkConv: for each image,
// col[(c·K+ky)·K+kx, y·W+x] = xpadded[c, y+ky-p, x+kx-p], then
// y[i] = w [OutC, C·K·K] · col [C·K·K, H·W] by Device.Gemm.
type im2colConv struct {
	d   *Device
	s   kernels.ConvShape
	col kernels.Buffer
}

func (c *im2colConv) forward(n int, x, w, y *Buffer) error {
	s := c.s
	p := (s.K - 1) / 2
	hw := s.H * s.W
	col := c.col.(*Buffer).f32
	for i := 0; i < n; i++ {
		for ci := 0; ci < s.C; ci++ {
			plane := x.f32[(i*s.C+ci)*hw : (i*s.C+ci+1)*hw]
			for ky := 0; ky < s.K; ky++ {
				for kx := 0; kx < s.K; kx++ {
					row := col[((ci*s.K+ky)*s.K+kx)*hw:]
					for yy := 0; yy < s.H; yy++ {
						sy := yy + ky - p
						for xx := 0; xx < s.W; xx++ {
							sx := xx + kx - p
							v := float32(0)
							if sy >= 0 && sy < s.H && sx >= 0 && sx < s.W {
								v = plane[sy*s.W+sx]
							}
							row[yy*s.W+xx] = v
						}
					}
				}
			}
		}
		yv := c.d.View(y, i*s.OutC*hw, s.OutC*hw) // set-up cost only in this benchmark
		if err := c.d.Gemm(false, false, s.OutC, hw, s.C*s.K*s.K, 1, w, c.col, 0, yv); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkConv(b *testing.B) {
	d := New(0)
	defer d.Close()
	r := testRand(21)
	const n = 64
	for _, s := range []kernels.ConvShape{
		{C: 1, H: 28, W: 28, K: 3, OutC: 4},
		{C: 4, H: 14, W: 14, K: 3, OutC: 4},
	} {
		x := alloc32(b, d, randSlice(r, n*s.C*s.H*s.W), 0)
		w := alloc32(b, d, randSlice(r, s.OutC*s.C*s.K*s.K), 0)
		y := alloc32(b, d, nil, n*s.OutC*s.H*s.W)
		dx, dw := alloc32(b, d, nil, n*s.C*s.H*s.W), alloc32(b, d, nil, s.OutC*s.C*s.K*s.K)
		cv, err := d.NewConv2D(s, n)
		must(b, err)
		flops := float64(2 * n * s.OutC * s.C * s.K * s.K * s.H * s.W)
		name := fmt.Sprintf("C%d-O%d-%dx%d", s.C, s.OutC, s.H, s.W)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(name+"/direct/forward", func(b *testing.B) {
			forEachPath(b, func(b *testing.B) {
				for b.Loop() {
					cv.Forward(n, x, w, y)
				}
				report(b)
			})
		})
		b.Run(name+"/direct/backdata", func(b *testing.B) {
			forEachPath(b, func(b *testing.B) {
				for b.Loop() {
					cv.BackwardData(n, y, w, dx)
				}
				report(b)
			})
		})
		b.Run(name+"/direct/backfilter", func(b *testing.B) {
			forEachPath(b, func(b *testing.B) {
				for b.Loop() {
					cv.BackwardFilter(n, x, y, dw)
				}
				report(b)
			})
		})
		ic := &im2colConv{d: d, s: s, col: alloc32(b, d, nil, s.C*s.K*s.K*s.H*s.W)}
		b.Run(name+"/im2col/forward", func(b *testing.B) {
			for b.Loop() {
				must(b, ic.forward(n, x, w, y))
			}
			report(b)
		})
	}
}
