package cpu

// Finite-difference gradient checks: for every op with a backward, the
// scalar L = Σ out·R (R random) is differentiated twice, analytically by the
// device's float32 backward and numerically by central differences of a
// float64 reference forward (ref_test.go).

import (
	"fmt"
	"math"
	"testing"

	"mnistgpu/kernels"
)

func TestGradGemm(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(1)
	const m, n, k = 5, 4, 7
	const alpha = 1.25
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		name := fmt.Sprintf("transA=%v,transB=%v", tr[0], tr[1])
		a, b, rr := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
		ab, bb, rb := alloc32(t, d, a, 0), alloc32(t, d, b, 0), alloc32(t, d, rr, 0)
		cb, da, db := alloc32(t, d, nil, m*n), alloc32(t, d, nil, m*k), alloc32(t, d, nil, k*n)
		must(t, d.Gemm(tr[0], tr[1], m, n, k, alpha, ab, bb, 0, cb))
		checkClose(t, name+" forward", cb.f32, refGemm(tr[0], tr[1], m, n, k, alpha, a, b, 0, make([]float32, m*n)), 1e-5)
		// d op(A) = alpha·R·op(B)ᵀ and d op(B) = alpha·op(A)ᵀ·R, written for
		// the stored layouts, exactly as a model's Linear backward does.
		if !tr[0] {
			must(t, d.Gemm(false, !tr[1], m, k, n, alpha, rb, bb, 0, da))
		} else {
			must(t, d.Gemm(tr[1], true, k, m, n, alpha, bb, rb, 0, da))
		}
		if !tr[1] {
			must(t, d.Gemm(!tr[0], false, k, n, m, alpha, ab, rb, 0, db))
		} else {
			must(t, d.Gemm(true, tr[0], n, k, m, alpha, rb, ab, 0, db))
		}
		r64 := f64(rr)
		loss := func(a, b []float64) float64 {
			var s float64
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var c float64
					for p := 0; p < k; p++ {
						av, bv := a[i*k+p], b[p*n+j]
						if tr[0] {
							av = a[p*m+i]
						}
						if tr[1] {
							bv = b[j*k+p]
						}
						c += av * bv
					}
					s += alpha * c * r64[i*n+j]
				}
			}
			return s
		}
		a64, b64 := f64(a), f64(b)
		checkGrad(t, name+" dA", da.f32, numGrad(a64, func(x []float64) float64 { return loss(x, b64) }))
		checkGrad(t, name+" dB", db.f32, numGrad(b64, func(x []float64) float64 { return loss(a64, x) }))
	}
}

func TestGradBias(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(2)
	for _, sh := range [][3]int{{4, 3, 1}, {2, 3, 10}, {3, 1, 7}} {
		n, ch, sp := sh[0], sh[1], sh[2]
		x, bias, rr := randSlice(r, n*ch*sp), randSlice(r, ch), randSlice(r, n*ch*sp)
		yb, bb, rb, db := alloc32(t, d, x, 0), alloc32(t, d, bias, 0), alloc32(t, d, rr, 0), alloc32(t, d, nil, ch)
		must(t, d.AddBias(n, ch, sp, yb, bb))
		ref := func(b []float64) []float64 {
			y := f64(x)
			for i := range y {
				y[i] += b[(i/sp)%ch]
			}
			return y
		}
		checkClose(t, "AddBias", yb.f32, ref(f64(bias)), 1e-6)
		must(t, d.BiasGrad(n, ch, sp, rb, db))
		checkGrad(t, fmt.Sprint("BiasGrad ", sh), db.f32, numGrad(f64(bias), func(b []float64) float64 { return dot(ref(b), f64(rr)) }))
	}
}

func TestGradConv(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(3)
	for _, tc := range []struct {
		s kernels.ConvShape
		n int
	}{
		{kernels.ConvShape{C: 1, H: 6, W: 5, K: 3, OutC: 4}, 3},
		{kernels.ConvShape{C: 4, H: 5, W: 5, K: 3, OutC: 4}, 2},
		{kernels.ConvShape{C: 3, H: 4, W: 4, K: 1, OutC: 2}, 3},
		{kernels.ConvShape{C: 2, H: 7, W: 6, K: 5, OutC: 3}, 2},
		{kernels.ConvShape{C: 2, H: 3, W: 8, K: 3, OutC: 1}, 1},
	} {
		s, n := tc.s, tc.n
		name := fmt.Sprintf("%+v n=%d", s, n)
		xs, ws := randSlice(r, n*s.C*s.H*s.W), randSlice(r, s.OutC*s.C*s.K*s.K)
		rr := randSlice(r, n*s.OutC*s.H*s.W)
		cv, err := d.NewConv2D(s, n+1)
		must(t, err)
		xb, wb, rb := alloc32(t, d, xs, 0), alloc32(t, d, ws, 0), alloc32(t, d, rr, 0)
		yb, dxb, dwb := alloc32(t, d, nil, len(rr)), alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, len(ws))
		must(t, cv.Forward(n, xb, wb, yb))
		checkClose(t, name+" forward", yb.f32, refConv(s, n, f64(xs), f64(ws)), 1e-5)
		must(t, cv.BackwardData(n, rb, wb, dxb))
		must(t, cv.BackwardFilter(n, xb, rb, dwb))
		x64, w64, r64 := f64(xs), f64(ws), f64(rr)
		checkGrad(t, name+" dx", dxb.f32, numGrad(x64, func(x []float64) float64 { return dot(refConv(s, n, x, w64), r64) }))
		checkGrad(t, name+" dw", dwb.f32, numGrad(w64, func(w []float64) float64 { return dot(refConv(s, n, x64, w), r64) }))
	}
}

