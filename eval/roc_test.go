package eval

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func floatsNear(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(a[i] == b[i] || math.Abs(a[i]-b[i]) <= 1e-12) {
			return false
		}
	}
	return true
}

func TestBinaryROC(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name                string
		scores              []float64
		positive            []bool
		fpr, tpr, threshold []float64
		auc                 float64
	}{
		{
			// scikit-learn's roc_curve docstring example (pos_label=2),
			// drop_intermediate=False.
			name:      "sklearn docstring",
			scores:    []float64{0.1, 0.4, 0.35, 0.8},
			positive:  []bool{false, false, true, true},
			fpr:       []float64{0, 0, 0.5, 0.5, 1},
			tpr:       []float64{0, 0.5, 0.5, 1, 1},
			threshold: []float64{inf, 0.8, 0.4, 0.35, 0.1},
			auc:       0.75,
		},
		{
			// The three samples scored 0.5 (one positive, two negatives)
			// form one diagonal step. AUC = Mann-Whitney 5/6 (ties count ½).
			name:      "ties",
			scores:    []float64{0.9, 0.5, 0.5, 0.5, 0.1},
			positive:  []bool{true, true, false, false, false},
			fpr:       []float64{0, 0, 2.0 / 3, 1},
			tpr:       []float64{0, 0.5, 1, 1},
			threshold: []float64{inf, 0.9, 0.5, 0.1},
			auc:       5.0 / 6,
		},
		{
			name:      "all tied",
			scores:    []float64{0.3, 0.3, 0.3},
			positive:  []bool{true, false, true},
			fpr:       []float64{0, 1},
			tpr:       []float64{0, 1},
			threshold: []float64{inf, 0.3},
			auc:       0.5,
		},
		{
			name:      "perfect",
			scores:    []float64{0.9, 0.8, 0.2, 0.1},
			positive:  []bool{true, true, false, false},
			fpr:       []float64{0, 0, 0, 0.5, 1},
			tpr:       []float64{0, 0.5, 1, 1, 1},
			threshold: []float64{inf, 0.9, 0.8, 0.2, 0.1},
			auc:       1,
		},
		{
			name:      "reversed",
			scores:    []float64{0.1, 0.2, 0.8, 0.9},
			positive:  []bool{true, true, false, false},
			fpr:       []float64{0, 0.5, 1, 1, 1},
			tpr:       []float64{0, 0, 0, 0.5, 1},
			threshold: []float64{inf, 0.9, 0.8, 0.2, 0.1},
			auc:       0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := BinaryROC(tc.scores, tc.positive)
			if err != nil {
				t.Fatal(err)
			}
			if !floatsNear(c.FPR, tc.fpr) || !floatsNear(c.TPR, tc.tpr) || !floatsNear(c.Thresholds, tc.threshold) {
				t.Errorf("got fpr %v tpr %v thr %v\nwant fpr %v tpr %v thr %v", c.FPR, c.TPR, c.Thresholds, tc.fpr, tc.tpr, tc.threshold)
			}
			if !(math.Abs(c.AUC-tc.auc) <= 1e-12) {
				t.Errorf("AUC = %v, want %v", c.AUC, tc.auc)
			}
		})
	}
}

func TestBinaryROCUndefined(t *testing.T) {
	tests := []struct {
		name     string
		positive []bool
	}{
		{"no positives", []bool{false, false, false}},
		{"no negatives", []bool{true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := BinaryROC([]float32{0.1, 0.5, 0.7}, tc.positive)
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(c.AUC) {
				t.Errorf("AUC = %v, want NaN", c.AUC)
			}
		})
	}
}

