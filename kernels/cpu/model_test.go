package cpu

// The two models of mnistgpu built directly from the device's ops, for the
// allocation test, the training smoke test and the benchmarks:
//
//	MLP: Linear(784,128) ReLU Linear(128,64) ReLU Linear(64,10), cross-entropy, SGD
//	CNN: Conv2d(1,4,3,pad 1) BN ReLU MaxPool2 Conv2d(4,4,3,pad 1) BN ReLU MaxPool2
//	     Linear(196,10), cross-entropy, SGD
//
// Parameters and their gradients live in one flat buffer each (llm.c
// style), so one SGD call updates everything.

import (
	"math"
	"math/rand/v2"
	"testing"

	"mnistgpu/kernels"
)

// net is a model wired to its buffers; step runs one training step.
type net struct {
	d              *Device
	n              int
	data, lab, idx kernels.Buffer // u8 images [rows·784], u8 labels, i32 batch indices
	x              kernels.Buffer // the batch [n, 784]
	y              kernels.Buffer // int32 labels [n]
	params, grads  kernels.Buffer
	vel            kernels.Buffer
	count          int
	lossSum, hits  kernels.Buffer
	step           func() error
}

// views cuts consecutive views of the given sizes from b.
func views(d *Device, b kernels.Buffer, sizes ...int) []kernels.Buffer {
	out := make([]kernels.Buffer, len(sizes))
	off := 0
	for i, s := range sizes {
		out[i] = d.View(b, off, s)
		off += s
	}
	return out
}

// newNet makes 256 synthetic images whose label is encoded in them
// (a brighter band of rows), a batch of indices, and the shared buffers of a
// net with count parameters.
func newNet(t testing.TB, d *Device, n, count int) *net {
	const rows = 256
	r := rand.New(rand.NewPCG(1, 1))
	pix := make([]uint8, rows*784)
	labs := make([]uint8, rows)
	for i := range labs {
		labs[i] = uint8(r.IntN(10))
		for j := 0; j < 784; j++ {
			v := r.IntN(128)
			if (j/28)/3 == int(labs[i]) {
				v += 120
			}
			pix[i*784+j] = uint8(v)
		}
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(r.IntN(rows))
	}
	m := &net{d: d, n: n, count: count}
	var err error
	alloc := func(dt kernels.DType, k int) kernels.Buffer {
		b, e := d.Alloc(dt, k)
		if e != nil && err == nil {
			err = e
		}
		return b
	}
	m.data, m.lab, m.idx = alloc(kernels.U8, len(pix)), alloc(kernels.U8, rows), alloc(kernels.I32, n)
	m.x, m.y = alloc(kernels.F32, n*784), alloc(kernels.I32, n)
	m.params, m.grads, m.vel = alloc(kernels.F32, count), alloc(kernels.F32, count), alloc(kernels.F32, count)
	m.lossSum, m.hits = alloc(kernels.F32, 1), alloc(kernels.F32, 1)
	must(t, err)
	must(t, d.Upload(m.data, pix))
	must(t, d.Upload(m.lab, labs))
	must(t, d.Upload(m.idx, idx))
	// Kaiming-uniform-like initialisation of everything (biases included).
	p := make([]float32, count)
	for i := range p {
		p[i] = float32(r.Float64()*2-1) * 0.1
	}
	must(t, d.Upload(m.params, p))
	return m
}

// gather loads the batch.
func (m *net) gather() error {
	if err := m.d.GatherImages(m.n, 784, m.data, m.idx, m.x, 0.1307, 0.3081); err != nil {
		return err
	}
	return m.d.GatherLabels(m.n, m.lab, m.idx, m.y)
}

// linear is y = x·Wᵀ + b for x [n, in], W [out, in] (PyTorch's layout).
func linear(d *Device, n, in, out int, x, w, b, y kernels.Buffer) error {
	if err := d.Gemm(false, true, n, out, in, 1, x, w, 0, y); err != nil {
		return err
	}
	return d.AddBias(n, out, 1, y, b)
}

// linearBack writes dW = dyᵀ·x, db = Σ dy and, when dx != nil, dx = dy·W.
func linearBack(d *Device, n, in, out int, x, w, dy, dw, db, dx kernels.Buffer) error {
	if err := d.Gemm(true, false, out, in, n, 1, dy, x, 0, dw); err != nil {
		return err
	}
	if err := d.BiasGrad(n, out, 1, dy, db); err != nil {
		return err
	}
	if dx == nil {
		return nil
	}
	return d.Gemm(false, false, n, in, out, 1, dy, w, 0, dx)
}

