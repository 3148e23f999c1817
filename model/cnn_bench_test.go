package model

import (
	"testing"

	"mnistgpu/kernels/cpu"
)

// BenchmarkCPUTrainStep trains epochs of 100 steps of the default CNN and
// MLP at batch 64 on synthetic digits with the CPU device (GOMAXPROCS
// threads: -cpu sets them) and reports the time per step and per 54,000
// image epoch: the training path mnistgpu bench measures, without the
// data set.
func BenchmarkCPUTrainStep(b *testing.B) {
	for _, task := range []string{TaskCNN, TaskMLP} {
		b.Run(task, func(b *testing.B) {
			const n, steps = 64, 100
			dev := cpu.New(0)
			defer dev.Close()
			arch, _ := DefaultArch(task)
			net, err := Build(dev, arch, n, 1)
			mustB(b, err)
			cfg := DefaultTrainConfig()
			cfg.BatchSize = n
			tr, err := NewTrainer(net, cfg)
			mustB(b, err)
			defer tr.Close()
			r, err := Upload(dev, syntheticSet(n*steps, 28))
			mustB(b, err)
			_, err = tr.Epoch(r, 0, nil)
			mustB(b, err)
			epoch := 1
			for b.Loop() {
				_, err := tr.Epoch(r, epoch, nil)
				mustB(b, err)
				epoch++
			}
			perStep := b.Elapsed().Seconds() / float64(b.N*steps)
			b.ReportMetric(perStep*1e3, "ms/step")
			b.ReportMetric(perStep*54000/n, "s/epoch")
		})
	}
}

func mustB(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
