package cpu

import (
	"fmt"

	"mnistgpu/kernels"
)

// Convolution is direct: mnistgpu's convolutions have 1-4 channels, where
// im2col+GEMM would spend as long building the column matrix (K²·C·H·W
// copies per image) as multiplying it (K²·C·OutC·H·W multiply-adds with
// OutC = 4), and a GEMM with 4 rows runs far from its peak.
//
// Each image's input planes are first copied into a zero-bordered scratch
// plane of (H+2p)×(W+2p), p = (K-1)/2, so the inner loops have no edge
// cases: output (oy, ox) reads padded rows oy..oy+K-1, columns ox..ox+K-1.
// K = 3 has unrolled loops with the nine weights in registers (on the
// vector path, simd_*.go, 8 columns of a row at a time); other odd K use a
// loop over the taps.
//
// With cross-correlation y[o, y, x] = Σ_{c,ky,kx} w[o, c, ky, kx]·xp[c, y+ky, x+kx]
// (xp the padded input, as PyTorch's Conv2d):
//
//	dx[c, y, x]      = Σ_{o,ky,kx} w[o, c, K-1-ky, K-1-kx]·dyp[o, y+ky, x+kx]
//	                   (the same correlation of the padded dy with the weights
//	                   flipped in both axes and the channel axes swapped)
//	dw[o, c, ky, kx] = Σ_{n,y,x} dy[n, o, y, x]·xp[n, c, y+ky, x+kx]
type conv2D struct {
	d      *Device
	s      kernels.ConvShape
	maxN   int
	pad    int
	hp, wp int // padded plane

	planes [][]float32 // per thread: max(C, OutC) padded planes
	dwPart [][]float32 // per group of filterGroup images: partial dw, OutC·C·K·K
	bSum   []float32   // per image and output channel: Σ dy of the plane (forwardBias's fused bias gradient)
	wT     []float32   // flipped, transposed weights [C, OutC, K, K]
	task   convTask
}

// convTask is the plan's preallocated parallel pass over images.
type convTask struct {
	c       *conv2D
	mode    int // convForward, convBackData or convBackFilter
	in, out []float32
	w       []float32
	inC     int       // channels of in
	outC    int       // channels of out
	n       int       // images of a filter-gradient pass (which runs over groups)
	bias    []float32 // forward: added to each output plane (nil: none)
	bSum    []float32 // filter gradient: each dy plane's sum32 goes here (nil: none)
}

// filterGroup is the number of images whose filter gradients are summed
// into one partial. Partials belong to fixed groups of images, not to
// threads, and are added in group order, so dw is the same whatever the
// number of threads.
const filterGroup = 8

const (
	convForward = iota
	convBackData
	convBackFilter
)

// NewConv2D plans a stride-1 "same" convolution for batches of up to maxN,
// allocating each thread's scratch (padded planes and a partial filter
// gradient) now.
func (d *Device) NewConv2D(s kernels.ConvShape, maxN int) (kernels.Conv2D, error) {
	if err := kernels.CheckConvShape(s, maxN); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	p := (s.K - 1) / 2
	c := &conv2D{d: d, s: s, maxN: maxN, pad: p, hp: s.H + 2*p, wp: s.W + 2*p}
	c.planes = make([][]float32, d.threads)
	for i := range c.planes {
		c.planes[i] = make([]float32, max(s.C, s.OutC)*c.hp*c.wp)
	}
	c.dwPart = make([][]float32, ceilDiv(maxN, filterGroup))
	for i := range c.dwPart {
		c.dwPart[i] = make([]float32, s.OutC*s.C*s.K*s.K)
	}
	c.wT = make([]float32, s.OutC*s.C*s.K*s.K)
	c.bSum = make([]float32, maxN*s.OutC)
	c.task.c = c
	return c, nil
}