// newMLP builds 784-128-64-10 at batch n.
func newMLP(t testing.TB, d *Device, n int) *net {
	sizes := []int{128 * 784, 128, 64 * 128, 64, 10 * 64, 10}
	count := 0
	for _, s := range sizes {
		count += s
	}
	m := newNet(t, d, n, count)
	p, g := views(d, m.params, sizes...), views(d, m.grads, sizes...)
	a := func(k int) kernels.Buffer { b, err := d.Alloc(kernels.F32, k); must(t, err); return b }
	h1, h2, z := a(n*128), a(n*64), a(n*10)
	dh1, dh2, dz := a(n*128), a(n*64), a(n*10)
	m.step = func() error {
		for _, err := range []error{
			m.gather(),
			linear(d, n, 784, 128, m.x, p[0], p[1], h1),
			d.ActForward(kernels.ReLU, n*128, h1, h1),
			linear(d, n, 128, 64, h1, p[2], p[3], h2),
			d.ActForward(kernels.ReLU, n*64, h2, h2),
			linear(d, n, 64, 10, h2, p[4], p[5], z),
			d.LossForward(kernels.CrossEntropy, n, 10, z, m.y, dz, m.lossSum, m.hits),
			linearBack(d, n, 64, 10, h2, p[4], dz, g[4], g[5], dh2),
			d.ActBackward(kernels.ReLU, n*64, h2, h2, dh2, dh2),
			linearBack(d, n, 128, 64, h1, p[2], dh2, g[2], g[3], dh1),
			d.ActBackward(kernels.ReLU, n*128, h1, h1, dh1, dh1),
			linearBack(d, n, 784, 128, m.x, p[0], dh1, g[0], g[1], nil),
			d.SGD(m.count, 0.05, 0.9, 0, m.params, m.grads, m.vel),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	return m
}

// newCNN builds the CNN at batch n.
func newCNN(t testing.TB, d *Device, n int) *net {
	// conv1 w, b; bn1 γ, β; conv2 w, b; bn2 γ, β; fc W, b
	sizes := []int{4 * 9, 4, 4, 4, 4 * 4 * 9, 4, 4, 4, 10 * 196, 10}
	count := 0
	for _, s := range sizes {
		count += s
	}
	m := newNet(t, d, n, count)
	p, g := views(d, m.params, sizes...), views(d, m.grads, sizes...)
	for _, i := range []int{2, 6} { // BN γ = 1, β = 0
		must(t, d.Fill(p[i], 1))
		must(t, d.Fill(p[i+1], 0))
	}
	a := func(k int) kernels.Buffer { b, err := d.Alloc(kernels.F32, k); must(t, err); return b }
	conv1, err := d.NewConv2D(kernels.ConvShape{C: 1, H: 28, W: 28, K: 3, OutC: 4}, n)
	must(t, err)
	conv2, err := d.NewConv2D(kernels.ConvShape{C: 4, H: 14, W: 14, K: 3, OutC: 4}, n)
	must(t, err)
	bn1, err := d.NewBatchNorm(4, 28*28, n, 1e-5, 0.1)
	must(t, err)
	bn2, err := d.NewBatchNorm(4, 14*14, n, 1e-5, 0.1)
	must(t, err)
	pool1, err := d.NewMaxPool(4, 28, 28, n)
	must(t, err)
	pool2, err := d.NewMaxPool(4, 14, 14, n)
	must(t, err)
	const a1, a2, a3 = 4 * 28 * 28, 4 * 14 * 14, 4 * 7 * 7
	c1, b1, r1, q1 := a(n*a1), a(n*a1), a(n*a1), a(n*a2)
	c2, b2, r2, q2 := a(n*a2), a(n*a2), a(n*a2), a(n*a3)
	z, dz := a(n*10), a(n*10)
	rm1, rv1, sm1, si1 := a(4), a(4), a(4), a(4)
	rm2, rv2, sm2, si2 := a(4), a(4), a(4), a(4)
	must(t, d.Fill(rv1, 1))
	must(t, d.Fill(rv2, 1))
	dq2, dr2, db2, dc2 := a(n*a3), a(n*a2), a(n*a2), a(n*a2)
	dq1, dr1, db1, dc1 := a(n*a2), a(n*a1), a(n*a1), a(n*a1)
	m.step = func() error {
		for _, err := range []error{
			m.gather(),
			conv1.Forward(n, m.x, p[0], c1),
			d.AddBias(n, 4, 28*28, c1, p[1]),
			bn1.ForwardTrain(n, c1, p[2], p[3], rm1, rv1, b1, sm1, si1),
			d.ActForward(kernels.ReLU, n*a1, b1, r1),
			pool1.Forward(n, r1, q1),
			conv2.Forward(n, q1, p[4], c2),
			d.AddBias(n, 4, 14*14, c2, p[5]),
			bn2.ForwardTrain(n, c2, p[6], p[7], rm2, rv2, b2, sm2, si2),
			d.ActForward(kernels.ReLU, n*a2, b2, r2),
			pool2.Forward(n, r2, q2),
			linear(d, n, 196, 10, q2, p[8], p[9], z),
			d.LossForward(kernels.CrossEntropy, n, 10, z, m.y, dz, m.lossSum, m.hits),

			linearBack(d, n, 196, 10, q2, p[8], dz, g[8], g[9], dq2),
			pool2.Backward(n, r2, q2, dq2, dr2),
			d.ActBackward(kernels.ReLU, n*a2, b2, r2, dr2, db2),
			bn2.Backward(n, c2, db2, p[6], sm2, si2, dc2, g[6], g[7]),
			d.BiasGrad(n, 4, 14*14, dc2, g[5]),
			conv2.BackwardFilter(n, q1, dc2, g[4]),
			conv2.BackwardData(n, dc2, p[4], dq1),
			pool1.Backward(n, r1, q1, dq1, dr1),
			d.ActBackward(kernels.ReLU, n*a1, b1, r1, dr1, db1),
			bn1.Backward(n, c1, db1, p[2], sm1, si1, dc1, g[2], g[3]),
			d.BiasGrad(n, 4, 28*28, dc1, g[1]),
			conv1.BackwardFilter(n, m.x, dc1, g[0]),
			d.SGD(m.count, 0.05, 0.9, 0, m.params, m.grads, m.vel),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	return m
}

// train runs steps training steps and returns the mean loss of the last.
func (m *net) train(t testing.TB, steps int) float64 {
	t.Helper()
	var last float32
	for i := 0; i < steps; i++ {
		must(t, m.d.Fill(m.lossSum, 0))
		must(t, m.step())
		out := make([]float32, 1)
		must(t, m.d.Download(out, m.lossSum))
		last = out[0]
	}
	return float64(last) / float64(m.n)
}

// TestModelsLearn is a smoke test of the whole chain: both models fit a
// fixed batch of synthetic digits.
func TestModelsLearn(t *testing.T) {
	d := New(2)
	defer d.Close()
	for name, m := range map[string]*net{"mlp": newMLP(t, d, 32), "cnn": newCNN(t, d, 32)} {
		first := m.train(t, 1)
		last := m.train(t, 60)
		if !(last < 0.25*first) || math.IsNaN(last) {
			t.Errorf("%s: loss %.4f after 60 steps, %.4f at the first", name, last, first)
		}
	}
}

// TestStepAllocatesNothing runs training steps of both models plus the ops
// they do not use (dropout, Mul, Adam, MSE and NLL losses, Softmax,
// inference BN, Copy, Fill) and requires zero allocations after warm-up.
func TestStepAllocatesNothing(t *testing.T) {
	d := New(2)
	defer d.Close()
	const n = 64
	mlp, cnn := newMLP(t, d, n), newCNN(t, d, n)
	a := func(k int) kernels.Buffer { b, err := d.Alloc(kernels.F32, k); must(t, err); return b }
	x, mask, y, dx := a(n*128), a(n*128), a(n*128), a(n*128)
	pm, pv := a(mlp.count), a(mlp.count)
	bn, err := d.NewBatchNorm(128, 1, n, 1e-5, 0.1)
	must(t, err)
	gam, bet, rm, rv := a(128), a(128), a(128), a(128)
	logits, probs := a(n*10), a(n*10)
	var step uint64
	extra := func() error {
		step++
		for _, err := range []error{
			d.DropoutForward(n*128, 0.5, 1234, step, x, mask, y),
			d.Mul(n*128, y, mask, dx),
			d.Adam(mlp.count, 1e-3, 0.9, 0.999, 1e-8, 1e-4, int(step), mlp.params, mlp.grads, pm, pv),
			d.LossForward(kernels.MSE, n, 10, logits, mlp.y, probs, mlp.lossSum, mlp.hits),
			d.LossForward(kernels.NLL, n, 10, logits, mlp.y, nil, mlp.lossSum, mlp.hits),
			d.Softmax(n, 10, logits, probs),
			bn.ForwardInfer(n, x, gam, bet, rm, rv, y),
			d.Copy(y, x),
			d.Fill(y, 0),
			d.Sync(),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	run := func() {
		for _, f := range []func() error{mlp.step, cnn.step, extra} {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run() // warm-up
	if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
		t.Errorf("a training step allocates %v times", allocs)
	}
}

// The benchmarks run one training step at batch 64 and report the time a
// 54,000-image epoch would take (843.75 steps), on this build's kernel path
// and, when that is a vector path, on the Go loops too (sub-benchmarks
// named by KernelPath).
func benchStep(b *testing.B, build func(testing.TB, *Device, int) *net) {
	forEachPath(b, func(b *testing.B) {
		d := New(0)
		defer d.Close()
		m := build(b, d, 64)
		must(b, m.step())
		for b.Loop() {
			if err := m.step(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*54000/64, "s/epoch")
	})
}

// BenchmarkMLPEpoch is one training step of the MLP (forward, backward
// without the unneeded input gradient, SGD with momentum).
func BenchmarkMLPEpoch(b *testing.B) { benchStep(b, newMLP) }

// BenchmarkCNNStep is one training step of the CNN.
func BenchmarkCNNStep(b *testing.B) { benchStep(b, newCNN) }
