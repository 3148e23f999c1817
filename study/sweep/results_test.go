package sweep

import (
	"strconv"
	"strings"
	"testing"

	"mnistgpu/study/runs"
)

// TestCSVRecordCI checks that results.csv rows line up with Columns, keep
// the older columns in place and end with the 95 % intervals (empty for
// one run), and that results.md shows mean ± interval and n.
func TestCSVRecordCI(t *testing.T) {
	acc := runs.StatOf([]float64{0.9, 0.92})
	row := Row{Values: []string{"32"}, Runs: []string{"a", "b"}, Accuracy: acc, WeightedRecall: acc,
		WeightedF1: runs.StatOf([]float64{0.8, 0.8}), TrainLoss: acc, ValLoss: acc, TrainSeconds: acc}
	rec := row.CSVRecord()
	if len(rec) != 1+len(Columns) {
		t.Fatalf("record has %d fields, want %d", len(rec), 1+len(Columns))
	}
	col := func(name string) string {
		for i, c := range Columns {
			if c == name {
				return rec[1+i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if Columns[2] != "accuracy_mean" || Columns[len(Columns)-1] != "weighted_f1_ci95" {
		t.Errorf("columns moved: %v", Columns)
	}
	ci, err := strconv.ParseFloat(col("accuracy_ci95"), 64)
	if err != nil || !(abs(ci-0.127062) <= 1e-5) {
		t.Errorf("accuracy_ci95 = %q, want 0.127062 (t(0.975,1)·0.01)", col("accuracy_ci95"))
	}
	if got := col("weighted_f1_ci95"); got != "0" {
		t.Errorf("weighted_f1_ci95 of two equal values = %q, want 0", got)
	}
	one := Row{Values: []string{"64"}, Runs: []string{"c"}, Accuracy: runs.StatOf([]float64{0.9})}
	if r := one.CSVRecord(); r[len(r)-3] != "" {
		t.Errorf("one run: accuracy_ci95 %q, want empty", r[len(r)-3])
	}
	res := &Result{Params: []Param{{Name: "batch-size", Values: []string{"32"}}}, Rows: []Row{row}}
	md := res.markdown(sweepManifest{Task: "mlp", Params: res.Params, Repeat: 2}, nil)
	for _, want := range []string{"0.9100 ± 0.1271", "95 % confidence interval", "| n |"} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