// Forward computes y = conv(x, w) for x [n, C, H, W], y [n, OutC, H, W].
func (c *conv2D) Forward(n int, x, w, y kernels.Buffer) error {
	const op = "Conv2D.Forward"
	s, d := c.s, c.d
	if err := kernels.CheckConv(op, s, c.maxN, n, x, w, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32(op, "x", x, n*s.C*s.H*s.W)
	if err != nil {
		return err
	}
	ws, err := d.f32(op, "w", w, s.OutC*s.C*s.K*s.K)
	if err != nil {
		return err
	}
	ys, err := d.f32(op, "y", y, n*s.OutC*s.H*s.W)
	if err != nil {
		return err
	}
	c.run(convForward, n, xs, ws, ys, s.C, s.OutC)
	return nil
}

// forwardBias is Forward followed by AddBias(n, OutC, H·W, y, b), with the
// bias added to each output plane while it is in cache: the same bits.
func (c *conv2D) forwardBias(n int, x, w, b, y kernels.Buffer) error {
	s, d := c.s, c.d
	if err := kernels.CheckBias("AddBias", n, s.OutC, s.H*s.W, y, b); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	bs, err := d.f32("AddBias", "bias", b, s.OutC)
	if err != nil {
		return err
	}
	c.task.bias = bs
	err = c.Forward(n, x, w, y)
	c.task.bias = nil
	return err
}

// backwardFilterBias is BiasGrad(n, OutC, H·W, dy, db) and BackwardFilter
// in one pass over dy: each dy plane's sum32 is taken while the filter
// gradient reads it, and the sums are added in float64 in image order, as
// BiasGrad adds them: the same bits.
func (c *conv2D) backwardFilterBias(n int, x, dy, dw, db kernels.Buffer) error {
	s, d := c.s, c.d
	if err := kernels.CheckBias("BiasGrad", n, s.OutC, s.H*s.W, dy, db); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	dbs, err := d.f32("BiasGrad", "dbias", db, s.OutC)
	if err != nil {
		return err
	}
	c.task.bSum = c.bSum
	err = c.BackwardFilter(n, x, dy, dw)
	c.task.bSum = nil
	if err != nil {
		return err
	}
	for o := range dbs {
		var sum float64
		for i := 0; i < n; i++ {
			sum += float64(c.bSum[i*s.OutC+o])
		}
		dbs[o] = float32(sum)
	}
	return nil
}

// BackwardData computes dx = conv_transpose(dy, w).
func (c *conv2D) BackwardData(n int, dy, w, dx kernels.Buffer) error {
	const op = "Conv2D.BackwardData"
	s, d := c.s, c.d
	if err := kernels.CheckConv(op, s, c.maxN, n, dy, w, dx); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	dys, err := d.f32(op, "dy", dy, n*s.OutC*s.H*s.W)
	if err != nil {
		return err
	}
	ws, err := d.f32(op, "w", w, s.OutC*s.C*s.K*s.K)
	if err != nil {
		return err
	}
	dxs, err := d.f32(op, "dx", dx, n*s.C*s.H*s.W)
	if err != nil {
		return err
	}
	// wT[c, o, ky, kx] = w[o, c, K-1-ky, K-1-kx].
	kk := s.K * s.K
	for o := 0; o < s.OutC; o++ {
		for ci := 0; ci < s.C; ci++ {
			src := ws[(o*s.C+ci)*kk : (o*s.C+ci+1)*kk]
			dst := c.wT[(ci*s.OutC+o)*kk : (ci*s.OutC+o+1)*kk]
			for t := range dst {
				dst[t] = src[kk-1-t] // reversing the K×K block flips both axes
			}
		}
	}
	c.run(convBackData, n, dys, c.wT, dxs, s.OutC, s.C)
	return nil
}

// BackwardFilter computes dw = correlation of x with dy, summed over the
// batch: each group of filterGroup images is summed into its own partial,
// and the partials are added in group order, so the result depends neither
// on timing nor on the number of threads.
func (c *conv2D) BackwardFilter(n int, x, dy, dw kernels.Buffer) error {
	const op = "Conv2D.BackwardFilter"
	s, d := c.s, c.d
	if err := kernels.CheckConv(op, s, c.maxN, n, x, dy, dw); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32(op, "x", x, n*s.C*s.H*s.W)
	if err != nil {
		return err
	}
	dys, err := d.f32(op, "dy", dy, n*s.OutC*s.H*s.W)
	if err != nil {
		return err
	}
	dws, err := d.f32(op, "dw", dw, s.OutC*s.C*s.K*s.K)
	if err != nil {
		return err
	}
	// dy travels in the weights' slot; the pass runs over groups of images.
	groups := ceilDiv(n, filterGroup)
	c.task.n = n
	c.run(convBackFilter, groups, xs, dys, nil, s.C, s.OutC)
	clear(dws)
	for g := 0; g < groups; g++ {
		for i, v := range c.dwPart[g] {
			dws[i] += v
		}
	}
	return nil
}

// run runs one pass over the batch.
func (c *conv2D) run(mode, n int, in, w, out []float32, inC, outC int) {
	t := &c.task
	t.mode, t.in, t.w, t.out, t.inC, t.outC = mode, in, w, out, inC, outC
	c.d.pool.parallel(t, n, 1)
	t.in, t.out, t.w = nil, nil, nil
}

// run processes images [lo, hi) as thread w, or for the filter gradient
// the groups of images [lo, hi).
func (t *convTask) run(w, lo, hi int) {
	c := t.c
	s := c.s
	hw := s.H * s.W
	pl := c.hp * c.wp
	planes := c.planes[w]
	k := s.K
	kk := k * k
	if t.mode == convBackFilter {
		dy := t.w
		for i := lo * filterGroup; i < min(hi*filterGroup, t.n); i++ {
			part := c.dwPart[i/filterGroup]
			if i%filterGroup == 0 {
				clear(part)
			}
			c.padPlanes(planes, t.in[i*s.C*hw:(i+1)*s.C*hw], s.C)
			for o := 0; o < s.OutC; o++ {
				g := dy[(i*s.OutC+o)*hw : (i*s.OutC+o+1)*hw]
				if t.bSum != nil {
					t.bSum[i*s.OutC+o] = sum32(g)
				}
				for ci := 0; ci < s.C; ci++ {
					dst := part[(o*s.C+ci)*kk : (o*s.C+ci+1)*kk]
					src := planes[ci*pl : (ci+1)*pl]
					if k == 3 {
						filterGrad3(dst, g, src, s.H, s.W, c.wp)
					} else {
						filterGradK(dst, g, src, s.H, s.W, c.wp, k)
					}
				}
			}
		}
		return
	}
	// Forward and BackwardData: out[o] = Σ_c corr(pad(in[c]), w[o, c]).
	for i := lo; i < hi; i++ {
		c.padPlanes(planes, t.in[i*t.inC*hw:(i+1)*t.inC*hw], t.inC)
		for o := 0; o < t.outC; o++ {
			dst := t.out[(i*t.outC+o)*hw : (i*t.outC+o+1)*hw]
			for ci := 0; ci < t.inC; ci++ {
				wk := t.w[(o*t.inC+ci)*kk : (o*t.inC+ci+1)*kk]
				src := planes[ci*pl : (ci+1)*pl]
				if k == 3 {
					corr3(dst, src, wk, s.H, s.W, c.wp, ci > 0)
				} else {
					corrK(dst, src, wk, s.H, s.W, c.wp, k, ci > 0)
				}
			}
			if t.bias != nil {
				// (x - 0)·1 + b is x + b exactly, NaN and -0 included:
				// AddBias's bits, in vector lanes.
				bnAffinePlane(dst, dst, 0, 1, t.bias[o])
			}
		}
	}
}

// padPlanes copies ch planes of H×W from src into the interiors of dst's
// zero-bordered planes of hp×wp. Only padPlanes writes the scratch planes,
// always at the same places, so their borders stay the zeros that make
// allocated: they are never rewritten.
func (c *conv2D) padPlanes(dst, src []float32, ch int) {
	h, w, p := c.s.H, c.s.W, c.pad
	wp := c.wp
	for ci := 0; ci < ch; ci++ {
		plane := dst[ci*c.hp*wp : (ci+1)*c.hp*wp]
		in := src[ci*h*w : (ci+1)*h*w]
		for y := 0; y < h; y++ {
			copy(plane[(p+y)*wp+p:(p+y)*wp+p+w], in[y*w:(y+1)*w])
		}
	}
}

// corr3 writes (or, with acc, adds) the 3×3 correlation of the padded plane
// src (rows of wp = W+2) with w[9] into dst (H×W).
func corr3(dst, src, w []float32, h, wd, wp int, acc bool) {
	done := corr3Vec(dst, src, w, h, wd, wp, acc) // columns the vector path did (simd_*.go)
	if done == wd {
		return
	}
	w = w[:9]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for y := 0; y < h; y++ {
		out := dst[y*wd : y*wd+wd]
		r0 := src[y*wp : y*wp+wd+2]
		r1 := src[(y+1)*wp : (y+1)*wp+wd+2]
		r2 := src[(y+2)*wp : (y+2)*wp+wd+2]
		for x := done; x < len(out); x++ {
			if x+2 >= len(r0) || x+2 >= len(r1) || x+2 >= len(r2) {
				break // never: proves the indices below in range
			}
			v := w0*r0[x] + w1*r0[x+1] + w2*r0[x+2] +
				w3*r1[x] + w4*r1[x+1] + w5*r1[x+2] +
				w6*r2[x] + w7*r2[x+1] + w8*r2[x+2]
			if acc {
				v += out[x]
			}
			out[x] = v
		}
	}
}

// corrK is corr3 for any odd K, one tap (an axpy over a row) at a time.
func corrK(dst, src, w []float32, h, wd, wp, k int, acc bool) {
	if !acc {
		clear(dst[:h*wd])
	}
	for y := 0; y < h; y++ {
		out := dst[y*wd : y*wd+wd]
		for ky := 0; ky < k; ky++ {
			row := src[(y+ky)*wp : (y+ky)*wp+wp]
			for kx := 0; kx < k; kx++ {
				wv := w[ky*k+kx]
				in := row[kx : kx+wd]
				for x := range out {
					out[x] += wv * in[x]
				}
			}
		}
	}
}

// filterGrad3 adds to dst[ky·3+kx] the correlation Σ_{y,x} g[y, x]·src[y+ky, x+kx]
// of one output-gradient plane g (H×W) with one padded input plane src.
func filterGrad3(dst, g, src []float32, h, wd, wp int) {
	if filterGrad3Vec(dst, g, src, h, wd, wp) {
		return
	}
	var s0, s1, s2, s3, s4, s5, s6, s7, s8 float32
	for y := 0; y < h; y++ {
		gr := g[y*wd : y*wd+wd]
		r0 := src[y*wp : y*wp+wd+2]
		r1 := src[(y+1)*wp : (y+1)*wp+wd+2]
		r2 := src[(y+2)*wp : (y+2)*wp+wd+2]
		for x, gv := range gr {
			if x+2 >= len(r0) || x+2 >= len(r1) || x+2 >= len(r2) {
				break // never: proves the indices below in range
			}
			s0 += gv * r0[x]
			s1 += gv * r0[x+1]
			s2 += gv * r0[x+2]
			s3 += gv * r1[x]
			s4 += gv * r1[x+1]
			s5 += gv * r1[x+2]
			s6 += gv * r2[x]
			s7 += gv * r2[x+1]
			s8 += gv * r2[x+2]
		}
	}
	dst = dst[:9]
	dst[0] += s0
	dst[1] += s1
	dst[2] += s2
	dst[3] += s3
	dst[4] += s4
	dst[5] += s5
	dst[6] += s6
	dst[7] += s7
	dst[8] += s8
}

// filterGradK is filterGrad3 for any odd K, one tap (a dot product per row)
// at a time.
func filterGradK(dst, g, src []float32, h, wd, wp, k int) {
	for ky := 0; ky < k; ky++ {
		for kx := 0; kx < k; kx++ {
			var s float32
			for y := 0; y < h; y++ {
				gr := g[y*wd : y*wd+wd]
				in := src[(y+ky)*wp+kx : (y+ky)*wp+kx+wd]
				for x, gv := range gr {
					s += gv * in[x]
				}
			}
			dst[ky*k+kx] += s
		}
	}
}
