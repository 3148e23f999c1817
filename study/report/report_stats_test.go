package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// seedCell is a cell with one run per accuracy (NaN: a diverged seed).
func seedCell(v string, accs ...float64) *ablCell {
	c := &ablCell{Value: v, Label: v, Seed: math.NaN()}
	var ok []float64
	for _, a := range accs {
		rec := &runs.Record{Dir: v}
		rec.Metrics.Samples, rec.Metrics.TestLoss = 10000, 0.1
		if math.IsNaN(a) {
			rec.Metrics.Accuracy, rec.Metrics.TestLoss = 0.1, runs.Num(math.NaN())
			c.Why = append(c.Why, "diverged")
		} else {
			rec.Metrics.Accuracy = a
			c.Healthy = append(c.Healthy, rec)
			ok = append(ok, a)
		}
		c.Runs = append(c.Runs, rec)
	}
	c.Acc = runs.StatOf(ok)
	return c
}

func TestCompareWithRepeats(t *testing.T) {
	r := &reportRun{}
	// Differences 0.01, 0.02, 0.01 (and a dropped pair): t = 4, df 2,
	// p = 1 − 4/√18 = 0.0572.
	a := seedCell("a", 0.91, 0.92, 0.93, 0.95)
	b := seedCell("b", 0.90, 0.90, 0.92, math.NaN())
	if b.Runs[3].Diverged() == "" {
		t.Fatal("synthetic run not diverged")
	}
	c := r.compare(a, b, false)
	if !(math.Abs(c.P-(1-4/math.Sqrt(18))) <= 1e-9) || c.clear() {
		t.Errorf("paired: p %g clear %v, want 0.0572 and not clear", c.P, c.clear())
	}
	ev := c.evidence()
	for _, want := range []string{"paired t-test by seed", "3 pairs", "1 pair dropped", "p = 0.057", "95 % CI"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence %q lacks %q", ev, want)
		}
	}
	// Different test sets: Welch's test, named as unpaired.
	w := r.compare(seedCell("x", 0.97, 0.971, 0.972), seedCell("y", 0.95, 0.952, 0.951), true)
	if !strings.Contains(w.evidence(), "Welch's unpaired t-test") || !w.clear() {
		t.Errorf("unpaired: %s (clear %v)", w.evidence(), w.clear())
	}
	// One seed, different test sets: two-proportion z-test.
	z := r.compare(seedCell("x", 0.97), seedCell("y", 0.95), true)
	if !strings.Contains(z.evidence(), "two-proportion z-test, unpaired") || !z.clear() {
		t.Errorf("one seed unpaired: %s", z.evidence())
	}
	// One seed, no predictions: not tested, never significant.
	m := r.compare(seedCell("nowhere-1", 0.97), seedCell("nowhere-2", 0.90), false)
	if m.clear() || !math.IsNaN(m.P) || m.word() != "not tested" {
		t.Errorf("missing predictions: %s (clear %v)", m.evidence(), m.clear())
	}
}

// TestSummaryHolm checks that the best arm's comparisons are
// Holm-corrected: raw p-values 0.03 and 0.04 of two comparisons become
// 0.06 and 0.06.
func TestSummaryHolm(t *testing.T) {
	r := &reportRun{}
	a := &ablResult{Ablation: Ablation{Task: model.TaskMLP, Flag: "lr"}, Cells: []*ablCell{
		seedCell("0.1", 0.95, 0.96, 0.97, 0.96, 0.95),
		seedCell("0.05", 0.94, 0.96, 0.96, 0.95, 0.945),
		seedCell("0.01", 0.945, 0.955, 0.965, 0.95, 0.94),
	}}
	var cs []*comparison
	for _, c := range a.Cells[1:] {
		cmp := r.compare(c, a.Cells[0], false)
		cs = append(cs, &cmp)
	}
	raw := []float64{cs[0].P, cs[1].P}
	holm(cs)
	lo, hi := min(raw[0], raw[1]), max(raw[0], raw[1])
	want := math.Min(1, math.Max(2*lo, hi))
	for i, c := range cs {
		if c.Holm != 2 || !(c.Adj >= raw[i]) {
			t.Errorf("comparison %d: Holm %d, adjusted %g from %g", i, c.Holm, c.Adj, raw[i])
		}
	}
	if got := math.Max(cs[0].Adj, cs[1].Adj); !(math.Abs(got-want) <= 1e-12) {
		t.Errorf("largest adjusted p %g, want %g (raw %v)", got, want, raw)
	}
	txt, best, _, _ := r.summary(a)
	if best != a.Cells[0] || !strings.Contains(txt, "Holm-adjusted over 2 comparisons") || !strings.Contains(txt, "(n = 5)") {
		t.Errorf("summary: %s", txt)
	}
}

func TestReadCorrect(t *testing.T) {
	p := filepath.Join(t.TempDir(), "predictions.csv")
	if err := os.WriteFile(p, []byte("index,label,pred,p0\n0,7,7,0.1\n1,2,3,0.2\n2,1,1,0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readCorrect(p)
	if err != nil || len(got) != 3 || !got[0] || got[1] || !got[2] {
		t.Errorf("readCorrect = %v, %v; want [true false true]", got, err)
	}
	if err := os.WriteFile(p, []byte("index,label\n0,7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCorrect(p); err == nil || !strings.Contains(err.Error(), "no label and pred columns") {
		t.Errorf("readCorrect without pred: %v", err)
	}
}
