package cpu

import (
	"fmt"
	"math"
	"testing"

	"mnistgpu/kernels"
)

// fusedBlock is one CNN block's buffers: conv (+bias), batch norm,
// activation and 2×2 max-pool, forward and backward.
type fusedBlock struct {
	s                                 kernels.ConvShape
	n                                 int
	conv                              kernels.Conv2D
	bn                                kernels.BatchNorm
	pool                              kernels.MaxPool
	x, w, b, convY, bnY, actY, pooled *Buffer
	gamma, beta, runMean, runVar      *Buffer
	saveMean, saveInvStd              *Buffer
	dpooled, dact, dconv, dx, dw, db  *Buffer
	dgamma, dbeta                     *Buffer
}

// newFusedBlock fills a block's inputs from seed (some NaNs in x when nan).
func newFusedBlock(t testing.TB, d *Device, s kernels.ConvShape, n int, seed uint64, nan bool) *fusedBlock {
	t.Helper()
	r := testRand(seed)
	in, out, hw := n*s.C*s.H*s.W, n*s.OutC*s.H*s.W, s.H*s.W
	x := randSlice(r, in)
	if nan {
		x[in/3] = float32(math.NaN())
	}
	f := &fusedBlock{s: s, n: n,
		x: alloc32(t, d, x, 0), w: alloc32(t, d, randSlice(r, s.OutC*s.C*s.K*s.K), 0), b: alloc32(t, d, randSlice(r, s.OutC), 0),
		convY: alloc32(t, d, nil, out), bnY: alloc32(t, d, nil, out), actY: alloc32(t, d, nil, out), pooled: alloc32(t, d, nil, out/4),
		gamma: alloc32(t, d, randSlice(r, s.OutC), 0), beta: alloc32(t, d, randSlice(r, s.OutC), 0),
		runMean: alloc32(t, d, randSlice(r, s.OutC), 0), runVar: alloc32(t, d, []float32{1, 2, 0.5, 1.5}[:s.OutC], 0),
		saveMean: alloc32(t, d, nil, s.OutC), saveInvStd: alloc32(t, d, nil, s.OutC),
		dpooled: alloc32(t, d, randSlice(r, out/4), 0), dact: alloc32(t, d, nil, out), dconv: alloc32(t, d, nil, out),
		dx: alloc32(t, d, nil, in), dw: alloc32(t, d, nil, s.OutC*s.C*s.K*s.K), db: alloc32(t, d, nil, s.OutC),
		dgamma: alloc32(t, d, nil, s.OutC), dbeta: alloc32(t, d, nil, s.OutC)}
	var err error
	f.conv, err = d.NewConv2D(s, n)
	must(t, err)
	f.bn, err = d.NewBatchNorm(s.OutC, hw, n, 1e-5, 0.1)
	must(t, err)
	f.pool, err = d.NewMaxPool(s.OutC, s.H, s.W, n)
	must(t, err)
	return f
}