func TestGradBatchNorm(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(4)
	for _, sh := range [][3]int{{3, 2, 5}, {8, 5, 1}, {2, 4, 9}} {
		n, ch, sp := sh[0], sh[1], sh[2]
		const eps, mom = 1e-5, 0.1
		name := fmt.Sprint("BatchNorm ", sh)
		xs, gs, bs := randSlice(r, n*ch*sp), randSlice(r, ch), randSlice(r, ch)
		for i := range xs {
			xs[i] = 2*xs[i] + 0.5 // mean and variance away from 0 and 1
		}
		rr := randSlice(r, n*ch*sp)
		rm0, rv0 := randSlice(r, ch), randSlice(r, ch)
		for i := range rv0 {
			rv0[i] = 1 + rv0[i]*rv0[i]
		}
		bn, err := d.NewBatchNorm(ch, sp, n, eps, mom)
		must(t, err)
		xb, gb, bb, rb := alloc32(t, d, xs, 0), alloc32(t, d, gs, 0), alloc32(t, d, bs, 0), alloc32(t, d, rr, 0)
		rmb, rvb := alloc32(t, d, rm0, 0), alloc32(t, d, rv0, 0)
		yb, smb, sib := alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, ch), alloc32(t, d, nil, ch)
		dxb, dgb, dbb := alloc32(t, d, nil, len(xs)), alloc32(t, d, nil, ch), alloc32(t, d, nil, ch)
		must(t, bn.ForwardTrain(n, xb, gb, bb, rmb, rvb, yb, smb, sib))
		x64, g64, b64, r64 := f64(xs), f64(gs), f64(bs), f64(rr)
		y, mean, variance := refBN(n, ch, sp, eps, x64, g64, b64)
		checkClose(t, name+" y", yb.f32, y, 1e-5)
		checkClose(t, name+" saveMean", smb.f32, mean, 1e-6)
		N := float64(n * sp)
		wantRM, wantRV, wantIS := make([]float64, ch), make([]float64, ch), make([]float64, ch)
		for c := range wantRM {
			wantIS[c] = 1 / math.Sqrt(variance[c]+eps)
			wantRM[c] = (1-mom)*float64(rm0[c]) + mom*mean[c]
			wantRV[c] = (1-mom)*float64(rv0[c]) + mom*variance[c]*N/(N-1)
		}
		checkClose(t, name+" saveInvStd", sib.f32, wantIS, 1e-6)
		checkClose(t, name+" runMean", rmb.f32, wantRM, 1e-6)
		checkClose(t, name+" runVar", rvb.f32, wantRV, 1e-6)

		must(t, bn.Backward(n, xb, rb, gb, smb, sib, dxb, dgb, dbb))
		L := func(x, g, b []float64) float64 {
			y, _, _ := refBN(n, ch, sp, eps, x, g, b)
			return dot(y, r64)
		}
		checkGrad(t, name+" dx", dxb.f32, numGrad(x64, func(x []float64) float64 { return L(x, g64, b64) }))
		checkGrad(t, name+" dgamma", dgb.f32, numGrad(g64, func(g []float64) float64 { return L(x64, g, b64) }))
		checkGrad(t, name+" dbeta", dbb.f32, numGrad(b64, func(b []float64) float64 { return L(x64, g64, b) }))

		// Inference uses the running statistics just updated.
		must(t, bn.ForwardInfer(n, xb, gb, bb, rmb, rvb, yb))
		want := make([]float64, len(xs))
		for i := range want {
			c := (i / sp) % ch
			want[i] = (x64[i]-float64(rmb.f32[c]))/math.Sqrt(float64(rvb.f32[c])+eps)*g64[c] + b64[c]
		}
		checkClose(t, name+" infer", yb.f32, want, 1e-5)
	}
}

