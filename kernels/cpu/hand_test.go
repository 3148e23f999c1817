package cpu

// Hand-worked examples: losses, optimizers, gathers, dropout's generator
// and max-pool's tie rule.

import (
	"math"
	"slices"
	"testing"

	"mnistgpu/kernels"
)

// Two samples, three classes:
//
//	row 0: z = [1, 2, 3], label 2.  z - max = [-2, -1, 0],
//	       S = e^-2 + e^-1 + 1 = 0.1353352832 + 0.3678794412 + 1 = 1.5032147244,
//	       lse = 3 + ln S = 3.4076059644, p = e^(z-lse) = [0.0900305732, 0.2447284711, 0.6652409558].
//	       CE = lse - z_2 = 0.4076059644.  arg-max 2 = label: correct.
//	row 1: z = [0, 0, 0], label 0.  p = [1/3, 1/3, 1/3], CE = ln 3 = 1.0986122887.
//	       arg-max: a three-way tie, resolved to the lowest index 0 = label: correct.
//
//	CE/NLL sum = 1.5062182531; correct = 2.
//	dlogits (batch mean, n = 2) = (p - onehot)/2:
//	       row 0: [0.0450152866, 0.1223642355, -0.1673795221]
//	       row 1: [-1/3, 1/6, 1/6]
//	MSE: row 0 Σ(p - t)²/3 = (0.0081055041 + 0.0598920249 + 0.1120636182)/3 = 0.0600203821;
//	     row 1 ((2/3)² + 2·(1/3)²)/3 = 2/9.  Sum = 0.2822426043.
//	     g = 2(p - t)/(n·3) = (p - t)/3; dz_j = p_j (g_j - Σ_c g_c p_c):
//	       row 0: [0.0073443482, 0.0325836682, -0.0399280164]
//	       row 1: g = [-2/9, 1/9, 1/9], Σ g p = 0, dz = [-2/27, 1/27, 1/27]
func TestLossHandWorked(t *testing.T) {
	d := New(2)
	defer d.Close()
	ce := []float64{0.0450152866, 0.1223642355, -0.1673795221, -1.0 / 3, 1.0 / 6, 1.0 / 6}
	for _, tc := range []struct {
		loss  kernels.Loss
		sum   float64
		dlogi []float64
	}{
		{kernels.CrossEntropy, 1.5062182531, ce},
		{kernels.NLL, 1.5062182531, ce},
		{kernels.MSE, 0.2822426043, []float64{0.0073443482, 0.0325836682, -0.0399280164, -2.0 / 27, 1.0 / 27, 1.0 / 27}},
	} {
		z := alloc32(t, d, []float32{1, 2, 3, 0, 0, 0}, 0)
		labels := allocI32(t, d, []int32{2, 0})
		g, sum, correct := alloc32(t, d, nil, 6), alloc32(t, d, nil, 1), alloc32(t, d, nil, 1)
		must(t, d.LossForward(tc.loss, 2, 3, z, labels, g, sum, correct))
		checkClose(t, tc.loss.String()+" sum", sum.f32, []float64{tc.sum}, 1e-7)
		checkClose(t, tc.loss.String()+" dlogits", g.f32, tc.dlogi, 1e-7)
		if correct.f32[0] != 2 {
			t.Errorf("%v: correct = %v, want 2", tc.loss, correct.f32[0])
		}
		// Accumulation, and dlogits = nil (evaluation).
		must(t, d.LossForward(tc.loss, 2, 3, z, labels, nil, sum, correct))
		checkClose(t, tc.loss.String()+" sum twice", sum.f32, []float64{2 * tc.sum}, 1e-7)
		if correct.f32[0] != 4 {
			t.Errorf("%v: correct = %v after two calls, want 4", tc.loss, correct.f32[0])
		}
	}
	// Softmax of the same rows.
	z, p := alloc32(t, d, []float32{1, 2, 3, 0, 0, 0}, 0), alloc32(t, d, nil, 6)
	must(t, d.Softmax(2, 3, z, p))
	checkClose(t, "softmax", p.f32, []float64{0.0900305732, 0.2447284711, 0.6652409558, 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-7)
	// A label out of range is an error, and nothing is accumulated.
	bad := allocI32(t, d, []int32{2, 3})
	sum, correct := alloc32(t, d, nil, 1), alloc32(t, d, nil, 1)
	if err := d.LossForward(kernels.CrossEntropy, 2, 3, z, bad, nil, sum, correct); err == nil || sum.f32[0] != 0 {
		t.Errorf("label 3 of 3 classes: err = %v, sum = %v", err, sum.f32[0])
	}
}

// SGD, lr 0.1, momentum 0.9, wd 0.01, p = 1, grad 0.5 twice:
//
//	step 1: g = 0.5 + 0.01·1 = 0.51;      v = 0.51;                    p = 1 - 0.051 = 0.949
//	step 2: g = 0.5 + 0.01·0.949 = 0.50949; v = 0.9·0.51 + 0.50949 = 0.96849; p = 0.949 - 0.096849 = 0.852151
//
// Without momentum or decay (lr 0.1): p = 1 - 0.05 = 0.95, then 0.90.
//
// Adam, lr 0.01, β = (0.9, 0.999), eps 1e-8, wd 0.1, p = 1, grads 0.5 then -1:
//
//	step 1: g = 0.5 + 0.1 = 0.6; m = 0.06; v = 0.001·0.36 = 0.00036;
//	        m̂ = 0.06/0.1 = 0.6, v̂ = 0.00036/0.001 = 0.36, p = 1 - 0.01·0.6/(0.6 + 1e-8) = 0.99000000017
//	step 2: g = -1 + 0.1·0.99 = -0.901; m = 0.054 - 0.0901 = -0.0361;
//	        v = 0.999·0.00036 + 0.001·0.811801 = 0.001171441;
//	        m̂ = -0.0361/0.19 = -0.19, v̂ = 0.001171441/0.001999 = 0.5860135, √v̂ = 0.7655152;
//	        p = 0.99 + 0.01·0.19/0.7655152 = 0.99248199
func TestOptimizersHandWorked(t *testing.T) {
	d := New(2)
	defer d.Close()
	p, g, v := alloc32(t, d, []float32{1}, 0), alloc32(t, d, []float32{0.5}, 0), alloc32(t, d, nil, 1)
	must(t, d.SGD(1, 0.1, 0.9, 0.01, p, g, v))
	checkClose(t, "sgd step 1", p.f32, []float64{0.949}, 1e-6)
	checkClose(t, "sgd vel 1", v.f32, []float64{0.51}, 1e-6)
	must(t, d.SGD(1, 0.1, 0.9, 0.01, p, g, v))
	checkClose(t, "sgd step 2", p.f32, []float64{0.852151}, 1e-6)
	checkClose(t, "sgd vel 2", v.f32, []float64{0.96849}, 1e-6)

	p2 := alloc32(t, d, []float32{1}, 0)
	must(t, d.SGD(1, 0.1, 0, 0, p2, g, nil)) // vel unused without momentum
	must(t, d.SGD(1, 0.1, 0, 0, p2, g, nil))
	checkClose(t, "plain sgd", p2.f32, []float64{0.9}, 1e-6)

	p3, m, v3 := alloc32(t, d, []float32{1}, 0), alloc32(t, d, nil, 1), alloc32(t, d, nil, 1)
	must(t, d.Adam(1, 0.01, 0.9, 0.999, 1e-8, 0.1, 1, p3, g, m, v3))
	checkClose(t, "adam step 1", p3.f32, []float64{0.99000000017}, 1e-7)
	checkClose(t, "adam m 1", m.f32, []float64{0.06}, 1e-7)
	checkClose(t, "adam v 1", v3.f32, []float64{0.00036}, 1e-7)
	must(t, d.Upload(g, []float32{-1}))
	must(t, d.Adam(1, 0.01, 0.9, 0.999, 1e-8, 0.1, 2, p3, g, m, v3))
	checkClose(t, "adam step 2", p3.f32, []float64{0.99248199}, 1e-7)
	checkClose(t, "adam m 2", m.f32, []float64{-0.0361}, 1e-7)
	checkClose(t, "adam v 2", v3.f32, []float64{0.001171441}, 1e-7)
	if err := d.Adam(1, 0.01, 0.9, 0.999, 1e-8, 0, 0, p3, g, m, v3); err == nil {
		t.Error("Adam step 0: no error")
	}
}

// Three 4-pixel images, mean 0.5, std 0.25: (v/255 - 0.5)/0.25 maps
// 0 → -2, 51 → -1.2, 102 → -0.4, 255 → 2.
func TestGatherHandWorked(t *testing.T) {
	d := New(2)
	defer d.Close()
	data, err := d.Alloc(kernels.U8, 12)
	must(t, err)
	must(t, d.Upload(data, []uint8{0, 255, 51, 102, 9, 9, 9, 9, 255, 0, 102, 51}))
	labels, err := d.Alloc(kernels.U8, 3)
	must(t, err)
	must(t, d.Upload(labels, []uint8{7, 3, 9}))
	idx := allocI32(t, d, []int32{2, 0})
	dst, ld := alloc32(t, d, nil, 8), allocI32(t, d, []int32{-1, -1})
	must(t, d.GatherImages(2, 4, data, idx, dst, 0.5, 0.25))
	checkClose(t, "images", dst.f32, []float64{2, -2, -0.4, -1.2, -2, 2, -1.2, -0.4}, 1e-6)
	must(t, d.GatherLabels(2, labels, idx, ld))
	if ld.i32[0] != 9 || ld.i32[1] != 7 {
		t.Errorf("labels = %v, want [9 7]", ld.i32)
	}
	bad := allocI32(t, d, []int32{0, 3})
	if err := d.GatherImages(2, 4, data, bad, dst, 0.5, 0.25); err == nil {
		t.Error("GatherImages with idx 3 of 3 images: no error")
	}
	if err := d.GatherLabels(2, labels, bad, ld); err == nil {
		t.Error("GatherLabels with idx 3 of 3 labels: no error")
	}
}

// Dropout draws its mask from kernels.DropoutUniform (shared with the CUDA
// device), is deterministic in (seed, step), keeps 1-p of the elements and
// changes with the step.
func TestDropoutMask(t *testing.T) {
	d := New(2)
	defer d.Close()
	const count = 1 << 16
	x := alloc32(t, d, nil, count)
	must(t, d.Fill(x, 1))
	for _, p := range []float32{0, 0.25, 0.5, 1} {
		m1, m2, y := alloc32(t, d, nil, count), alloc32(t, d, nil, count), alloc32(t, d, nil, count)
		must(t, d.DropoutForward(count, p, 3, 5, x, m1, y))
		must(t, d.DropoutForward(count, p, 3, 5, x, m2, y))
		kept := 0
		for i, v := range m1.f32 {
			if v != m2.f32[i] {
				t.Fatalf("p=%v: mask differs between identical calls at %d", p, i)
			}
			if keep := kernels.DropoutUniform(3, 5, i) >= p && p < 1; keep != (v != 0) {
				t.Fatalf("p=%v: element %d kept = %v, kernels.DropoutUniform says %v", p, i, v != 0, keep)
			}
			if v != 0 {
				kept++
				if p < 1 && v != 1/(1-p) {
					t.Fatalf("p=%v: mask value %v, want %v", p, v, 1/(1-p))
				}
			}
		}
		if frac := float64(kept) / count; !(frac >= float64(1-p)-0.01 && frac <= float64(1-p)+0.01) {
			t.Errorf("p=%v: kept %.4f of elements", p, frac)
		}
	}
	// Another step gives another mask.
	m1, m2, y := alloc32(t, d, nil, count), alloc32(t, d, nil, count), alloc32(t, d, nil, count)
	must(t, d.DropoutForward(count, 0.5, 3, 5, x, m1, y))
	must(t, d.DropoutForward(count, 0.5, 3, 6, x, m2, y))
	same := 0
	for i := range m1.f32 {
		if m1.f32[i] == m2.f32[i] {
			same++
		}
	}
	if same > count*55/100 {
		t.Errorf("masks of steps 5 and 6 agree on %d of %d elements", same, count)
	}
}

// Ties in a window go to the first element in row-major order; NaN wins.
func TestMaxPoolTies(t *testing.T) {
	d := New(1)
	defer d.Close()
	nan := float32(0)
	nan = nan / nan
	// One 4×4 plane; windows: all 1 (first wins), two 2s (first, at (0,3)),
	// a NaN (wins though 5 is larger), two 5s below a 4 and a 6 (6 wins).
	x := []float32{
		1, 1, 0, 2,
		1, 1, 2, 0,
		-1, -2, 5, 4,
		nan, -1, 5, 6,
	}
	mp, err := d.NewMaxPool(1, 4, 4, 1)
	must(t, err)
	xb, yb, dy, dx := alloc32(t, d, x, 0), alloc32(t, d, nil, 4), alloc32(t, d, []float32{10, 20, 30, 40}, 0), alloc32(t, d, nil, 16)
	must(t, mp.Forward(1, xb, yb))
	if yb.f32[0] != 1 || yb.f32[1] != 2 || yb.f32[2] == yb.f32[2] || yb.f32[3] != 6 {
		t.Errorf("y = %v, want [1 2 NaN 6]", yb.f32)
	}
	must(t, mp.Backward(1, xb, yb, dy, dx))
	want := []float32{
		10, 0, 0, 20,
		0, 0, 0, 0,
		0, 0, 0, 0,
		30, 0, 0, 40,
	}
	for i, w := range want {
		if dx.f32[i] != w {
			t.Fatalf("dx = %v, want %v", dx.f32, want)
		}
	}
}

// ReLU's edge cases: NaN propagates forward and gets no gradient; 0 gets
// no gradient.
func TestReLUEdges(t *testing.T) {
	d := New(1)
	defer d.Close()
	nan := float32(math.NaN())
	x := alloc32(t, d, []float32{-1, 0, 2, nan, float32(math.Inf(1))}, 0)
	y, dy, dx := alloc32(t, d, nil, 5), alloc32(t, d, []float32{1, 1, 1, 1, 1}, 0), alloc32(t, d, nil, 5)
	must(t, d.ActForward(kernels.ReLU, 5, x, y))
	if y.f32[0] != 0 || y.f32[1] != 0 || y.f32[2] != 2 || !math.IsNaN(float64(y.f32[3])) || !math.IsInf(float64(y.f32[4]), 1) {
		t.Errorf("relu = %v", y.f32)
	}
	must(t, d.ActBackward(kernels.ReLU, 5, x, y, dy, dx))
	if !slices.Equal(dx.f32, []float32{0, 0, 1, 0, 1}) {
		t.Errorf("relu backward = %v, want [0 0 1 0 1]", dx.f32)
	}
}