// composed runs the block with the separate ops.
func (f *fusedBlock) composed(d *Device, act kernels.Activation, bn bool) error {
	s, n := f.s, f.n
	out := n * s.OutC * s.H * s.W
	errs := []error{f.conv.Forward(n, f.x, f.w, f.convY), d.AddBias(n, s.OutC, s.H*s.W, f.convY, f.b)}
	actIn := f.convY
	if bn {
		errs = append(errs, f.bn.ForwardTrain(n, f.convY, f.gamma, f.beta, f.runMean, f.runVar, f.bnY, f.saveMean, f.saveInvStd))
		actIn = f.bnY
	}
	errs = append(errs,
		d.ActForward(act, out, actIn, f.actY),
		f.pool.Forward(n, f.actY, f.pooled),
		f.pool.Backward(n, f.actY, f.dpooled, f.dpooled, f.dact),
		d.ActBackward(act, out, f.actY, f.actY, f.dact, f.dact))
	dconv := f.dact
	if bn {
		errs = append(errs, f.bn.Backward(n, f.convY, f.dact, f.gamma, f.saveMean, f.saveInvStd, f.dconv, f.dgamma, f.dbeta))
		dconv = f.dconv
	}
	errs = append(errs, d.BiasGrad(n, s.OutC, s.H*s.W, dconv, f.db), f.conv.BackwardFilter(n, f.x, dconv, f.dw), f.conv.BackwardData(n, dconv, f.w, f.dx))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fused runs the block with the fused ops.
func (f *fusedBlock) fused(d *Device, act kernels.Activation, bn bool) error {
	s, n := f.s, f.n
	if bn {
		if err := d.ConvBNActPoolForward(s, f.conv, f.bn, act, f.pool, n, f.x, f.w, f.b, f.convY, f.gamma, f.beta, f.runMean, f.runVar,
			f.saveMean, f.saveInvStd, f.bnY, f.actY, f.pooled); err != nil {
			return err
		}
		if err := d.PoolActBNBackward(f.bn, act, f.pool, n, f.actY, f.dpooled, f.dact, f.convY, f.gamma, f.saveMean, f.saveInvStd,
			f.dconv, f.dgamma, f.dbeta); err != nil {
			return err
		}
		return d.ConvBiasBackward(s, f.conv, n, f.x, f.dconv, f.w, f.dw, f.db, f.dx)
	}
	if err := d.ConvBiasForward(s, f.conv, n, f.x, f.w, f.b, f.convY); err != nil {
		return err
	}
	if err := d.ActPoolForward(act, f.pool, n, f.convY, f.actY, f.pooled); err != nil {
		return err
	}
	if err := d.PoolActBackward(act, f.pool, n, f.actY, f.dpooled, f.dact); err != nil {
		return err
	}
	return d.ConvBiasBackward(s, f.conv, n, f.x, f.dact, f.w, f.dw, f.db, f.dx)
}

// outputs lists the buffers a block writes.
func (f *fusedBlock) outputs(bn bool) map[string]*Buffer {
	m := map[string]*Buffer{"convY": f.convY, "actY": f.actY, "pooled": f.pooled, "dact": f.dact, "dx": f.dx, "dw": f.dw, "db": f.db}
	if bn {
		for k, v := range map[string]*Buffer{"bnY": f.bnY, "runMean": f.runMean, "runVar": f.runVar, "saveMean": f.saveMean,
			"saveInvStd": f.saveInvStd, "dconv": f.dconv, "dgamma": f.dgamma, "dbeta": f.dbeta} {
			m[k] = v
		}
	}
	return m
}

// TestFusedBlockBits: the CPU's fused CNN-block ops (conv+bias, batch
// norm+activation+pool and their backwards, computed plane by plane) give
// the bits of the separate ops, NaN included, with 1, 2 and 3 threads, on
// the CNN's shapes and an odd-sized one.
func TestFusedBlockBits(t *testing.T) {
	shapes := []struct {
		s kernels.ConvShape
		n int
	}{
		{kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, 64},
		{kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}, 17},
		{kernels.ConvShape{C: 2, H: 7, W: 9, K: 5, OutC: 3}, 5},
	}
	for _, sh := range shapes {
		for _, act := range []kernels.Activation{kernels.ReLU, kernels.Tanh} {
			for _, bn := range []bool{true, false} {
				for _, nan := range []bool{false, true} {
					name := fmt.Sprintf("C%d-O%d-%dx%d-n%d/act%d/bn=%v/nan=%v", sh.s.C, sh.s.OutC, sh.s.H, sh.s.W, sh.n, act, bn, nan)
					var want map[string][]float32
					for _, threads := range []int{1, 2, 3} {
						d := New(threads)
						ref := newFusedBlock(t, d, sh.s, sh.n, 7, nan)
						got := newFusedBlock(t, d, sh.s, sh.n, 7, nan)
						must(t, ref.composed(d, act, bn))
						must(t, got.fused(d, act, bn))
						if want == nil {
							want = map[string][]float32{}
							for k, b := range ref.outputs(bn) {
								want[k] = append([]float32(nil), b.f32...)
							}
						}
						for k, b := range got.outputs(bn) {
							for _, cmp := range []struct {
								what string
								v    []float32
							}{{"separate ops, same threads", ref.outputs(bn)[k].f32}, {"separate ops, 1 thread", want[k]}} {
								if i := firstBitDiff(b.f32, cmp.v); i >= 0 {
									t.Errorf("%s threads=%d: %s[%d] = %v, %s give %v", name, threads, k, i, b.f32[i], cmp.what, cmp.v[i])
								}
							}
						}
						d.Close()
					}
				}
			}
		}
	}
}

// firstBitDiff is the first index where a and b differ in their bits (or
// in length: the shorter length), or -1.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestFusedBlockAllocatesNothing: the fused block ops allocate nothing.
func TestFusedBlockAllocatesNothing(t *testing.T) {
	d := New(2)
	defer d.Close()
	f := newFusedBlock(t, d, kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, 64, 3, false)
	run := func() {
		must(t, f.fused(d, kernels.ReLU, true))
		must(t, f.fused(d, kernels.ReLU, false))
	}
	run()
	if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
		t.Errorf("the fused block ops allocate %v times", allocs)
	}
}

// BenchmarkCNNBlocks runs the default CNN's two blocks (conv 1→4 at 28×28
// and 4→4 at 14×14, batch norm, ReLU, max-pool; forward and backward) at
// batch 64 with the separate ops and with the fused ones.
func BenchmarkCNNBlocks(b *testing.B) {
	d := New(0)
	defer d.Close()
	blocks := []*fusedBlock{
		newFusedBlock(b, d, kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, 64, 1, false),
		newFusedBlock(b, d, kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}, 64, 2, false),
	}
	for _, fused := range []bool{false, true} {
		b.Run(map[bool]string{false: "separate", true: "fused"}[fused], func(b *testing.B) {
			for b.Loop() {
				for _, f := range blocks {
					run := f.composed
					if fused {
						run = f.fused
					}
					if err := run(d, kernels.ReLU, true); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
