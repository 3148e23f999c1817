// Package kernelstest is the device contract's conformance suite: the same
// calls, good and bad, run against every kernels.Device (the CPU device, the
// GPU device on the fake CUDA libraries, a real GPU), which must give the
// same outcome. A bad call (a buffer too short or too long, a wrong element
// type, an index or label out of range, an unknown activation or loss)
// fails: at the call, or at the latest at the next Sync, for what a GPU can
// only see in device memory. A good call succeeds and gives the same values.
package kernelstest

import (
	"errors"
	"math"
	"testing"

	"mnistgpu/kernels"
)

// Run runs the conformance suite on dev. It allocates a few small buffers,
// frees them, and leaves dev with no pending error.
func Run(t *testing.T, dev kernels.Device) {
	t.Helper()
	s := &suite{dev: dev}
	defer s.free()
	if err := dev.Sync(); err != nil {
		t.Fatalf("%s: Sync before the suite: %v", dev.Name(), err)
	}
	t.Run("transfers", s.transfers)
	t.Run("gather", s.gather)
	t.Run("loss", s.loss)
	t.Run("shapes and types", s.shapes)
	t.Run("plans", s.plans)
	t.Run("step ops", s.stepOps)
	t.Run("fused plan ops", s.fusedPlans)
	if err := dev.Sync(); err != nil {
		t.Errorf("%s: Sync after the suite: %v", dev.Name(), err)
	}
}

type suite struct {
	dev  kernels.Device
	bufs []kernels.Buffer
}

func (s *suite) alloc(t *testing.T, dt kernels.DType, n int) kernels.Buffer {
	t.Helper()
	b, err := s.dev.Alloc(dt, n)
	if err != nil {
		t.Fatalf("Alloc(%v, %d): %v", dt, n, err)
	}
	s.bufs = append(s.bufs, b)
	return b
}

func (s *suite) free() {
	for _, b := range s.bufs {
		s.dev.Free(b)
	}
}

// fails reports whether a call failed, at the call or at the next Sync.
// The error is returned for further checks.
func (s *suite) fails(err error) (bool, error) {
	if err != nil {
		// A device may also have flagged the call on the device: clear it.
		s.dev.Sync()
		return true, err
	}
	err = s.dev.Sync()
	return err != nil, err
}

// bad checks that each named call fails.
func (s *suite) bad(t *testing.T, cases map[string]func() error) {
	t.Helper()
	for name, call := range cases {
		if failed, _ := s.fails(call()); !failed {
			t.Errorf("%s: no error on %s", name, s.dev.Name())
		}
	}
}

// good checks that a call succeeds, Sync included.
func (s *suite) good(t *testing.T, name string, err error) {
	t.Helper()
	if failed, err := s.fails(err); failed {
		t.Fatalf("%s: %v", name, err)
	}
}

func (s *suite) transfers(t *testing.T) {
	d := s.dev
	f := s.alloc(t, kernels.F32, 4)
	u := s.alloc(t, kernels.U8, 4)
	i := s.alloc(t, kernels.I32, 4)
	s.good(t, "Upload of a shorter slice", d.Upload(f, []float32{1, 2, 3}))
	got := make([]float32, 2)
	s.good(t, "Download into a shorter slice", d.Download(got, f))
	if got[0] != 1 || got[1] != 2 {
		t.Errorf("Download gave %v, want [1 2]", got)
	}
	s.bad(t, map[string]func() error{
		"Upload u8 into f32":            func() error { return d.Upload(f, []uint8{1}) },
		"Upload f32 into i32":           func() error { return d.Upload(i, []float32{1}) },
		"Upload longer than the buffer": func() error { return d.Upload(u, []uint8{1, 2, 3, 4, 5}) },
		"Upload of []float64":           func() error { return d.Upload(f, []float64{1}) },
		"Download f32 into []int32":     func() error { return d.Download(make([]int32, 1), f) },
		"Download into a longer slice":  func() error { return d.Download(make([]float32, 5), f) },
		"Download into []float64":       func() error { return d.Download(make([]float64, 1), f) },
		"Fill of an i32 buffer":         func() error { return d.Fill(i, 1) },
		"Copy of mismatched buffers":    func() error { return d.Copy(f, i) },
		"Copy of different lengths":     func() error { return d.Copy(f, d.View(f, 0, 3)) },
	})
}