func TestGradMaxPool(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(5)
	for _, sh := range [][4]int{{2, 3, 6, 6}, {1, 2, 5, 7}, {3, 1, 4, 2}} {
		n, ch, h, w := sh[0], sh[1], sh[2], sh[3]
		name := fmt.Sprint("MaxPool ", sh)
		xs := randSlice(r, n*ch*h*w)
		out := n * ch * (h / 2) * (w / 2)
		rr := randSlice(r, out)
		mp, err := d.NewMaxPool(ch, h, w, n)
		must(t, err)
		xb, yb, rb, dxb := alloc32(t, d, xs, 0), alloc32(t, d, nil, out), alloc32(t, d, rr, 0), alloc32(t, d, nil, len(xs))
		must(t, d.Fill(dxb, 7)) // Backward must overwrite every element
		must(t, mp.Forward(n, xb, yb))
		checkClose(t, name+" forward", yb.f32, refPool(n*ch, h, w, f64(xs)), 0)
		must(t, mp.Backward(n, xb, yb, rb, dxb))
		checkGrad(t, name+" dx", dxb.f32, numGrad(f64(xs), func(x []float64) float64 { return dot(refPool(n*ch, h, w, x), f64(rr)) }))
	}
}

func TestGradActivation(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(6)
	for _, act := range []kernels.Activation{kernels.ReLU, kernels.Sigmoid, kernels.Tanh, kernels.Identity} {
		const count = 50
		xs, rr := randSlice(r, count), randSlice(r, count)
		for i, v := range xs {
			if math.Abs(float64(v)) < 0.05 { // keep away from ReLU's kink
				xs[i] = 0.5
			}
		}
		xb, yb, rb, dxb := alloc32(t, d, xs, 0), alloc32(t, d, nil, count), alloc32(t, d, rr, 0), alloc32(t, d, nil, count)
		must(t, d.ActForward(act, count, xb, yb))
		checkClose(t, act.String()+" forward", yb.f32, refAct(act, f64(xs)), 1e-6)
		must(t, d.ActBackward(act, count, xb, yb, rb, dxb))
		checkGrad(t, act.String()+" dx", dxb.f32, numGrad(f64(xs), func(x []float64) float64 { return dot(refAct(act, x), f64(rr)) }))
	}
}

func TestGradDropout(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(7)
	const count, p, seed, step = 300, 0.3, 42, 9
	xs, rr := randSlice(r, count), randSlice(r, count)
	xb, mb, yb, rb, dxb := alloc32(t, d, xs, 0), alloc32(t, d, nil, count), alloc32(t, d, nil, count), alloc32(t, d, rr, 0), alloc32(t, d, nil, count)
	must(t, d.DropoutForward(count, p, seed, step, xb, mb, yb))
	must(t, d.Mul(count, rb, mb, dxb))
	// The reference draws its own mask from the documented function.
	ref := func(x []float64) []float64 {
		y := make([]float64, len(x))
		for i := range x {
			if kernels.DropoutUniform(seed, step, i) >= p {
				y[i] = x[i] / (1 - p)
			}
		}
		return y
	}
	checkClose(t, "dropout forward", yb.f32, ref(f64(xs)), 1e-6)
	checkGrad(t, "dropout dx", dxb.f32, numGrad(f64(xs), func(x []float64) float64 { return dot(ref(x), f64(rr)) }))
}

func TestGradLoss(t *testing.T) {
	d := New(2)
	defer d.Close()
	r := testRand(8)
	const n, classes = 6, 5
	for _, loss := range []kernels.Loss{kernels.CrossEntropy, kernels.NLL, kernels.MSE} {
		zs := randSlice(r, n*classes)
		for i := range zs {
			zs[i] *= 3
		}
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(r.IntN(classes))
		}
		zb, lb, gb := alloc32(t, d, zs, 0), allocI32(t, d, labels), alloc32(t, d, nil, n*classes)
		sum, correct := alloc32(t, d, []float32{1}, 0), alloc32(t, d, []float32{2}, 0)
		must(t, d.LossForward(loss, n, classes, zb, lb, gb, sum, correct))
		want := refLoss(loss, n, classes, f64(zs), labels)
		checkClose(t, loss.String()+" lossSum", sum.f32, []float64{1 + n*want}, 1e-6)
		hits := 0
		for i := 0; i < n; i++ {
			best := 0
			for j := 1; j < classes; j++ {
				if zs[i*classes+j] > zs[i*classes+best] {
					best = j
				}
			}
			if best == int(labels[i]) {
				hits++
			}
		}
		if correct.f32[0] != float32(2+hits) {
			t.Errorf("%v correct = %v, want %d", loss, correct.f32[0], 2+hits)
		}
		checkGrad(t, loss.String()+" dlogits", gb.f32, numGrad(f64(zs), func(z []float64) float64 { return refLoss(loss, n, classes, z, labels) }))
	}
}
