package runs

import (
	"math"
	"strings"
	"testing"

	"mnistgpu/model"
)

func TestStatOf(t *testing.T) {
	cases := []struct {
		in        []float64
		mean, std float64
	}{
		{[]float64{0.5}, 0.5, 0},
		{[]float64{1, 2, 3}, 2, 1},
		{[]float64{0.9, 0.9}, 0.9, 0},
	}
	for _, c := range cases {
		s := StatOf(c.in)
		if !(math.Abs(s.Mean-c.mean) <= 1e-12) || !(math.Abs(s.Std-c.std) <= 1e-12) || s.N != len(c.in) {
			t.Errorf("statOf(%v) = %+v, want mean %v std %v", c.in, s, c.mean, c.std)
		}
	}
	if s := StatOf(nil); !math.IsNaN(s.Mean) {
		t.Errorf("statOf(nil) mean %v, want NaN", s.Mean)
	}
}

func TestDiverged(t *testing.T) {
	h := func(losses ...float64) []model.EpochStats {
		var out []model.EpochStats
		for i, l := range losses {
			out = append(out, model.EpochStats{Epoch: i + 1, TrainLoss: l})
		}
		return out
	}
	cases := []struct {
		name     string
		acc      float64
		testLoss float64
		hist     []model.EpochStats
		want     string
	}{
		{"trained", 0.97, 0.1, h(0.5, 0.2), ""},
		{"nan loss", 0.098, math.NaN(), h(0.5, math.NaN()), "NaN in epoch 2"},
		{"nan test loss only", 0.9, math.NaN(), h(0.5, 0.3), "test loss"},
		{"near chance, loss rose", 0.21, 2.3, h(1.9, 2.3), "rose"},
		{"near chance, slow", 0.25, 2.2, h(2.3, 2.2), "only fell"},
		{"just above the line", 0.31, 2.0, h(2.3, 2.0), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Record{History: c.hist}
			r.Metrics.Accuracy, r.Metrics.TestLoss = c.acc, Num(c.testLoss)
			got := r.Diverged()
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("Diverged() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestConfigDiff(t *testing.T) {
	a := Config{Train: model.TrainConfig{Epochs: 3, BatchSize: 64}, Data: DataConfig{Dir: "x"}}
	b := a
	b.Data.Dir, b.DeviceName, b.Figures = "y", "cpu", true
	if d := Diff(a, b); d != "" {
		t.Fatalf("folder, device and figures are not part of a run: %q", d)
	}
	b.Train.Epochs = 5
	if d := Diff(a, b); !strings.Contains(d, "train.epochs 3 there vs 5 now") {
		t.Fatalf("diff %q", d)
	}
}
