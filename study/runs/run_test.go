package runs_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mnistgpu/eval"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
	"mnistgpu/study/internal/studytest"
	"mnistgpu/study/runs"
)

// TestTrainEndToEnd trains each task on a few thousand images on the CPU
// and checks the accuracy floor and that the run folder is complete and
// consistent: predictions.csv reproduces metrics.json.
func TestTrainEndToEnd(t *testing.T) {
	cases := []struct {
		task   string
		epochs int
		floor  float64
	}{
		{model.TaskMLP, 3, 0.92},
		{model.TaskCNN, 3, 0.93},
	}
	data := studytest.RealData(t, runs.DataConfig{ValSplit: 0.1, Subset: 8000})
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			arch, _ := model.DefaultArch(c.task)
			tc := model.DefaultTrainConfig()
			tc.Epochs = c.epochs
			cfg := runs.Config{Arch: arch, Train: tc, Data: runs.DataConfig{ValSplit: 0.1, Subset: 8000}, Device: "cpu",
				Figures: testing.Short() == false, TSNEPoints: 500, TSNELayer: "logits"}
			dir := filepath.Join(t.TempDir(), "run")
			if d := os.Getenv("MNISTGPU_KEEP_RUN"); d != "" {
				dir = filepath.Join(d, c.task)
			}
			dev := cpu.New(0)
			res, err := runs.Train(cfg, dev, data, dir, runs.Logger{Out: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if !(res.Metrics.Accuracy >= c.floor) {
				t.Fatalf("test accuracy %.4f below %.2f", res.Metrics.Accuracy, c.floor)
			}
			t.Logf("%s: test accuracy %.4f after %d epochs on %d images", c.task, res.Metrics.Accuracy, c.epochs, data.Train.Len())
			for _, f := range []string{"config.json", "history.csv", "metrics.json", "predictions.csv", "model.safetensors"} {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s missing or empty: %v", f, err)
				}
			}
			checkPredictionsMatchMetrics(t, dir)
			// eval on the checkpoint reproduces the test metrics exactly.
			ck, err := model.ReadCheckpoint(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			em, err := runs.Evaluate(ck, dev, filepath.Join(dir, "eval"), runs.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if em.Accuracy != res.Metrics.Accuracy || em.WeightedF1 != res.Metrics.WeightedF1 || em.TestLoss != res.Metrics.TestLoss {
				t.Fatalf("eval gives accuracy %v F1 %v loss %v, the run %v %v %v", em.Accuracy, em.WeightedF1, em.TestLoss,
					res.Metrics.Accuracy, res.Metrics.WeightedF1, res.Metrics.TestLoss)
			}
			checkHistory(t, dir, c.epochs)
		})
	}
}

func checkPredictionsMatchMetrics(t *testing.T, dir string) {
	f, err := os.Open(filepath.Join(dir, "predictions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var yt, yp []int
	for _, r := range recs[1:] {
		a, _ := strconv.Atoi(r[1])
		b, _ := strconv.Atoi(r[2])
		yt, yp = append(yt, a), append(yp, b)
	}
	rep, err := eval.Evaluate(yt, yp, 10)
	if err != nil {
		t.Fatal(err)
	}
	var m runs.Metrics
	raw, _ := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if rep.Accuracy != m.Accuracy || rep.WeightedF1 != m.WeightedF1 || rep.MacroRecall != m.MacroRecall {
		t.Fatalf("predictions.csv gives %+v, metrics.json says accuracy %v F1 %v", rep.Accuracy, m.Accuracy, m.WeightedF1)
	}
}

func checkHistory(t *testing.T, dir string, epochs int) {
	f, err := os.Open(filepath.Join(dir, "history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != epochs+1 {
		t.Fatalf("history.csv: %d rows, %v", len(recs), err)
	}
	first, _ := strconv.ParseFloat(recs[1][1], 64)
	last, _ := strconv.ParseFloat(recs[epochs][1], 64)
	if !(last < first) {
		t.Fatalf("training loss did not fall: %v -> %v", first, last)
	}
}

// TestTrainDiverged checks that a run whose loss becomes NaN still leaves a
// complete folder: metrics.json with a null test loss, and the figures that
// can be drawn.
func TestTrainDiverged(t *testing.T) {
	data := studytest.RealData(t, runs.DataConfig{ValSplit: 0.1, Subset: 2000})
	arch, _ := model.DefaultArch(model.TaskMLP)
	tc := model.DefaultTrainConfig()
	tc.Epochs, tc.LR = 1, 5
	cfg := runs.Config{Arch: arch, Train: tc, Device: "cpu", Figures: true, TSNEPoints: 100, TSNELayer: "logits"}
	dir := filepath.Join(t.TempDir(), "run")
	res, err := runs.Train(cfg, cpu.New(0), data, dir, runs.Logger{Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil || !strings.Contains(string(raw), `"test_loss": null`) {
		t.Fatalf("metrics.json should have a null test loss (loss %v): %s", res.Metrics.TestLoss, raw)
	}
	for _, f := range []string{runs.FigLoss, runs.FigConfusion, runs.FigWrong} {
		if _, err := os.Stat(filepath.Join(dir, "figures", f)); err != nil {
			t.Errorf("figure %s: %v", f, err)
		}
	}
}