func TestBinaryROCErrors(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		positive []bool
	}{
		{"empty", nil, nil},
		{"mismatch", []float64{1, 2}, []bool{true}},
		{"NaN", []float64{1, math.NaN()}, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := BinaryROC(tc.scores, tc.positive); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestROCMultiClassHandWorked(t *testing.T) {
	yTrue := []int{0, 1, 2, 2}
	scores := [][]float64{
		{0.6, 0.3, 0.1},
		{0.2, 0.35, 0.45},
		{0.3, 0.3, 0.4},
		{0.5, 0.1, 0.4},
	}
	r, err := ROC(yTrue, scores, 3)
	if err != nil {
		t.Fatal(err)
	}
	perClass := []struct{ fpr, tpr []float64 }{
		{[]float64{0, 0, 1.0 / 3, 2.0 / 3, 1}, []float64{0, 1, 1, 1, 1}},
		{[]float64{0, 0, 2.0 / 3, 1}, []float64{0, 1, 1, 1}},
		{[]float64{0, 0.5, 0.5, 1}, []float64{0, 0, 1, 1}},
	}
	wantAUC := []float64{1, 1, 0.5}
	for c, w := range perClass {
		got := r.PerClass[c]
		if !floatsNear(got.FPR, w.fpr) || !floatsNear(got.TPR, w.tpr) || !(math.Abs(got.AUC-wantAUC[c]) <= 1e-12) {
			t.Errorf("class %d: fpr %v tpr %v auc %v, want %v %v %v", c, got.FPR, got.TPR, got.AUC, w.fpr, w.tpr, wantAUC[c])
		}
	}
	// Micro: 12 pairs, 4 positive; 0.4 is scored by two positives.
	wantMicroFPR := []float64{0, 0, 1.0 / 8, 2.0 / 8, 2.0 / 8, 2.0 / 8, 5.0 / 8, 6.0 / 8, 1}
	wantMicroTPR := []float64{0, 0.25, 0.25, 0.25, 0.75, 1, 1, 1, 1}
	if !floatsNear(r.Micro.FPR, wantMicroFPR) || !floatsNear(r.Micro.TPR, wantMicroTPR) {
		t.Errorf("micro fpr %v tpr %v, want %v %v", r.Micro.FPR, r.Micro.TPR, wantMicroFPR, wantMicroTPR)
	}
	if !(math.Abs(r.Micro.AUC-0.8125) <= 1e-12) {
		t.Errorf("micro AUC = %v, want 0.8125 (Mann-Whitney 26/32)", r.Micro.AUC)
	}
	// Macro: grid {0, 1/3, 1/2, 2/3, 1}; class 2 interpolates to 0 at 0 and
	// 1/3 and to its upper value 1 at the repeated FPR 1/2.
	wantMacroFPR := []float64{0, 1.0 / 3, 0.5, 2.0 / 3, 1}
	wantMacroTPR := []float64{2.0 / 3, 2.0 / 3, 1, 1, 1}
	if !floatsNear(r.Macro.FPR, wantMacroFPR) || !floatsNear(r.Macro.TPR, wantMacroTPR) {
		t.Errorf("macro fpr %v tpr %v, want %v %v", r.Macro.FPR, r.Macro.TPR, wantMacroFPR, wantMacroTPR)
	}
	if !(math.Abs(r.Macro.AUC-31.0/36) <= 1e-12) {
		t.Errorf("macro AUC = %v, want 31/36", r.Macro.AUC)
	}
	if !(math.Abs(r.MacroAUC-2.5/3) <= 1e-12) {
		t.Errorf("mean AUC = %v, want 2.5/3", r.MacroAUC)
	}
}

func TestROCPerfectReversedAndMissingClass(t *testing.T) {
	yTrue := []int{0, 1, 2, 0, 1, 2, 1}
	perfect := make([][]float32, len(yTrue))
	reversed := make([][]float32, len(yTrue))
	for i, c := range yTrue {
		perfect[i] = make([]float32, 4)
		reversed[i] = make([]float32, 4)
		for k := range 4 {
			if k == c {
				perfect[i][k] = 0.7
			} else {
				perfect[i][k] = 0.1
				reversed[i][k] = 0.3
			}
		}
	}
	tests := []struct {
		name     string
		scores   [][]float32
		auc      float64
		macroAUC float64
	}{
		{"perfect", perfect, 1, 1},
		// Each reversed curve runs (0,0) → (1,0) → (1,1); on the FPR grid
		// {0, 1} the interpolation keeps only the upper point at FPR 1, so
		// the macro curve is the diagonal (scikit-learn's recipe does the
		// same), while the mean of the AUCs is 0.
		{"reversed", reversed, 0, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ROC(yTrue, tc.scores, 4)
			if err != nil {
				t.Fatal(err)
			}
			for c := range 3 {
				if r.PerClass[c].AUC != tc.auc {
					t.Errorf("class %d AUC = %v, want %v", c, r.PerClass[c].AUC, tc.auc)
				}
			}
			// Class 3 has no positives: undefined, skipped by the macro.
			if !math.IsNaN(r.PerClass[3].AUC) {
				t.Errorf("class 3 AUC = %v, want NaN", r.PerClass[3].AUC)
			}
			for _, a := range []struct {
				name      string
				got, want float64
			}{{"micro", r.Micro.AUC, tc.auc}, {"macro curve", r.Macro.AUC, tc.macroAUC}, {"mean", r.MacroAUC, tc.auc}} {
				if !(math.Abs(a.got-a.want) <= 1e-12) {
					t.Errorf("%s AUC = %v, want %v", a.name, a.got, a.want)
				}
			}
			last := len(r.Macro.FPR) - 1
			if r.Macro.FPR[last] != 1 || r.Macro.TPR[last] != 1 {
				t.Errorf("macro curve ends at (%v, %v), want (1, 1)", r.Macro.FPR[last], r.Macro.TPR[last])
			}
		})
	}
}

func TestROCErrors(t *testing.T) {
	tests := []struct {
		name    string
		yTrue   []int
		scores  [][]float64
		classes int
	}{
		{"one class", []int{0}, [][]float64{{1}}, 1},
		{"empty", nil, nil, 2},
		{"row count", []int{0, 1}, [][]float64{{1, 0}}, 2},
		{"row length", []int{0, 1}, [][]float64{{1, 0}, {1}}, 2},
		{"label range", []int{0, 2}, [][]float64{{1, 0}, {0, 1}}, 2},
		{"NaN", []int{0, 1}, [][]float64{{1, 0}, {math.NaN(), 1}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ROC(tc.yTrue, tc.scores, tc.classes); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestTrapezoid(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"unit square", []float64{0, 1}, []float64{1, 1}, 1},
		{"triangle", []float64{0, 1}, []float64{0, 1}, 0.5},
		{"one point", []float64{0}, []float64{1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Trapezoid(tc.x, tc.y); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !math.IsNaN(Trapezoid([]float64{1}, nil)) {
		t.Error("mismatched lengths: want NaN")
	}
}

func TestROCJSON(t *testing.T) {
	// Class 2 has no positives: NaN rates and AUC must encode as null.
	r, err := ROC([]int{0, 1, 0, 1}, [][]float64{{0.8, 0.1, 0.1}, {0.2, 0.7, 0.1}, {0.6, 0.3, 0.1}, {0.5, 0.4, 0.1}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(b), `"thresholds":[null,`) || !strings.Contains(string(b), `"auc":null`) {
		t.Errorf("JSON lacks nulls for +Inf/NaN: %s", b)
	}
	var back ROCResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if len(back.PerClass) != 3 || back.PerClass[0].AUC != r.PerClass[0].AUC || !math.IsNaN(back.PerClass[2].AUC) ||
		!floatsNear(back.Micro.TPR, r.Micro.TPR) || back.MacroAUC != r.MacroAUC {
		t.Errorf("round trip: %+v\nwant %+v", back, r)
	}
}
