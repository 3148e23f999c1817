package runs_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mnistgpu/internal/progress"
	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
	"mnistgpu/study/internal/studytest"
	"mnistgpu/study/runs"
)

// TestTrainProgress checks the stages Train reports: each epoch before it
// runs, the test pass, and the t-SNE iterations of both embeddings.
func TestTrainProgress(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 200}
	data := studytest.RealData(t, dc) // skips without the data
	dc.Dir = data.Dir
	cfg, err := studytest.Config(dc, map[string]string{"epochs": "2", "tsne-points": "60"})(model.TaskMLP, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev := cpu.New(1)
	defer dev.Close()
	var got []string
	log := runs.Logger{Out: &bytes.Buffer{}, Progress: func(done int, stage string) {
		got = append(got, fmt.Sprintf("%d %s", done, stage))
	}}
	dir := t.TempDir()
	if _, err := runs.Train(cfg, dev, data, dir, log); err != nil {
		t.Fatal(err)
	}
	want := []string{"0 epoch 1/2", "1 epoch 2/2", "2 test"}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("stages %q, want them to start with %q", got, want)
	}
	for _, w := range []string{"2 t-SNE after 2 epochs 50/1000", "2 t-SNE after 2 epochs 1000/1000",
		"2 t-SNE after epoch 1 50/1000", "2 t-SNE after epoch 1 1000/1000"} {
		if !slices.Contains(got, w) {
			t.Errorf("no stage %q in %q", w, got)
		}
	}

	// Evaluate reports its t-SNE too, and "" at the end.
	ck, err := model.ReadCheckpoint(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	o := runs.EvalOptions{DataDir: data.Dir, Figures: true, TSNEPoints: 60, TSNELayer: "logits",
		Stage: func(s string) { got = append(got, s) }}
	if _, err := runs.Evaluate(ck, dev, filepath.Join(dir, "eval"), o); err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 || got[len(got)-2] != "t-SNE (evaluated checkpoint) 1000/1000" || got[len(got)-1] != "" {
		t.Errorf("eval stages %q", got)
	}
}

// wrapped hides the CPU device's type, standing in for a device that runs
// ops asynchronously (a GPU).
type wrapped struct{ kernels.Device }

// TestBarOnlyWhenStepsAreDone checks that the in-epoch bar is drawn on the
// CPU, where an issued step is a done step, and not on another device,
// whose epoch line alone shows progress.
func TestBarOnlyWhenStepsAreDone(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 200}
	data := studytest.RealData(t, dc)
	dc.Dir = data.Dir
	cfg, err := studytest.Config(dc, map[string]string{"epochs": "1", "no-figures": "true"})(model.TaskMLP, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		dev     kernels.Device
		wantBar bool
	}{
		{"cpu", cpu.New(1), true},
		{"asynchronous", wrapped{cpu.New(1)}, false},
	} {
		var out bytes.Buffer
		if _, err := runs.Train(cfg, tt.dev, data, filepath.Join(t.TempDir(), tt.name), runs.Logger{Out: &out, Bar: true}); err != nil {
			t.Fatal(err)
		}
		tt.dev.Close()
		if bar := strings.Contains(out.String(), "=] "); bar != tt.wantBar {
			t.Errorf("%s: bar drawn %v, want %v:\n%q", tt.name, bar, tt.wantBar, out.String())
		}
		if !strings.Contains(out.String(), "epoch  1/1  train loss") {
			t.Errorf("%s: no epoch line in %q", tt.name, out.String())
		}
	}
}

// TestExecuteProgress checks that Execute tells a Tracker of every run:
// one plain line per finished run when not on a terminal.
func TestExecuteProgress(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 200}
	data := studytest.RealData(t, dc)
	dc.Dir = data.Dir
	conf := studytest.Config(dc, map[string]string{"epochs": "1", "no-figures": "true"})
	dir := t.TempDir()
	var jobs []runs.Job
	for _, lr := range []string{"0.01", "0.02"} {
		cfg, err := conf(model.TaskMLP, map[string]string{"lr": lr})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, runs.Job{Name: "lr=" + lr, Dir: filepath.Join(dir, lr), Cfg: cfg})
	}
	var out bytes.Buffer
	p := progress.New(&out, false)
	trained, _, err := runs.Execute(jobs, runs.ExecOptions{Parallel: 1, Open: studytest.CPUOpener(1), Log: &out, Progress: p})
	if err != nil || trained != 2 {
		t.Fatalf("trained %d, %v", trained, err)
	}
	s := out.String()
	i1, i2 := strings.Index(s, "runs 1/2 done, "), strings.Index(s, "runs 2/2 done, ")
	if i1 < 0 || !(i2 > i1) || !strings.Contains(s[i2:], "ETA 0s\n") {
		t.Errorf("progress lines missing or out of order:\n%s", s)
	}
}