func (s *suite) gather(t *testing.T) {
	d := s.dev
	const rows, dim = 3, 2
	data := s.alloc(t, kernels.U8, rows*dim)
	labels := s.alloc(t, kernels.U8, rows)
	idx := s.alloc(t, kernels.I32, 2)
	dst := s.alloc(t, kernels.F32, 2*dim)
	lab := s.alloc(t, kernels.I32, 2)
	s.good(t, "Upload data", d.Upload(data, []uint8{0, 255, 51, 102, 204, 153}))
	s.good(t, "Upload labels", d.Upload(labels, []uint8{7, 1, 9}))
	s.good(t, "Upload idx", d.Upload(idx, []int32{2, 0}))
	s.good(t, "GatherImages", d.GatherImages(2, dim, data, idx, dst, 0, 1))
	s.good(t, "GatherLabels", d.GatherLabels(2, labels, idx, lab))
	img, l := make([]float32, 2*dim), make([]int32, 2)
	s.good(t, "Download images", d.Download(img, dst))
	s.good(t, "Download labels", d.Download(l, lab))
	wantImg := []float32{204.0 / 255, 153.0 / 255, 0, 1}
	for k := range wantImg {
		if !(math.Abs(float64(img[k]-wantImg[k])) <= 1e-6) {
			t.Errorf("GatherImages gave %v, want %v", img, wantImg)
			break
		}
	}
	if l[0] != 9 || l[1] != 7 {
		t.Errorf("GatherLabels gave %v, want [9 7]", l)
	}
	for _, bad := range [][]int32{{0, rows}, {-1, 0}, {1 << 30, 0}} {
		s.good(t, "Upload idx", d.Upload(idx, bad))
		for name, call := range map[string]func() error{
			"GatherImages": func() error { return d.GatherImages(2, dim, data, idx, dst, 0, 1) },
			"GatherLabels": func() error { return d.GatherLabels(2, labels, idx, lab) },
		} {
			failed, err := s.fails(call())
			if !failed {
				t.Errorf("%s with index %v: no error on %s", name, bad, d.Name())
			} else if !errors.Is(err, kernels.ErrRange) {
				t.Errorf("%s with index %v: error %v does not wrap kernels.ErrRange", name, bad, err)
			}
		}
	}
	// The device is usable again after a range error.
	s.good(t, "Upload idx", d.Upload(idx, []int32{1, 1}))
	s.good(t, "GatherLabels after an error", d.GatherLabels(2, labels, idx, lab))
	s.bad(t, map[string]func() error{
		"GatherImages with f32 data":    func() error { return d.GatherImages(2, dim, dst, idx, dst, 0, 1) },
		"GatherImages with a short dst": func() error { return d.GatherImages(2, dim+1, data, idx, dst, 0, 1) },
		"GatherImages with std 0":       func() error { return d.GatherImages(2, dim, data, idx, dst, 0, 0) },
		"GatherImages with n < 0":       func() error { return d.GatherImages(-1, dim, data, idx, dst, 0, 1) },
		"GatherLabels with f32 labels":  func() error { return d.GatherLabels(2, dst, idx, lab) },
		"GatherLabels with a short idx": func() error { return d.GatherLabels(3, labels, idx, lab) },
		"GatherLabels into f32":         func() error { return d.GatherLabels(2, labels, idx, dst) },
	})
}

func (s *suite) loss(t *testing.T) {
	d := s.dev
	const n, classes = 2, 3
	logits := s.alloc(t, kernels.F32, n*classes)
	dz := s.alloc(t, kernels.F32, n*classes)
	labels := s.alloc(t, kernels.I32, n)
	sum := s.alloc(t, kernels.F32, 1)
	correct := s.alloc(t, kernels.F32, 1)
	s.good(t, "Upload logits", d.Upload(logits, []float32{1, 2, 3, 3, 2, 1}))
	s.good(t, "Upload labels", d.Upload(labels, []int32{2, 0}))
	for _, loss := range []kernels.Loss{kernels.CrossEntropy, kernels.NLL, kernels.MSE} {
		s.good(t, "Fill", d.Fill(sum, 0))
		s.good(t, "Fill", d.Fill(correct, 0))
		s.good(t, "LossForward "+loss.String(), d.LossForward(loss, n, classes, logits, labels, dz, sum, correct))
		s.good(t, "LossForward "+loss.String()+" without dlogits", d.LossForward(loss, n, classes, logits, labels, nil, sum, correct))
		c := make([]float32, 1)
		s.good(t, "Download", d.Download(c, correct))
		if c[0] != 4 {
			t.Errorf("LossForward %v: correct = %v, want 4", loss, c[0])
		}
	}
	for _, bad := range [][]int32{{2, classes}, {-1, 0}} {
		s.good(t, "Upload labels", d.Upload(labels, bad))
		for _, loss := range []kernels.Loss{kernels.CrossEntropy, kernels.MSE} {
			failed, err := s.fails(d.LossForward(loss, n, classes, logits, labels, dz, sum, correct))
			if !failed {
				t.Errorf("LossForward %v with labels %v: no error on %s", loss, bad, d.Name())
			} else if !errors.Is(err, kernels.ErrRange) {
				t.Errorf("LossForward %v with labels %v: error %v does not wrap kernels.ErrRange", loss, bad, err)
			}
		}
	}
	s.good(t, "Upload labels", d.Upload(labels, []int32{0, 1}))
	s.bad(t, map[string]func() error{
		"LossForward with an unknown loss": func() error { return d.LossForward(kernels.Loss(9), n, classes, logits, labels, dz, sum, correct) },
		"LossForward with f32 labels":      func() error { return d.LossForward(kernels.CrossEntropy, n, classes, logits, logits, dz, sum, correct) },
		"LossForward with short logits": func() error {
			return d.LossForward(kernels.CrossEntropy, n, classes+1, logits, labels, nil, sum, correct)
		},
		"LossForward with classes 0": func() error { return d.LossForward(kernels.CrossEntropy, n, 0, logits, labels, nil, sum, correct) },
		"LossForward with an i32 lossSum": func() error {
			return d.LossForward(kernels.CrossEntropy, n, classes, logits, labels, nil, labels, correct)
		},
		"Softmax with a short y": func() error { return d.Softmax(n, classes, logits, sum) },
		"Softmax with i32 x":     func() error { return d.Softmax(1, 2, labels, logits) },
	})
}

