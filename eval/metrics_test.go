package eval

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int
		classes      int
		want         Report // Samples, Confusion ignored
		wantPerClass []ClassMetrics
		wantConf     [][]int
	}{
		{
			// Hand-worked: class 2 is never predicted (precision 0 by the
			// zero-division convention).
			name:    "hand-worked",
			yTrue:   []int{0, 0, 0, 1, 1, 2},
			yPred:   []int{0, 0, 1, 1, 0, 1},
			classes: 3,
			want: Report{
				Accuracy:       0.5,
				MacroPrecision: (2.0/3 + 1.0/3 + 0) / 3,
				MacroRecall:    (2.0/3 + 1.0/2 + 0) / 3,
				MacroF1:        (2.0/3 + 0.4 + 0) / 3,
				// Weights 3, 2, 1 over 6 samples.
				WeightedPrecision: (3*2.0/3 + 2*1.0/3) / 6,
				WeightedRecall:    0.5,
				WeightedF1:        (3*2.0/3 + 2*0.4) / 6,
			},
			wantPerClass: []ClassMetrics{
				{Class: 0, Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3, Support: 3, Predicted: 3},
				{Class: 1, Precision: 1.0 / 3, Recall: 0.5, F1: 0.4, Support: 2, Predicted: 3},
				{Class: 2, Precision: 0, Recall: 0, F1: 0, Support: 1, Predicted: 0},
			},
			wantConf: [][]int{{2, 1, 0}, {1, 1, 0}, {0, 1, 0}},
		},
		{
			// Class 3 occurs nowhere: it is reported with zeros but left out
			// of the macro means, as scikit-learn's default labels do.
			name:    "absent class",
			yTrue:   []int{0, 0, 0, 1, 1, 2},
			yPred:   []int{0, 0, 1, 1, 0, 1},
			classes: 4,
			want: Report{
				Accuracy:          0.5,
				MacroPrecision:    (2.0/3 + 1.0/3 + 0) / 3,
				MacroRecall:       (2.0/3 + 1.0/2 + 0) / 3,
				MacroF1:           (2.0/3 + 0.4 + 0) / 3,
				WeightedPrecision: (3*2.0/3 + 2*1.0/3) / 6,
				WeightedRecall:    0.5,
				WeightedF1:        (3*2.0/3 + 2*0.4) / 6,
			},
			wantPerClass: []ClassMetrics{
				{Class: 0, Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3, Support: 3, Predicted: 3},
				{Class: 1, Precision: 1.0 / 3, Recall: 0.5, F1: 0.4, Support: 2, Predicted: 3},
				{Class: 2, Support: 1},
				{Class: 3},
			},
			wantConf: [][]int{{2, 1, 0, 0}, {1, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}},
		},
		{
			// A class predicted but never true: recall 0, precision 0.
			name:    "predicted only",
			yTrue:   []int{0, 0, 1, 1},
			yPred:   []int{0, 2, 1, 1},
			classes: 3,
			want: Report{
				Accuracy:          0.75,
				MacroPrecision:    (1 + 1 + 0) / 3.0,
				MacroRecall:       (0.5 + 1 + 0) / 3,
				MacroF1:           (2.0/3 + 1 + 0) / 3,
				WeightedPrecision: 1,
				WeightedRecall:    0.75,
				WeightedF1:        (2*2.0/3 + 2*1) / 4,
			},
			wantPerClass: []ClassMetrics{
				{Class: 0, Precision: 1, Recall: 0.5, F1: 2.0 / 3, Support: 2, Predicted: 1},
				{Class: 1, Precision: 1, Recall: 1, F1: 1, Support: 2, Predicted: 2},
				{Class: 2, Precision: 0, Recall: 0, F1: 0, Support: 0, Predicted: 1},
			},
			wantConf: [][]int{{1, 0, 1}, {0, 2, 0}, {0, 0, 0}},
		},
		{
			name:    "perfect",
			yTrue:   []int{2, 1, 0, 2},
			yPred:   []int{2, 1, 0, 2},
			classes: 3,
			want: Report{Accuracy: 1, MacroPrecision: 1, MacroRecall: 1, MacroF1: 1,
				WeightedPrecision: 1, WeightedRecall: 1, WeightedF1: 1},
			wantPerClass: []ClassMetrics{
				{Class: 0, Precision: 1, Recall: 1, F1: 1, Support: 1, Predicted: 1},
				{Class: 1, Precision: 1, Recall: 1, F1: 1, Support: 1, Predicted: 1},
				{Class: 2, Precision: 1, Recall: 1, F1: 1, Support: 2, Predicted: 2},
			},
			wantConf: [][]int{{1, 0, 0}, {0, 1, 0}, {0, 0, 2}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Evaluate(tc.yTrue, tc.yPred, tc.classes)
			if err != nil {
				t.Fatal(err)
			}
			scalars := []struct {
				name      string
				got, want float64
			}{
				{"accuracy", got.Accuracy, tc.want.Accuracy},
				{"macro precision", got.MacroPrecision, tc.want.MacroPrecision},
				{"macro recall", got.MacroRecall, tc.want.MacroRecall},
				{"macro F1", got.MacroF1, tc.want.MacroF1},
				{"weighted precision", got.WeightedPrecision, tc.want.WeightedPrecision},
				{"weighted recall", got.WeightedRecall, tc.want.WeightedRecall},
				{"weighted F1", got.WeightedF1, tc.want.WeightedF1},
				{"weighted recall = accuracy", got.WeightedRecall, got.Accuracy},
			}
			for _, s := range scalars {
				if !near(s.got, s.want) {
					t.Errorf("%s = %v, want %v", s.name, s.got, s.want)
				}
			}
			if got.Samples != len(tc.yTrue) {
				t.Errorf("samples = %d, want %d", got.Samples, len(tc.yTrue))
			}
			if len(got.PerClass) != len(tc.wantPerClass) {
				t.Fatalf("%d per-class entries, want %d", len(got.PerClass), len(tc.wantPerClass))
			}
			for c, w := range tc.wantPerClass {
				g := got.PerClass[c]
				if g.Class != w.Class || g.Support != w.Support || g.Predicted != w.Predicted ||
					!near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) {
					t.Errorf("class %d = %+v, want %+v", c, g, w)
				}
			}
			for r := range tc.wantConf {
				if !slices.Equal(got.Confusion[r], tc.wantConf[r]) {
					t.Errorf("confusion = %v, want %v", got.Confusion, tc.wantConf)
					break
				}
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int
		classes      int
	}{
		{"empty", nil, nil, 3},
		{"length mismatch", []int{0, 1}, []int{0}, 3},
		{"true label too large", []int{0, 3}, []int{0, 1}, 3},
		{"negative prediction", []int{0, 1}, []int{0, -1}, 3},
		{"no classes", []int{0}, []int{0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Evaluate(tc.yTrue, tc.yPred, tc.classes); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestReportFromConfusionErrors(t *testing.T) {
	tests := []struct {
		name string
		m    [][]int
	}{
		{"empty", nil},
		{"not square", [][]int{{1, 2}, {3}}},
		{"negative", [][]int{{1, -2}, {3, 4}}},
		{"all zero", [][]int{{0, 0}, {0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReportFromConfusion(tc.m); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestAccuracy(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int
		want         float64
		wantErr      bool
	}{
		{"half", []int{1, 2, 3, 4}, []int{1, 0, 3, 0}, 0.5, false},
		{"all", []int{7}, []int{7}, 1, false},
		{"empty", nil, nil, 0, true},
		{"mismatch", []int{1}, []int{1, 2}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Accuracy(tc.yTrue, tc.yPred)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	r, err := Evaluate([]int{0, 1, 1}, []int{0, 1, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"accuracy":`, `"macro_precision":`, `"macro_recall":`, `"macro_f1":`,
		`"weighted_precision":`, `"weighted_recall":`, `"weighted_f1":`, `"per_class":[{"class":0,"precision":`,
		`"support":1`, `"confusion":[[1,0],[1,1]]`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Accuracy != r.Accuracy || back.WeightedF1 != r.WeightedF1 || len(back.PerClass) != 2 {
		t.Errorf("round trip: %+v, want %+v", back, r)
	}
}
