package plots

import (
	"math"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func TestClipLogX(t *testing.T) {
	tests := []struct {
		name string
		in   plotter.XYs
		want plotter.XYs
	}{
		// (0, 0.5) → (0.0002, 0.9): at 1e-4 the line is halfway, 0.7.
		{"interpolated start", plotter.XYs{{X: 0, Y: 0.5}, {X: 2e-4, Y: 0.9}, {X: 1, Y: 1}},
			plotter.XYs{{X: 1e-4, Y: 0.7}, {X: 2e-4, Y: 0.9}, {X: 1, Y: 1}}},
		{"starts on the edge", plotter.XYs{{X: 0, Y: 0}, {X: 1e-4, Y: 0.8}, {X: 1, Y: 1}},
			plotter.XYs{{X: 1e-4, Y: 0.8}, {X: 1, Y: 1}}},
		// A vertical jump at FPR 0 then a step at 1e-5: the level at 1e-4
		// is the one after the step.
		{"steps below the edge", plotter.XYs{{X: 0, Y: 0}, {X: 0, Y: 0.6}, {X: 1e-5, Y: 0.8}, {X: 1e-3, Y: 0.8}, {X: 1, Y: 1}},
			plotter.XYs{{X: 1e-4, Y: 0.8}, {X: 1e-3, Y: 0.8}, {X: 1, Y: 1}}},
		{"all below", plotter.XYs{{X: 0, Y: 0}, {X: 1e-5, Y: 1}}, nil},
	}
	for _, tt := range tests {
		got := clipLogX(tt.in, 1e-4)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if !(math.Abs(got[i].X-tt.want[i].X) <= 1e-12 && math.Abs(got[i].Y-tt.want[i].Y) <= 1e-12) {
				t.Errorf("%s: point %d = %v, want %v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

func TestAUCDecimals(t *testing.T) {
	tests := []struct {
		aucs []float64
		want int
	}{
		{[]float64{0.97, 0.95, math.NaN()}, 3},
		{[]float64{0.9981, 0.9984}, 4},            // 0.998 twice at 3
		{[]float64{0.99871, 0.99874, 0.99871}, 5}, // equal AUCs may share a label
		{[]float64{0.9999991, 0.9999992}, 6},      // capped
	}
	for _, tt := range tests {
		var cs []ROCCurve
		for _, a := range tt.aucs {
			cs = append(cs, ROCCurve{AUC: a})
		}
		if got := aucDecimals(cs); got != tt.want {
			t.Errorf("aucDecimals(%v) = %d, want %d", tt.aucs, got, tt.want)
		}
	}
}