func (s *suite) shapes(t *testing.T) {
	d := s.dev
	f4 := s.alloc(t, kernels.F32, 4)
	f8 := s.alloc(t, kernels.F32, 8)
	i4 := s.alloc(t, kernels.I32, 4)
	u4 := s.alloc(t, kernels.U8, 4)
	s.good(t, "Gemm", d.Gemm(false, false, 2, 2, 2, 1, f4, f4, 0, f8))
	s.good(t, "ActForward", d.ActForward(kernels.Tanh, 4, f4, f8))
	s.good(t, "SGD", d.SGD(4, 0.1, 0, 0, f4, f8, nil))
	s.good(t, "Adam", d.Adam(4, 0.1, 0.9, 0.999, 1e-8, 0, 1, f8, f4, f4, f4))
	s.bad(t, map[string]func() error{
		"Gemm with a short C":              func() error { return d.Gemm(false, false, 2, 3, 2, 1, f4, f8, 0, f4) },
		"Gemm with a u8 C":                 func() error { return d.Gemm(false, false, 2, 2, 2, 1, f4, f4, 0, u4) },
		"Gemm with a negative size":        func() error { return d.Gemm(false, false, -1, 2, 2, 1, f4, f4, 0, f4) },
		"AddBias with a short bias":        func() error { return d.AddBias(1, 5, 1, f8, f4) },
		"BiasGrad with a u8 dbias":         func() error { return d.BiasGrad(1, 4, 1, f4, u4) },
		"ActForward with i32 x":            func() error { return d.ActForward(kernels.ReLU, 4, i4, f4) },
		"ActForward unknown activation":    func() error { return d.ActForward(kernels.Activation(9), 4, f4, f4) },
		"ActForward with a short y":        func() error { return d.ActForward(kernels.ReLU, 8, f8, f4) },
		"ActForward with count < 0":        func() error { return d.ActForward(kernels.ReLU, -1, f4, f4) },
		"ActBackward with a short dx":      func() error { return d.ActBackward(kernels.Sigmoid, 8, f8, f8, f8, f4) },
		"DropoutForward with p 1.5":        func() error { return d.DropoutForward(4, 1.5, 0, 0, f4, f4, f4) },
		"DropoutForward with p NaN":        func() error { return d.DropoutForward(4, float32(math.NaN()), 0, 0, f4, f4, f4) },
		"DropoutForward with a short mask": func() error { return d.DropoutForward(8, 0.5, 0, 0, f8, f4, f8) },
		"Mul with count < 0":               func() error { return d.Mul(-1, f4, f4, f4) },
		"Mul with a short z":               func() error { return d.Mul(8, f8, f8, f4) },
		"SGD with short params":            func() error { return d.SGD(8, 0.1, 0, 0, f4, f8, nil) },
		"SGD with momentum and no vel":     func() error { return d.SGD(4, 0.1, 0.9, 0, f4, f4, nil) },
		"Adam at step 0":                   func() error { return d.Adam(4, 0.1, 0.9, 0.999, 1e-8, 0, 0, f4, f4, f4, f4) },
		"Adam with a short v":              func() error { return d.Adam(8, 0.1, 0.9, 0.999, 1e-8, 0, 1, f8, f8, f8, f4) },
	})
}

func (s *suite) plans(t *testing.T) {
	d := s.dev
	planErr := func(_ any, err error) error { return err }
	s.bad(t, map[string]func() error{
		"NewConv2D with an even kernel": func() error {
			return planErr(d.NewConv2D(kernels.ConvShape{C: 1, H: 4, W: 4, K: 2, OutC: 1}, 2))
		},
		"NewConv2D with maxN 0":        func() error { return planErr(d.NewConv2D(kernels.ConvShape{C: 1, H: 4, W: 4, K: 3, OutC: 1}, 0)) },
		"NewBatchNorm with eps 0":      func() error { return planErr(d.NewBatchNorm(2, 4, 2, 0, 0.1)) },
		"NewBatchNorm with 0 channels": func() error { return planErr(d.NewBatchNorm(0, 4, 2, 1e-5, 0.1)) },
		"NewMaxPool of a 1-row image":  func() error { return planErr(d.NewMaxPool(1, 1, 4, 2)) },
	})
	const c, h, w, maxN = 2, 4, 4, 2
	img := s.alloc(t, kernels.F32, maxN*c*h*w) // 64
	img2 := s.alloc(t, kernels.F32, maxN*c*h*w)
	small := s.alloc(t, kernels.F32, c*h*w) // one image
	wts := s.alloc(t, kernels.F32, c*c*3*3)
	ch := [6]kernels.Buffer{}
	for i := range ch {
		ch[i] = s.alloc(t, kernels.F32, c)
	}
	short := s.alloc(t, kernels.F32, c-1)
	conv, err := d.NewConv2D(kernels.ConvShape{C: c, H: h, W: w, K: 3, OutC: c}, maxN)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := d.NewBatchNorm(c, h*w, maxN, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := d.NewMaxPool(c, h, w, maxN)
	if err != nil {
		t.Fatal(err)
	}
	s.good(t, "Conv2D.Forward", conv.Forward(maxN, img, wts, img2))
	s.good(t, "Conv2D.BackwardData", conv.BackwardData(maxN, img2, wts, img))
	s.good(t, "Conv2D.BackwardFilter", conv.BackwardFilter(maxN, img, img2, wts))
	s.good(t, "Fill runVar", d.Fill(ch[3], 1))
	s.good(t, "BatchNorm.ForwardTrain", bn.ForwardTrain(maxN, img, ch[0], ch[1], ch[2], ch[3], img2, ch[4], ch[5]))
	s.good(t, "BatchNorm.ForwardInfer", bn.ForwardInfer(1, img, ch[0], ch[1], ch[2], ch[3], img2))
	s.good(t, "BatchNorm.Backward", bn.Backward(maxN, img, img2, ch[0], ch[4], ch[5], img, ch[1], ch[2]))
	s.good(t, "MaxPool.Forward", pool.Forward(maxN, img, img2))
	s.good(t, "MaxPool.Backward", pool.Backward(maxN, img, img2, img2, img))
	s.bad(t, map[string]func() error{
		"Conv2D.Forward with n 0":              func() error { return conv.Forward(0, img, wts, img2) },
		"Conv2D.Forward with n > maxN":         func() error { return conv.Forward(maxN+1, img, wts, img2) },
		"Conv2D.Forward with a short y":        func() error { return conv.Forward(maxN, img, wts, small) },
		"Conv2D.BackwardData with short w":     func() error { return conv.BackwardData(1, img2, short, img) },
		"Conv2D.BackwardFilter with i32 dy":    func() error { return conv.BackwardFilter(1, img, s.alloc(t, kernels.I32, c*h*w), wts) },
		"BatchNorm.ForwardTrain, 1 value":      func() error { return s.oneValueBN(t) },
		"BatchNorm.ForwardTrain, short runVar": func() error { return bn.ForwardTrain(1, img, ch[0], ch[1], ch[2], short, img2, ch[4], ch[5]) },
		"BatchNorm.ForwardInfer with n 0":      func() error { return bn.ForwardInfer(0, img, ch[0], ch[1], ch[2], ch[3], img2) },
		"BatchNorm.Backward with a short dx":   func() error { return bn.Backward(maxN, img, img2, ch[0], ch[4], ch[5], small, ch[1], ch[2]) },
		"MaxPool.Forward with n > maxN":        func() error { return pool.Forward(maxN+1, img, img2) },
		"MaxPool.Backward with a short dx":     func() error { return pool.Backward(maxN, img, img2, img2, small) },
	})
}

// oneValueBN is a ForwardTrain with one value per channel (n = 1 of a 1×1
// image), which has no unbiased variance.
func (s *suite) oneValueBN(t *testing.T) error {
	bn, err := s.dev.NewBatchNorm(1, 1, 1, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]kernels.Buffer, 6)
	for i := range v {
		v[i] = s.alloc(t, kernels.F32, 1)
	}
	return bn.ForwardTrain(1, v[0], v[1], v[2], v[3], v[4], v[5], v[1], v[2])
}

