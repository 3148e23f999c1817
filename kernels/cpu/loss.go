package cpu

import (
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// LossForward computes the loss of logits [n, classes] against int32 labels
// in [0, classes). It adds the summed per-sample loss to lossSum[0] and the
// number of rows whose arg-max (ties: lowest index) equals the label to
// correct[0], and, when dlogits is not nil, writes the gradient of the
// batch-mean loss. Rows are computed in float64 with the row max subtracted
// (lse = max + log Σ_j exp(z_j - max)) and rounded once:
//
//	CrossEntropy: loss = lse - z_y;                 dz_j = (p_j - [j=y]) / n
//	NLL:          logp_j = z_j - lse, loss = -logp_y; dz_j = (exp(logp_j) - [j=y]) / n
//	MSE:          p = softmax(z), loss = Σ_c (p_c - [c=y])² / classes;
//	              with g_c = 2(p_c - [c=y]) / (n·classes) (d mean / d p_c),
//	              dz_j = p_j (g_j - Σ_c g_c p_c)  (the softmax Jacobian).
//
// CrossEntropy and NLL are the same function, computed along PyTorch's two
// routes.
func (d *Device) LossForward(loss kernels.Loss, n, classes int, logits, labels, dlogits, lossSum, correct kernels.Buffer) error {
	if err := kernels.CheckLoss(loss, n, classes, logits, labels, dlogits, lossSum, correct); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	zs, err := d.f32("LossForward", "logits", logits, n*classes)
	if err != nil {
		return err
	}
	ys, err := d.i32("LossForward", "labels", labels, n)
	if err != nil {
		return err
	}
	var dz []float32
	if !kernels.IsNil(dlogits) {
		if dz, err = d.f32("LossForward", "dlogits", dlogits, n*classes); err != nil {
			return err
		}
	}
	ls, err := d.f32("LossForward", "lossSum", lossSum, 1)
	if err != nil {
		return err
	}
	cs, err := d.f32("LossForward", "correct", correct, 1)
	if err != nil {
		return err
	}
	if err := kernels.CheckLabels("LossForward", ys, classes); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if cap(d.lossP) < classes {
		d.lossP = make([]float64, classes)
	}
	p := d.lossP[:classes]
	inv := 1 / float64(n)           // CE, NLL: the batch mean's 1/n
	scale := 2 / float64(n*classes) // MSE: g_c = scale·(p_c - [c=y])
	var sum float64
	hits := 0
	for i, y := range ys {
		z := zs[i*classes : (i+1)*classes]
		best, arg := z[0], 0
		for j, v := range z {
			if v > best {
				best, arg = v, j
			}
		}
		if arg == int(y) {
			hits++
		}
		lse := logSumExp(z)
		var g []float32
		if dz != nil {
			g = dz[i*classes : (i+1)*classes]
		}
		switch loss {
		case kernels.CrossEntropy:
			sum += lse - float64(z[y])
			for j := range g {
				q := math.Exp(float64(z[j]) - lse)
				if j == int(y) {
					q--
				}
				g[j] = float32(q * inv)
			}
		case kernels.NLL:
			// logp = log_softmax(z); loss = -logp[y].
			for j, v := range z {
				p[j] = float64(v) - lse
			}
			sum -= p[y]
			for j := range g {
				q := math.Exp(p[j])
				if j == int(y) {
					q--
				}
				g[j] = float32(q * inv)
			}
		case kernels.MSE:
			for j, v := range z {
				p[j] = math.Exp(float64(v) - lse)
			}
			var l, gp float64
			for c, pc := range p {
				e := pc
				if c == int(y) {
					e--
				}
				l += e * e
				gp += scale * e * pc // Σ_c g_c p_c
			}
			sum += l / float64(classes)
			for j := range g {
				e := p[j]
				if j == int(y) {
					e--
				}
				g[j] = float32(p[j] * (scale*e - gp))
			}
		}
	}
	ls[0] += float32(sum)
	cs[0] += float32(hits)
	return nil
}

// logSumExp is log Σ_j exp(z_j) in float64, with the max subtracted first.
func logSumExp(z []float32) float64 {
	m := float64(z[0])
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// Softmax writes the row-wise softmax of x [n, classes] into y (computed in
// float64 with the row max subtracted).
func (d *Device) Softmax(n, classes int, x, y kernels.Buffer) error {
	if err := kernels.CheckSoftmax(n, classes, x, y); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	xs, err := d.f32("Softmax", "x", x, n*classes)
	if err != nil {
		return err
	}
	ys, err := d.f32("Softmax", "y", y, n*classes)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		z := xs[i*classes : (i+1)*classes]
		out := ys[i*classes : (i+1)*classes]
		lse := logSumExp(z)
		for j, v := range z {
			out[j] = float32(math.Exp(float64(v) - lse))
		}
	}
	return nil
}
