package kernels

import (
	"errors"
	"strings"
	"testing"
)

// buf is a Buffer of a type and length with no memory, for the checks.
type buf struct {
	dt DType
	n  int
}

func (b *buf) DType() DType { return b.dt }
func (b *buf) Len() int     { return b.n }

func TestChecks(t *testing.T) {
	f4, f8, u4, i4, i2 := &buf{F32, 4}, &buf{F32, 8}, &buf{U8, 4}, &buf{I32, 4}, &buf{I32, 2}
	var nilBuf *buf
	cases := []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"buf ok", CheckBuf("Op", "x", f4, F32, 4), ""},
		{"buf short", CheckBuf("Op", "x", f4, F32, 5), "Op: x has 4 elements, need 5"},
		{"buf dtype", CheckBuf("Op", "x", u4, F32, 1), "Op: x is u8, want f32"},
		{"buf nil", CheckBuf("Op", "x", nil, F32, 1), "x is nil"},
		{"buf typed nil", CheckBuf("Op", "x", nilBuf, F32, 1), "x is nil"},
		{"upload ok", CheckUpload(f4, []float32{1, 2}), ""},
		{"upload long", CheckUpload(f4, make([]float32, 5)), "cannot copy"},
		{"upload dtype", CheckUpload(f4, []int32{1}), "cannot copy"},
		{"upload type", CheckUpload(f4, []float64{1}), "unsupported"},
		{"download ok", CheckDownload(make([]float32, 4), f4), ""},
		{"download long", CheckDownload(make([]float32, 5), f4), "cannot copy"},
		{"download dtype", CheckDownload(make([]uint8, 1), f4), "cannot copy"},
		{"fill u8", CheckFill(u4), "want f32"},
		{"copy mismatch", CheckCopy(f4, f8), "Copy"},
		{"copy ok", CheckCopy(f4, &buf{F32, 4}), ""},
		{"gather ok", CheckGatherImages(2, 2, u4, i2, f4, 1), ""},
		{"gather std 0", CheckGatherImages(2, 2, u4, i2, f4, 0), "std"},
		{"gather short dst", CheckGatherImages(2, 3, u4, i2, f4, 1), "dst has 4"},
		{"gather idx dtype", CheckGatherImages(2, 2, u4, f4, f4, 1), "idx is f32"},
		{"labels ok", CheckGatherLabels(2, u4, i2, i4), ""},
		{"labels wrong dtype", CheckGatherLabels(1, f4, i2, i2), "labels is f32"},
		{"gemm ok", CheckGemm(2, 2, 2, f4, f4, f4), ""},
		{"gemm short C", CheckGemm(2, 3, 1, f4, f4, f4), "C has 4"},
		{"bias grad", CheckBias("BiasGrad", 1, 4, 1, f4, u4), "dbias is u8"},
		{"act unknown", CheckActForward(Activation(9), 4, f4, f4), "unknown activation"},
		{"act wrong type", CheckActForward(ReLU, 4, i4, f4), "x is i32"},
		{"act backward short", CheckActBackward(Tanh, 5, f8, f8, f8, f4), "dx has 4"},
		{"dropout p", CheckDropout(4, 1.5, f4, f4, f4), "outside [0, 1]"},
		{"dropout NaN p", CheckDropout(4, float32(nan()), f4, f4, f4), "outside [0, 1]"},
		{"mul negative", CheckMul(-1, f4, f4, f4), "negative count"},
		{"loss unknown", CheckLoss(Loss(7), 1, 4, f4, i4, nil, f4, f4), "unknown loss"},
		{"loss ok, no dlogits", CheckLoss(CrossEntropy, 1, 4, f4, i4, nilBuf, f4, f4), ""},
		{"loss short dlogits", CheckLoss(MSE, 2, 4, f8, i4, f4, f4, f4), "dlogits has 4"},
		{"loss labels dtype", CheckLoss(NLL, 1, 4, f4, f4, nil, f4, f4), "labels is f32"},
		{"softmax classes 0", CheckSoftmax(1, 0, f4, f4), "bad shape"},
		{"sgd short", CheckSGD(5, 0, f4, f8, nil), "params has 4"},
		{"sgd no vel", CheckSGD(4, 0.9, f4, f4, nil), "vel is nil"},
		{"adam step 0", CheckAdam(4, 0, f4, f4, f4, f4), "step 0"},
		{"indices ok", CheckIndices("Op", []int32{0, 3}, 4), ""},
		{"index high", CheckIndices("Op", []int32{0, 4}, 4), "idx[1] = 4 outside the 4 rows"},
		{"index negative", CheckIndices("Op", []int32{-1}, 4), "idx[0] = -1"},
		{"label high", CheckLabels("Op", []int32{9, 10}, 10), "label 10 at row 1"},
		{"conv shape even K", CheckConvShape(ConvShape{C: 1, H: 2, W: 2, K: 2, OutC: 1}, 1), "K must be odd"},
		{"conv ok", CheckConv("Conv2D.Forward", ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1}, 2, 1, f4, f4, f4), ""},
		{"conv n 0", CheckConv("Conv2D.Forward", ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1}, 2, 0, f4, f4, f4), "n = 0 outside [1, 2]"},
		{"conv short dx", CheckConv("Conv2D.BackwardData", ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1}, 2, 2, f8, f4, f4), "dx has 4"},
		{"bn eps", CheckBatchNormShape(1, 1, 1, 0), "eps"},
		{"bn one value", CheckBatchNormTrain(1, 1, 1, 1, f4, f4, f4, f4, f4, f4, f4, f4), "more than 1 value"},
		{"bn short dbeta", CheckBatchNormBackward(2, 2, 1, 1, f4, f4, f4, f4, f4, f4, f4, &buf{F32, 1}), "dbeta has 1"},
		{"pool h 1", CheckMaxPoolShape(1, 1, 2, 1), "bad shape"},
		{"pool short dy", CheckMaxPool("MaxPool.Backward", 1, 4, 4, 2, 2, &buf{F32, 32}, f8, &buf{F32, 7}, &buf{F32, 32}), "dy has 7"},
	}
	for _, c := range cases {
		if c.want == "" {
			if c.err != nil {
				t.Errorf("%s: unexpected error %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if err := CheckLabels("Op", []int32{11}, 10); !errors.Is(err, ErrRange) {
		t.Errorf("a bad label's error %v does not wrap ErrRange", err)
	}
}

// TestChecksAllocateNothing checks that passing checks allocate nothing,
// so ops can make them on every step.
func TestChecksAllocateNothing(t *testing.T) {
	f4, u4, i4 := &buf{F32, 4}, &buf{U8, 4}, &buf{I32, 4}
	idx := []int32{0, 1, 2, 3}
	var host any = make([]float32, 4) // Download's argument is boxed by its caller
	allocs := testing.AllocsPerRun(100, func() {
		var errs [10]error
		errs[0] = CheckLoss(CrossEntropy, 1, 4, f4, i4, nil, f4, f4)
		errs[1] = CheckGatherImages(2, 2, u4, i4, f4, 1)
		errs[2] = CheckAdam(4, 1, f4, f4, f4, f4)
		errs[3] = CheckActBackward(ReLU, 4, f4, f4, f4, f4)
		errs[4] = CheckIndices("GatherImages", idx, 4)
		errs[5] = CheckGemm(2, 2, 2, f4, f4, f4)
		errs[6] = CheckDownload(host, f4)
		errs[7] = CheckSGD(4, 0.9, f4, f4, f4)
		errs[8] = CheckBatchNormTrain(2, 1, 2, 2, f4, f4, f4, f4, f4, f4, f4, f4)
		errs[9] = CheckConv("Conv2D.BackwardFilter", ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1}, 1, 1, f4, f4, f4)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("passing checks allocate %v times", allocs)
	}
}

func nan() float64 { var z float64; return z / z }

// BenchmarkChecks measures the argument checks of one MLP training step's
// worth of op calls (gather, three linear layers' GEMMs and biases, two
// activations, the loss, the optimizer): the price of the contract per step.
func BenchmarkChecks(b *testing.B) {
	x, w, y := &buf{F32, 64 * 784}, &buf{F32, 128 * 784}, &buf{F32, 64 * 128}
	data, idx, lab := &buf{U8, 60000 * 784}, &buf{I32, 64}, &buf{I32, 64}
	for b.Loop() {
		_ = CheckGatherImages(64, 784, data, idx, x, 1)
		_ = CheckGatherLabels(64, data, idx, lab)
		for range 3 {
			_ = CheckGemm(64, 128, 784, x, w, y)
			_ = CheckGemm(128, 784, 64, y, x, w)
			_ = CheckGemm(64, 784, 128, y, w, x)
			_ = CheckBias("AddBias", 64, 128, 1, y, y)
			_ = CheckBias("BiasGrad", 64, 128, 1, y, y)
		}
		_ = CheckActForward(ReLU, 64*128, y, y)
		_ = CheckActBackward(ReLU, 64*128, y, y, y, y)
		_ = CheckLoss(CrossEntropy, 64, 10, y, lab, y, y, y)
		_ = CheckAdam(100000, 1, w, w, w, w)
	}
}

// TestFusedChecks checks the step ops' contract (check_fused.go) on
// hand-made shapes: each case names the argument at fault.
func TestFusedChecks(t *testing.T) {
	f1, f2, f4, f8 := &buf{F32, 1}, &buf{F32, 2}, &buf{F32, 4}, &buf{F32, 8}
	u8, i2, ctr := &buf{U8, 8}, &buf{I32, 2}, &buf{I32, CtrLen}
	pool := PoolPlan{Ch: 1, H: 2, W: 2, MaxN: 2}    // [n, 1, 2, 2] → [n, 1, 1, 1]
	bn := BNPlan{Ch: 1, Spatial: 4, MaxN: 2}        // matches pool
	s := ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1} // [n, 1, 2, 2] → [n, 1, 2, 2]
	conv := ConvPlan{S: s, MaxN: 2}
	nan := float32(nan())
	cases := []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"counter ok", CheckCounter("Op", ctr), ""},
		{"counter short", CheckCounter("Op", i2), "ctr has 2 elements, need 3"},
		{"gather batch ok", CheckGatherBatch(2, 2, u8, u8, i2, ctr, f4, i2, 1), ""},
		{"gather batch std inf", CheckGatherBatch(2, 2, u8, u8, i2, ctr, f4, i2, float32(1/zero())), "std is +Inf"},
		{"gather batch short perm", CheckGatherBatch(3, 1, u8, u8, i2, ctr, f4, i2, 1), "perm has 2 elements, need 3"},
		{"gather batch f32 ctr", CheckGatherBatch(2, 2, u8, u8, i2, f4, f4, i2, 1), "ctr is f32"},
		{"batch range ok", CheckBatchRange("Op", []int32{0, 1, 2}, 1, 2, 3, 3), ""},
		{"batch past perm", CheckBatchRange("Op", []int32{0, 1, 2}, 2, 2, 3, 3), "batch [2, 4) outside the permutation's 3 entries"},
		{"batch negative offset", CheckBatchRange("Op", []int32{0, 1, 2}, -1, 1, 3, 3), "batch [-1, 0)"},
		{"batch row past labels", CheckBatchRange("Op", []int32{0, 2}, 0, 2, 3, 2), "idx[1] = 2 outside the 2 rows"},
		{"dropout at NaN p", CheckDropoutAt(4, nan, ctr, f4, f4, f4), "p = NaN"},
		{"dropout at no ctr", CheckDropoutAt(4, 0.5, nil, f4, f4, f4), "ctr is nil"},
		{"sgd at ok", CheckSGDAt(4, 0, 2, ctr, f4, f4, nil), ""},
		{"sgd at no vel", CheckSGDAt(4, 0.9, 2, ctr, f4, f4, nil), "vel is nil"},
		{"sgd at negative n", CheckSGDAt(4, 0, -2, ctr, f4, f4, nil), "negative batch"},
		{"adam at short m", CheckAdamAt(4, 2, ctr, f4, f4, f2, f4), "m has 2 elements"},
		{"set counter ok", CheckSetCounter(ctr, 64, 0), ""},
		{"set counter big", CheckSetCounter(ctr, 0, 1<<31), "outside [0, 2147483647]"},
		{"dense ok", CheckDenseForward(2, 2, 2, ReLU, 0.5, ctr, f4, f4, f2, f4, f4, f4), ""},
		{"dense no dropout, nil ctr", CheckDenseForward(2, 2, 2, Tanh, 0, nil, f4, f4, f2, f4, nil, nil), ""},
		{"dense short x", CheckDenseForward(2, 4, 1, ReLU, 0, nil, f4, f4, f1, f2, nil, nil), "x has 4 elements, need 8"},
		{"dense unknown act", CheckDenseForward(2, 2, 2, Activation(7), 0, nil, f4, f4, f2, f4, nil, nil), "unknown activation"},
		{"dense mask without ctr", CheckDenseForward(2, 2, 2, ReLU, 0.5, nil, f4, f4, f2, f4, f4, f4), "ctr is nil"},
		{"dense gather ok", CheckDenseForwardGather(2, 2, 2, u8, u8, i2, ctr, 1, f4, i2, ReLU, 0, f4, f2, f4, nil, nil), ""},
		{"dense gather std 0", CheckDenseForwardGather(2, 2, 2, u8, u8, i2, ctr, 0, f4, i2, ReLU, 0, f4, f2, f4, nil, nil), "std is 0"},
		{"dense backward ok", CheckDenseBackward(2, 2, 2, f4, f4, f4, f4, f2, ReLU, f4, f4, f4), ""},
		{"dense backward identity ignores a", CheckDenseBackward(2, 2, 2, f4, f4, f4, f4, f2, Identity, f1, nil, f4), ""},
		{"dense backward short mask", CheckDenseBackward(2, 2, 2, f4, f4, f4, f4, f2, ReLU, nil, f2, f4), "mask has 2 elements"},
		{"act pool ok", CheckActPoolForward(ReLU, pool, 2, f8, f8, f2), ""},
		{"act pool short pooled", CheckActPoolForward(ReLU, pool, 2, f8, f8, f1), "pooled has 1 elements, need 2"},
		{"pool act n > maxN", CheckPoolActBackward(ReLU, pool, 3, f8, f2, f8), "n = 3 outside [0, 2]"},
		{"bn act pool ok", CheckBNActPoolForward(bn, ReLU, pool, 2, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2), ""},
		{"bn act pool mismatch", CheckBNActPoolForward(BNPlan{Ch: 2, Spatial: 4, MaxN: 2}, ReLU, pool, 1, f8, f2, f2, f2, f2, f2, f2, f8, f8, f2),
			"do not match"},
		{"bn act pool n 0", CheckBNActPoolForward(bn, ReLU, pool, 0, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2), "n = 0 outside [1, 2]"},
		{"bn act pool one value", CheckBNActPoolForward(BNPlan{Ch: 1, Spatial: 1, MaxN: 1}, ReLU, PoolPlan{Ch: 1, H: 1, W: 1, MaxN: 1}, 1,
			f8, f1, f1, f1, f1, f1, f1, f8, f8, f2), "more than 1 value"},
		{"conv bias ok", CheckConvBiasForward(conv, s, 2, f8, f1, f1, f8), ""},
		{"conv bias other shape", CheckConvBiasForward(conv, ConvShape{C: 1, H: 2, W: 2, K: 3, OutC: 1}, 1, f8, f8, f1, f8), "the plan is for"},
		{"conv bias n 0", CheckConvBiasForward(conv, s, 0, f8, f1, f1, f8), "n = 0 outside [1, 2]"},
		{"conv backward short db", CheckConvBiasBackward(conv, s, 1, f4, f4, f1, f1, &buf{F32, 0}, nil), "db has 0 elements"},
		{"conv backward short dx", CheckConvBiasBackward(conv, s, 2, f8, f8, f1, f1, f1, f4), "dx has 4 elements, need 8"},
		{"conv block ok", CheckConvBNActPoolForward(conv, s, bn, ReLU, pool, 2, f8, f1, f1, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2), ""},
		{"conv block short convY", CheckConvBNActPoolForward(conv, s, bn, ReLU, pool, 2, f8, f1, f1, f4, f1, f1, f1, f1, f1, f1, f8, f8, f2),
			"convY has 4 elements"},
		{"conv block bn mismatch", CheckConvBNActPoolForward(conv, s, BNPlan{Ch: 1, Spatial: 9, MaxN: 2}, ReLU, pool, 1, f8, f1, f1, f8,
			f1, f1, f1, f1, f1, f1, f8, f8, f2), "do not match"},
		{"conv block gather ok", CheckConvBNActPoolForwardGather(u8, u8, i2, ctr, 1, i2, conv, s, bn, ReLU, pool, 2, f8, f1, f1, f8,
			f1, f1, f1, f1, f1, f1, f8, f8, f2), ""},
		{"conv block gather short labels", CheckConvBNActPoolForwardGather(u8, u8, i2, ctr, 1, &buf{I32, 1}, conv, s, bn, ReLU, pool, 2,
			f8, f1, f1, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2), "batchLabels has 1 elements, need 2"},
		{"pool act bn ok", CheckPoolActBNBackward(bn, ReLU, pool, 2, f8, f2, f8, f8, f1, f1, f1, f8, f1, f1), ""},
		{"pool act bn short dpooled", CheckPoolActBNBackward(bn, ReLU, pool, 2, f8, f1, f8, f8, f1, f1, f1, f8, f1, f1), "dpooled has 1"},
		{"pool act bn u8 dgamma", CheckPoolActBNBackward(bn, ReLU, pool, 2, f8, f2, f8, f8, f1, f1, f1, f8, u8, f1), "dgamma is u8"},
	}
	for _, c := range cases {
		if c.want == "" {
			if c.err != nil {
				t.Errorf("%s: unexpected error %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if err := CheckBatchRange("Op", []int32{5}, 0, 1, 3, 3); !errors.Is(err, ErrRange) {
		t.Errorf("a bad permutation entry's error %v does not wrap ErrRange", err)
	}
	if err := CheckBatchRange("Op", []int32{0}, 1, 1, 3, 3); !errors.Is(err, ErrRange) {
		t.Errorf("a batch past the permutation's error %v does not wrap ErrRange", err)
	}
}

func zero() float64 { return 0 }

// TestFusedChecksAllocateNothing checks that the step ops' passing checks
// allocate nothing: they run on every training step.
func TestFusedChecksAllocateNothing(t *testing.T) {
	f1, f2, f4, f8 := &buf{F32, 1}, &buf{F32, 2}, &buf{F32, 4}, &buf{F32, 8}
	u8, i2, ctr := &buf{U8, 8}, &buf{I32, 2}, &buf{I32, CtrLen}
	pool, bn := PoolPlan{Ch: 1, H: 2, W: 2, MaxN: 2}, BNPlan{Ch: 1, Spatial: 4, MaxN: 2}
	s := ConvShape{C: 1, H: 2, W: 2, K: 1, OutC: 1}
	conv := ConvPlan{S: s, MaxN: 2}
	perm := []int32{1, 0}
	allocs := testing.AllocsPerRun(100, func() {
		var errs [16]error
		errs[0] = CheckGatherBatch(2, 2, u8, u8, i2, ctr, f4, i2, 1)
		errs[1] = CheckBatchRange("GatherBatch", perm, 0, 2, 4, 4)
		errs[2] = CheckDropoutAt(4, 0.5, ctr, f4, f4, f4)
		errs[3] = CheckSGDAt(4, 0.9, 2, ctr, f4, f4, f4)
		errs[4] = CheckAdamAt(4, 2, ctr, f4, f4, f4, f4)
		errs[5] = CheckSetCounter(ctr, 0, 0)
		errs[6] = CheckDenseForward(2, 2, 2, ReLU, 0.5, ctr, f4, f4, f2, f4, f4, f4)
		errs[7] = CheckDenseForwardGather(2, 2, 2, u8, u8, i2, ctr, 1, f4, i2, ReLU, 0.5, f4, f2, f4, f4, f4)
		errs[8] = CheckDenseBackward(2, 2, 2, f4, f4, f4, f4, f2, ReLU, f4, f4, f4)
		errs[9] = CheckActPoolForward(ReLU, pool, 2, f8, f8, f2)
		errs[10] = CheckPoolActBackward(ReLU, pool, 2, f8, f2, f8)
		errs[11] = CheckBNActPoolForward(bn, ReLU, pool, 2, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2)
		errs[12] = CheckConvBiasBackward(conv, s, 2, f8, f8, f1, f1, f1, f8)
		errs[13] = CheckConvBNActPoolForward(conv, s, bn, ReLU, pool, 2, f8, f1, f1, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2)
		errs[14] = CheckConvBNActPoolForwardGather(u8, u8, i2, ctr, 1, i2, conv, s, bn, ReLU, pool, 2, f8, f1, f1, f8, f1, f1, f1, f1, f1, f1, f8, f8, f2)
		errs[15] = CheckPoolActBNBackward(bn, ReLU, pool, 2, f8, f2, f8, f8, f1, f1, f1, f8, f1, f1)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("passing checks of the step ops allocate %v times", allocs)
	}
}