// stepOps checks the step ops (kernels.StepOps) that take no plan: a good
// step (gather, dense forward and backward, the optimizers' counter
// advance) and the bad calls of each.
func (s *suite) stepOps(t *testing.T) {
	d := s.dev
	const rows, dim, n, out = 3, 2, 2, 2
	ctr := s.alloc(t, kernels.I32, kernels.CtrLen)
	short := s.alloc(t, kernels.I32, kernels.CtrLen-1)
	data := s.alloc(t, kernels.U8, rows*dim)
	labels := s.alloc(t, kernels.U8, rows)
	perm := s.alloc(t, kernels.I32, rows)
	x := s.alloc(t, kernels.F32, n*dim)
	lab := s.alloc(t, kernels.I32, n)
	w := s.alloc(t, kernels.F32, out*dim)
	b := s.alloc(t, kernels.F32, out)
	a := s.alloc(t, kernels.F32, n*out)
	mask := s.alloc(t, kernels.F32, n*out)
	y := s.alloc(t, kernels.F32, n*out)
	f1 := s.alloc(t, kernels.F32, 1)
	s.good(t, "Upload data", d.Upload(data, []uint8{0, 255, 51, 102, 204, 153}))
	s.good(t, "Upload labels", d.Upload(labels, []uint8{7, 1, 9}))
	s.good(t, "Upload perm", d.Upload(perm, []int32{2, 0, 1}))
	s.good(t, "Upload w", d.Upload(w, []float32{1, 0, 0, 1}))
	s.good(t, "SetCounter", d.SetCounter(ctr, 0, 0))
	s.good(t, "GatherBatch", d.GatherBatch(n, dim, data, labels, perm, ctr, x, lab, 0, 1))
	img, l := make([]float32, n*dim), make([]int32, n)
	s.good(t, "Download images", d.Download(img, x))
	s.good(t, "Download labels", d.Download(l, lab))
	wantImg := []float32{204.0 / 255, 153.0 / 255, 0, 1}
	for k := range wantImg {
		if !(math.Abs(float64(img[k]-wantImg[k])) <= 1e-6) {
			t.Errorf("GatherBatch gave %v, want %v", img, wantImg)
			break
		}
	}
	if l[0] != 9 || l[1] != 7 {
		t.Errorf("GatherBatch gave labels %v, want [9 7]", l)
	}
	s.good(t, "DenseForward", d.DenseForward(n, dim, out, kernels.ReLU, 0.5, 1, 1, ctr, x, w, b, a, mask, y))
	s.good(t, "DenseForward without dropout", d.DenseForward(n, dim, out, kernels.Tanh, 0, 0, 0, nil, x, w, b, a, nil, nil))
	s.good(t, "DenseForwardGather", d.DenseForwardGather(n, dim, out, data, labels, perm, ctr, 0, 1, x, lab, kernels.ReLU, 0, 0, 0, w, b, a, nil, nil))
	s.good(t, "DenseBackward", d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.ReLU, x, x, x))
	s.good(t, "DenseBackward without dx", d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.ReLU, nil, nil, nil))
	s.good(t, "DropoutForwardAt", d.DropoutForwardAt(n*out, 0.5, 1, 1, ctr, a, mask, y))
	s.good(t, "SGDAt", d.SGDAt(n*out, 0.1, 0.9, 0, n, ctr, a, y, mask))
	s.good(t, "AdamAt", d.AdamAt(n*out, 0.1, 0.9, 0.999, 1e-8, 0, n, ctr, a, y, mask, x))
	c := make([]int32, kernels.CtrLen)
	s.good(t, "Download ctr", d.Download(c, ctr))
	if c[kernels.CtrOffset] != 2*n || c[kernels.CtrStep] != 2 || c[kernels.CtrDone] != 0 {
		t.Errorf("counter after SGDAt and AdamAt of %d: %v, want [%d 2 0]", n, c, 2*n)
	}
	s.good(t, "SetCounter", d.SetCounter(ctr, 0, 0))
	nan := float32(math.NaN())
	s.bad(t, map[string]func() error{
		"GatherBatch with a short ctr":    func() error { return d.GatherBatch(n, dim, data, labels, perm, short, x, lab, 0, 1) },
		"GatherBatch with an f32 ctr":     func() error { return d.GatherBatch(n, dim, data, labels, perm, a, x, lab, 0, 1) },
		"GatherBatch with std 0":          func() error { return d.GatherBatch(n, dim, data, labels, perm, ctr, x, lab, 0, 0) },
		"GatherBatch with std NaN":        func() error { return d.GatherBatch(n, dim, data, labels, perm, ctr, x, lab, 0, nan) },
		"GatherBatch with n < 0":          func() error { return d.GatherBatch(-1, dim, data, labels, perm, ctr, x, lab, 0, 1) },
		"GatherBatch with a short perm":   func() error { return d.GatherBatch(rows+1, 1, data, labels, perm, ctr, img6(s, t), lab, 0, 1) },
		"GatherBatch with a short images": func() error { return d.GatherBatch(n, dim+1, data, labels, perm, ctr, x, lab, 0, 1) },
		"GatherBatch with f32 data":       func() error { return d.GatherBatch(n, dim, x, labels, perm, ctr, x, lab, 0, 1) },
		"GatherBatch into f32 labels":     func() error { return d.GatherBatch(n, dim, data, labels, perm, ctr, x, a, 0, 1) },
		"DropoutForwardAt with p 2":       func() error { return d.DropoutForwardAt(n*out, 2, 1, 1, ctr, a, mask, y) },
		"DropoutForwardAt with a nil ctr": func() error { return d.DropoutForwardAt(n*out, 0.5, 1, 1, nil, a, mask, y) },
		"DropoutForwardAt with a short y": func() error { return d.DropoutForwardAt(n*out, 0.5, 1, 1, ctr, a, mask, f1) },
		"SGDAt with momentum and no vel":  func() error { return d.SGDAt(n*out, 0.1, 0.9, 0, n, ctr, a, y, nil) },
		"SGDAt with short grads":          func() error { return d.SGDAt(n*out, 0.1, 0, 0, n, ctr, a, f1, nil) },
		"SGDAt with a short ctr":          func() error { return d.SGDAt(n*out, 0.1, 0, 0, n, short, a, y, nil) },
		"SGDAt with n < 0":                func() error { return d.SGDAt(n*out, 0.1, 0, 0, -1, ctr, a, y, nil) },
		"AdamAt with a short v":           func() error { return d.AdamAt(n*out, 0.1, 0.9, 0.999, 1e-8, 0, n, ctr, a, y, mask, f1) },
		"AdamAt with an i32 m":            func() error { return d.AdamAt(1, 0.1, 0.9, 0.999, 1e-8, 0, n, ctr, a, y, lab, x) },
		"SetCounter with a negative step": func() error { return d.SetCounter(ctr, 0, -1) },
		"SetCounter with an offset > 2³¹": func() error { return d.SetCounter(ctr, 1<<31, 0) },
		"SetCounter with an f32 ctr":      func() error { return d.SetCounter(a, 0, 0) },
		"DenseForward unknown activation": func() error {
			return d.DenseForward(n, dim, out, kernels.Activation(9), 0, 0, 0, nil, x, w, b, a, nil, nil)
		},
		"DenseForward with a short w": func() error {
			return d.DenseForward(n, dim, out+1, kernels.ReLU, 0, 0, 0, nil, x, w, b, mask, nil, nil)
		},
		"DenseForward with a short b":      func() error { return d.DenseForward(n, dim, out, kernels.ReLU, 0, 0, 0, nil, x, w, f1, a, nil, nil) },
		"DenseForward with a short a":      func() error { return d.DenseForward(n, dim, out, kernels.ReLU, 0, 0, 0, nil, x, w, b, b, nil, nil) },
		"DenseForward with dropout p NaN":  func() error { return d.DenseForward(n, dim, out, kernels.ReLU, nan, 0, 0, ctr, x, w, b, a, mask, y) },
		"DenseForward with a mask, no ctr": func() error { return d.DenseForward(n, dim, out, kernels.ReLU, 0.5, 0, 0, nil, x, w, b, a, mask, y) },
		"DenseForward with a short y":      func() error { return d.DenseForward(n, dim, out, kernels.ReLU, 0.5, 0, 0, ctr, x, w, b, a, mask, f1) },
		"DenseForward with n < 0":          func() error { return d.DenseForward(-1, dim, out, kernels.ReLU, 0, 0, 0, nil, x, w, b, a, nil, nil) },
		"DenseForwardGather with std 0": func() error {
			return d.DenseForwardGather(n, dim, out, data, labels, perm, ctr, 0, 0, x, lab, kernels.ReLU, 0, 0, 0, w, b, a, nil, nil)
		},
		"DenseForwardGather with a nil ctr": func() error {
			return d.DenseForwardGather(n, dim, out, data, labels, perm, nil, 0, 1, x, lab, kernels.ReLU, 0, 0, 0, w, b, a, nil, nil)
		},
		"DenseForwardGather with f32 batchLabels": func() error {
			return d.DenseForwardGather(n, dim, out, data, labels, perm, ctr, 0, 1, x, a, kernels.ReLU, 0, 0, 0, w, b, a, nil, nil)
		},
		"DenseForwardGather with a short b": func() error {
			return d.DenseForwardGather(n, dim, out, data, labels, perm, ctr, 0, 1, x, lab, kernels.ReLU, 0, 0, 0, w, f1, a, nil, nil)
		},
		"DenseBackward with a short dw":     func() error { return d.DenseBackward(n, dim, out, y, x, w, b, b, kernels.ReLU, x, x, x) },
		"DenseBackward with a short db":     func() error { return d.DenseBackward(n, dim, out, y, x, w, w, f1, kernels.ReLU, x, x, x) },
		"DenseBackward with a short dx":     func() error { return d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.ReLU, x, x, b) },
		"DenseBackward with a short a":      func() error { return d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.ReLU, b, x, x) },
		"DenseBackward with an i32 mask":    func() error { return d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.ReLU, x, lab, x) },
		"DenseBackward unknown activation":  func() error { return d.DenseBackward(n, dim, out, y, x, w, w, b, kernels.Activation(-1), x, x, x) },
		"DenseBackward with a short dy":     func() error { return d.DenseBackward(n, dim, out, b, x, w, w, b, kernels.ReLU, nil, nil, nil) },
		"DenseBackward with a negative out": func() error { return d.DenseBackward(n, dim, -1, y, x, w, w, b, kernels.ReLU, nil, nil, nil) },
	})
	// DenseLoss: the last layer, the loss and its backward.
	cls := s.alloc(t, kernels.I32, n)
	sum, correct := s.alloc(t, kernels.F32, 1), s.alloc(t, kernels.F32, 1)
	dl := s.alloc(t, kernels.F32, n*out)
	denseLoss := func(loss kernels.Loss, act kernels.Activation, labels, logits, dlogits, sum, dx kernels.Buffer) error {
		return d.DenseLoss(loss, n, dim, out, x, w, b, logits, labels, dlogits, sum, correct, w, b, act, x, x, dx)
	}
	s.good(t, "Upload classes", d.Upload(cls, []int32{1, 0}))
	s.good(t, "Fill lossSum", d.Fill(sum, 0))
	s.good(t, "Fill correct", d.Fill(correct, 0))
	s.good(t, "DenseLoss", denseLoss(kernels.CrossEntropy, kernels.ReLU, cls, a, dl, sum, x))
	s.good(t, "DenseLoss without dx", denseLoss(kernels.MSE, kernels.ReLU, cls, a, dl, sum, nil))
	s.bad(t, map[string]func() error{
		"DenseLoss with an unknown loss":       func() error { return denseLoss(kernels.Loss(7), kernels.ReLU, cls, a, dl, sum, x) },
		"DenseLoss with an unknown activation": func() error { return denseLoss(kernels.NLL, kernels.Activation(7), cls, a, dl, sum, x) },
		"DenseLoss with f32 labels":            func() error { return denseLoss(kernels.NLL, kernels.ReLU, a, a, dl, sum, x) },
		"DenseLoss with short logits":          func() error { return denseLoss(kernels.NLL, kernels.ReLU, cls, f1, dl, sum, x) },
		"DenseLoss with nil dlogits":           func() error { return denseLoss(kernels.NLL, kernels.ReLU, cls, a, nil, sum, x) },
		"DenseLoss with an i32 lossSum":        func() error { return denseLoss(kernels.NLL, kernels.ReLU, cls, a, dl, lab, x) },
		"DenseLoss with a short dx":            func() error { return denseLoss(kernels.NLL, kernels.ReLU, cls, a, dl, sum, f1) },
		"DenseLoss with out 0": func() error {
			return d.DenseLoss(kernels.NLL, n, dim, 0, x, w, b, a, cls, dl, sum, correct, w, b, kernels.ReLU, nil, nil, nil)
		},
	})
	for _, bad := range [][]int32{{0, out}, {-1, 0}} {
		s.good(t, "Upload classes", d.Upload(cls, bad))
		failed, err := s.fails(denseLoss(kernels.CrossEntropy, kernels.ReLU, cls, a, dl, sum, x))
		if !failed {
			t.Errorf("DenseLoss with labels %v: no error on %s", bad, d.Name())
		} else if !errors.Is(err, kernels.ErrRange) {
			t.Errorf("DenseLoss with labels %v: error %v does not wrap kernels.ErrRange", bad, err)
		}
	}
	// A batch past the end of the permutation, or an entry outside the data
	// set: the values are on the device, so a GPU reports them at the next
	// Sync.
	gathers := map[string]func() error{
		"GatherBatch": func() error { return d.GatherBatch(n, dim, data, labels, perm, ctr, x, lab, 0, 1) },
		"DenseForwardGather": func() error {
			return d.DenseForwardGather(n, dim, out, data, labels, perm, ctr, 0, 1, x, lab, kernels.ReLU, 0, 0, 0, w, b, a, nil, nil)
		},
	}
	for _, bad := range []struct {
		what string
		perm []int32
		off  int
	}{
		{"a batch past the permutation", []int32{2, 0, 1}, 2},
		{"an entry past the data set", []int32{2, rows, 1}, 0},
		{"a negative entry", []int32{-1, 0, 1}, 0},
	} {
		for name, call := range gathers {
			s.good(t, "Upload perm", d.Upload(perm, bad.perm))
			s.good(t, "SetCounter", d.SetCounter(ctr, bad.off, 0))
			failed, err := s.fails(call())
			if !failed {
				t.Errorf("%s with %s: no error on %s", name, bad.what, d.Name())
			} else if !errors.Is(err, kernels.ErrRange) {
				t.Errorf("%s with %s: error %v does not wrap kernels.ErrRange", name, bad.what, err)
			}
		}
	}
	// The device is usable again after a range error.
	s.good(t, "Upload perm", d.Upload(perm, []int32{2, 0, 1}))
	s.good(t, "SetCounter", d.SetCounter(ctr, 1, 0))
	s.good(t, "GatherBatch after an error", d.GatherBatch(n, dim, data, labels, perm, ctr, x, lab, 0, 1))
}

