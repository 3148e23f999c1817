package model

import (
	"math"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

// countingDevice counts the bytes allocated and not yet freed, and the peak.
type countingDevice struct {
	kernels.Device
	size       map[kernels.Buffer]int64
	live, peak int64
}

func (d *countingDevice) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	b, err := d.Device.Alloc(dt, n)
	if err == nil {
		d.size[b] = int64(dt.Size() * n)
		d.live += d.size[b]
		d.peak = max(d.peak, d.live)
	}
	return b, err
}

func (d *countingDevice) Free(b kernels.Buffer) {
	d.live -= d.size[b]
	delete(d.size, b)
	d.Device.Free(b)
}

// TestEstimateMemory checks the estimate against the bytes a real run
// allocates on the CPU device (network, trainer, three resident sets and
// the test predictions): never below, at most 1% above.
func TestEstimateMemory(t *testing.T) {
	cnnNoBN, _ := DefaultArch(TaskCNN)
	cnnNoBN.BatchNorm, cnnNoBN.Dropout, cnnNoBN.Channels = false, 0.2, []int{3, 5, 2}
	mlp, _ := DefaultArch(TaskMLP)
	mlp.Hidden = []int{300, 7}
	for _, c := range []struct {
		name     string
		a        func() Arch
		opt      string
		features bool
	}{
		{"mlp", func() Arch { a, _ := DefaultArch(TaskMLP); return a }, OptMomentum, false},
		{"mlp-adam-features", func() Arch { return mlp }, OptAdam, true},
		{"cnn", func() Arch { a, _ := DefaultArch(TaskCNN); return a }, OptMomentum, true},
		{"cnn-nobn-dropout", func() Arch { return cnnNoBN }, OptSGD, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := c.a()
			dev := &countingDevice{Device: cpu.New(1), size: map[kernels.Buffer]int64{}}
			const batch, nTrain, nVal, nTest = 16, 50, 20, 30
			net, err := Build(dev, a, batch, 1)
			must(t, err)
			defer net.Close()
			cfg := DefaultTrainConfig()
			cfg.Optimizer = c.opt
			tr, err := NewTrainer(net, cfg)
			must(t, err)
			defer tr.Close()
			var test *Resident
			for _, n := range []int{nTrain, nVal, nTest} {
				r, err := Upload(dev, syntheticSet(n, 28))
				must(t, err)
				defer r.Free(dev)
				test = r
			}
			_, err = tr.Epoch(test, 1, nil)
			must(t, err)
			_, err = tr.Predict(test, c.features)
			must(t, err)
			m, err := EstimateMemory(a, batch, c.opt, nTrain+nVal+nTest, nTest, c.features)
			must(t, err)
			got := float64(dev.peak)
			t.Logf("estimate %.0f, allocated %.0f", m.Total(), got)
			if !(m.Total() >= got && m.Total() <= 1.01*got) {
				t.Fatalf("estimate %.0f bytes (%+v), the run allocated %.0f at its peak", m.Total(), m, got)
			}
		})
	}
	huge, _ := DefaultArch(TaskMLP)
	huge.Hidden = []int{1e12}
	m, err := EstimateMemory(huge, 64, OptMomentum, 70000, 10000, false)
	if err != nil || !(m.Total() > 1e15) || math.IsInf(m.Total(), 0) {
		t.Fatalf("--hidden 1e12: %v %v", m.Total(), err)
	}
}
