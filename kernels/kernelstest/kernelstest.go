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
	s := &suite{t: t, dev: dev}
	defer s.free()
	if err := dev.Sync(); err != nil {
		t.Fatalf("%s: Sync before the suite: %v", dev.Name(), err)
	}
	t.Run("transfers", s.transfers)
	t.Run("gather", s.gather)
	t.Run("loss", s.loss)
	t.Run("shapes and types", s.shapes)
	t.Run("plans", s.plans)
	if err := dev.Sync(); err != nil {
		t.Errorf("%s: Sync after the suite: %v", dev.Name(), err)
	}
}

type suite struct {
	t    *testing.T
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