// img6 is a fresh F32 buffer of 6 values.
func img6(s *suite, t *testing.T) kernels.Buffer { return s.alloc(t, kernels.F32, 6) }

// fusedPlans checks the fused ops that take plans (a conv block's forward
// and backward, activation and pool, batch norm and pool): a good call of
// each and the bad calls.
func (s *suite) fusedPlans(t *testing.T) {
	d := s.dev
	const c, h, w, maxN = 2, 4, 4, 2
	shape := kernels.ConvShape{C: 1, H: h, W: w, K: 3, OutC: c}
	const in, img, pooled = maxN * 1 * h * w, maxN * c * h * w, maxN * c * (h / 2) * (w / 2)
	ctr := s.alloc(t, kernels.I32, kernels.CtrLen)
	data := s.alloc(t, kernels.U8, 3*h*w)
	labels := s.alloc(t, kernels.U8, 3)
	perm := s.alloc(t, kernels.I32, 3)
	lab := s.alloc(t, kernels.I32, maxN)
	x := s.alloc(t, kernels.F32, in)
	wts := s.alloc(t, kernels.F32, c*1*3*3)
	bias := s.alloc(t, kernels.F32, c)
	big := make([]kernels.Buffer, 5)
	for i := range big {
		big[i] = s.alloc(t, kernels.F32, img)
	}
	convY, bnY, actY, g, dconv := big[0], big[1], big[2], big[3], big[4]
	pool := s.alloc(t, kernels.F32, pooled)
	ch := make([]kernels.Buffer, 8)
	for i := range ch {
		ch[i] = s.alloc(t, kernels.F32, c)
	}
	gamma, beta, rm, rv, sm, si, dg, db := ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6], ch[7]
	short := s.alloc(t, kernels.F32, c-1)
	small := s.alloc(t, kernels.F32, c*h*w) // one image
	conv, err := d.NewConv2D(shape, maxN)
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.NewConv2D(kernels.ConvShape{C: 1, H: h, W: w, K: 3, OutC: 1}, maxN)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := d.NewBatchNorm(c, h*w, maxN, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	bn3, err := d.NewBatchNorm(c+1, h*w, maxN, 1e-5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := d.NewMaxPool(c, h, w, maxN)
	if err != nil {
		t.Fatal(err)
	}
	s.good(t, "Upload perm", d.Upload(perm, []int32{2, 0, 1}))
	s.good(t, "Fill gamma", d.Fill(gamma, 1))
	s.good(t, "Fill runVar", d.Fill(rv, 1))
	s.good(t, "Fill w", d.Fill(wts, 0.1))
	s.good(t, "SetCounter", d.SetCounter(ctr, 0, 0))
	s.good(t, "ConvBiasForward", d.ConvBiasForward(shape, conv, maxN, x, wts, bias, convY))
	s.good(t, "ConvBiasBackward", d.ConvBiasBackward(shape, conv, maxN, x, convY, wts, wts, bias, x))
	s.good(t, "ConvBiasBackward without dx", d.ConvBiasBackward(shape, conv, maxN, x, convY, wts, wts, bias, nil))
	s.good(t, "ActPoolForward", d.ActPoolForward(kernels.ReLU, mp, maxN, convY, actY, pool))
	s.good(t, "PoolActBackward", d.PoolActBackward(kernels.ReLU, mp, maxN, actY, pool, g))
	s.good(t, "BNActPoolForward", d.BNActPoolForward(bn, kernels.ReLU, mp, maxN, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool))
	s.good(t, "ConvBNActPoolForward", d.ConvBNActPoolForward(shape, conv, bn, kernels.ReLU, mp, maxN, x, wts, bias, convY,
		gamma, beta, rm, rv, sm, si, bnY, actY, pool))
	s.good(t, "ConvBNActPoolForwardGather", d.ConvBNActPoolForwardGather(data, labels, perm, ctr, 0, 1, lab, shape, conv, bn, kernels.ReLU, mp,
		maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool))
	s.good(t, "PoolActBNConvBackward", d.PoolActBNConvBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
		shape, conv, x, wts, wts, bias, x))
	s.good(t, "PoolActBNConvBackward without dx", d.PoolActBNConvBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si,
		dconv, dg, db, shape, conv, x, wts, wts, bias, nil))
	s.good(t, "PoolActBNBackward", d.PoolActBNBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si, dconv, dg, db))
	block := func(s kernels.ConvShape, conv kernels.Conv2D, bn kernels.BatchNorm, act kernels.Activation, n int, y, gm kernels.Buffer) error {
		return d.ConvBNActPoolForward(s, conv, bn, act, mp, n, x, wts, bias, y, gm, beta, rm, rv, sm, si, bnY, actY, pool)
	}
	s.bad(t, map[string]func() error{
		"ConvBiasForward with n 0":              func() error { return d.ConvBiasForward(shape, conv, 0, x, wts, bias, convY) },
		"ConvBiasForward with n > maxN":         func() error { return d.ConvBiasForward(shape, conv, maxN+1, x, wts, bias, convY) },
		"ConvBiasForward, another plan's shape": func() error { return d.ConvBiasForward(shape, other, 1, x, wts, bias, convY) },
		"ConvBiasForward with a short b":        func() error { return d.ConvBiasForward(shape, conv, 1, x, wts, short, convY) },
		"ConvBiasForward with a short y":        func() error { return d.ConvBiasForward(shape, conv, maxN, x, wts, bias, small) },
		"ConvBiasForward with a nil plan":       func() error { return d.ConvBiasForward(shape, nil, 1, x, wts, bias, convY) },
		"ConvBiasBackward with a short db":      func() error { return d.ConvBiasBackward(shape, conv, 1, x, convY, wts, wts, short, nil) },
		"ConvBiasBackward with a short dx":      func() error { return d.ConvBiasBackward(shape, conv, maxN, x, convY, wts, wts, bias, short) },
		"ConvBiasBackward with an i32 dw": func() error {
			return d.ConvBiasBackward(shape, conv, 1, x, convY, wts, s.alloc(t, kernels.I32, c*9), bias, nil)
		},
		"ActPoolForward unknown activation":  func() error { return d.ActPoolForward(kernels.Activation(9), mp, maxN, convY, actY, pool) },
		"ActPoolForward with n > maxN":       func() error { return d.ActPoolForward(kernels.ReLU, mp, maxN+1, convY, actY, pool) },
		"ActPoolForward with a short pooled": func() error { return d.ActPoolForward(kernels.ReLU, mp, maxN, convY, actY, short) },
		"ActPoolForward with a nil pool":     func() error { return d.ActPoolForward(kernels.ReLU, nil, 1, convY, actY, pool) },
		"PoolActBackward with a short dx":    func() error { return d.PoolActBackward(kernels.ReLU, mp, maxN, actY, pool, small) },
		"PoolActBackward with n < 0":         func() error { return d.PoolActBackward(kernels.ReLU, mp, -1, actY, pool, g) },
		"BNActPoolForward, mismatched plans": func() error {
			return d.BNActPoolForward(bn3, kernels.ReLU, mp, 1, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool)
		},
		"BNActPoolForward with n 0": func() error {
			return d.BNActPoolForward(bn, kernels.ReLU, mp, 0, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool)
		},
		"BNActPoolForward with a short bnY": func() error {
			return d.BNActPoolForward(bn, kernels.ReLU, mp, maxN, convY, gamma, beta, rm, rv, sm, si, small, actY, pool)
		},
		"BNActPoolForward with a short runVar": func() error {
			return d.BNActPoolForward(bn, kernels.ReLU, mp, 1, convY, gamma, beta, rm, short, sm, si, bnY, actY, pool)
		},
		"ConvBNActPoolForward with n 0": func() error { return block(shape, conv, bn, kernels.ReLU, 0, convY, gamma) },
		"ConvBNActPoolForward, conv and bn differ": func() error {
			return block(kernels.ConvShape{C: 1, H: h, W: w, K: 3, OutC: 1}, other, bn, kernels.ReLU, 1, convY, gamma)
		},
		"ConvBNActPoolForward unknown activation": func() error { return block(shape, conv, bn, kernels.Activation(9), 1, convY, gamma) },
		"ConvBNActPoolForward with a short convY": func() error { return block(shape, conv, bn, kernels.ReLU, maxN, small, gamma) },
		"ConvBNActPoolForward with a short gamma": func() error { return block(shape, conv, bn, kernels.ReLU, 1, convY, short) },
		"ConvBNActPoolForwardGather with std 0": func() error {
			return d.ConvBNActPoolForwardGather(data, labels, perm, ctr, 0, 0, lab, shape, conv, bn, kernels.ReLU, mp,
				maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool)
		},
		"ConvBNActPoolForwardGather with a short ctr": func() error {
			return d.ConvBNActPoolForwardGather(data, labels, perm, lab, 0, 1, lab, shape, conv, bn, kernels.ReLU, mp,
				maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool)
		},
		"ConvBNActPoolForwardGather with f32 data": func() error {
			return d.ConvBNActPoolForwardGather(x, labels, perm, ctr, 0, 1, lab, shape, conv, bn, kernels.ReLU, mp,
				maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool)
		},
		"PoolActBNBackward with a short dx": func() error {
			return d.PoolActBNBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si, small, dg, db)
		},
		"PoolActBNBackward with a short dbeta": func() error {
			return d.PoolActBNBackward(bn, kernels.ReLU, mp, 1, actY, pool, g, convY, gamma, sm, si, dconv, dg, short)
		},
		"PoolActBNBackward, mismatched plans": func() error {
			return d.PoolActBNBackward(bn3, kernels.ReLU, mp, 1, actY, pool, g, convY, gamma, sm, si, dconv, dg, db)
		},
		"PoolActBNConvBackward with a short dw": func() error {
			return d.PoolActBNConvBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
				shape, conv, x, wts, short, bias, x)
		},
		"PoolActBNConvBackward with a short dx": func() error {
			return d.PoolActBNConvBackward(bn, kernels.ReLU, mp, maxN, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
				shape, conv, x, wts, wts, bias, short)
		},
		"PoolActBNConvBackward, conv and bn differ": func() error {
			return d.PoolActBNConvBackward(bn, kernels.ReLU, mp, 1, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
				kernels.ConvShape{C: 1, H: h, W: w, K: 3, OutC: 1}, other, x, wts, wts, bias, nil)
		},
		"PoolActBNConvBackward with n 0": func() error {
			return d.PoolActBNConvBackward(bn, kernels.ReLU, mp, 0, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
				shape, conv, x, wts, wts, bias, nil)
		},
		"PoolActBNConvBackward with a nil conv": func() error {
			return d.PoolActBNConvBackward(bn, kernels.ReLU, mp, 1, actY, pool, g, convY, gamma, sm, si, dconv, dg, db,
				shape, nil, x, wts, wts, bias, nil)
		},
		"PoolActBNBackward with n > maxN": func() error {
			return d.PoolActBNBackward(bn, kernels.ReLU, mp, maxN+1, actY, pool, g, convY, gamma, sm, si, dconv, dg, db)
		},
	})
	s.good(t, "SetCounter", d.SetCounter(ctr, 2, 0))
	failed, err := s.fails(d.ConvBNActPoolForwardGather(data, labels, perm, ctr, 0, 1, lab, shape, conv, bn, kernels.ReLU, mp,
		maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool))
	if !failed {
		t.Errorf("ConvBNActPoolForwardGather with a batch past the permutation: no error on %s", d.Name())
	} else if !errors.Is(err, kernels.ErrRange) {
		t.Errorf("ConvBNActPoolForwardGather with a batch past the permutation: error %v does not wrap kernels.ErrRange", err)
	}
	s.good(t, "Upload perm", d.Upload(perm, []int32{2, 3, 1}))
	s.good(t, "SetCounter", d.SetCounter(ctr, 0, 0))
	failed, err = s.fails(d.ConvBNActPoolForwardGather(data, labels, perm, ctr, 0, 1, lab, shape, conv, bn, kernels.ReLU, mp,
		maxN, x, wts, bias, convY, gamma, beta, rm, rv, sm, si, bnY, actY, pool))
	if !failed {
		t.Errorf("ConvBNActPoolForwardGather with an entry past the data set: no error on %s", d.Name())
	} else if !errors.Is(err, kernels.ErrRange) {
		t.Errorf("ConvBNActPoolForwardGather with an entry past the data set: error %v does not wrap kernels.ErrRange", err)
	}
}
