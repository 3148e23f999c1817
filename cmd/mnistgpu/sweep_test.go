package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// resultRows reads a results CSV without the training-time columns, which
// differ between two trainings of the same run.
func resultRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, r := range recs {
		var row []string
		for i, v := range r {
			if !strings.HasPrefix(recs[0][i], "train_seconds") {
				row = append(row, v)
			}
		}
		out = append(out, row)
	}
	return out
}

// TestSweepShardsMergeCLI runs a tiny CNN grid with repeats whole, then as
// shards 1/2 and 2/2 merged, and checks that results.csv has the same rows
// (timing aside): on the CPU a run is deterministic for its seed and
// thread count, and every run here has one thread (--threads 2 shared by
// --parallel 2). The CNN's numbers differ in the last digits between
// thread counts, so the thread count must match.
func TestSweepShardsMergeCLI(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--task", "cnn", "--set", "batch-size=32,64", "--set", "batchnorm=true,false", "--repeat", "2",
		"--epochs", "1", "--subset", "300", "--device", "cpu", "--threads", "2", "--data", data}
	whole := filepath.Join(dir, "whole")
	stdout, stderr, code := run(t, dir, nil, append(grid, "--out", whole, "--parallel", "2")...)
	if code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "results.csv") || !strings.Contains(stdout, "batchnorm") {
		t.Fatalf("sweep output %q", stdout)
	}
	for _, f := range []string{"results.md", "figures/accuracy-by-batch-size.png", "figures/accuracy-by-batchnorm.png",
		"runs/batch-size=32_batchnorm=false_r1/metrics.json", "runs/batch-size=64_batchnorm=true_r2/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(whole, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Each run folder records the train command that reproduces it.
	var cfg struct {
		Command string `json:"command"`
	}
	b, err := os.ReadFile(filepath.Join(whole, "runs", "batch-size=64_batchnorm=true_r2", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mnistgpu train cnn", "--batch-size=64", "--batchnorm=true", "--seed=2", "--epochs=1"} {
		if !strings.Contains(cfg.Command, want) {
			t.Errorf("command %q lacks %s", cfg.Command, want)
		}
	}

	// Rerunning resumes: nothing is trained again.
	if _, stderr, code := run(t, dir, nil, append(grid, "--out", whole)...); code != 0 || !strings.Contains(stderr, "0 runs trained, 8 already finished") {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}

	a, bdir := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for i, out := range []string{a, bdir} {
		shard := []string{"--shard", []string{"1/2", "2/2"}[i], "--out", out, "--parallel", "2"}
		if _, stderr, code := run(t, dir, nil, append(grid, shard...)...); code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i+1, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(bdir, "results-shard-2-of-2.csv")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, dir, nil, "sweep", "merge", a, bdir); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	got, want := resultRows(t, filepath.Join(a, "results.csv")), resultRows(t, filepath.Join(whole, "results.csv"))
	if len(want) != 5 || !reflect.DeepEqual(got, want) {
		t.Fatalf("merged shards:\n%v\nwhole sweep:\n%v", got, want)
	}
}

// TestSweepBadInput checks that bad sweep arguments fail at once, with one
// line naming the flag, exit code 2 and no training.
func TestSweepBadInput(t *testing.T) {
	data := mnistDir(t)
	base := []string{"sweep", "--epochs", "1", "--subset", "50", "--device", "cpu", "--data", data}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no task", []string{"--set", "lr=0.1"}, "--task"},
		{"bad task", []string{"--task", "rnn"}, "--task"},
		{"unknown flag", []string{"--task", "mlp", "--set", "nonsense=1,2"}, "nonsense"},
		{"bad value", []string{"--task", "mlp", "--set", "batch-size=32,0"}, "--batch-size 0"},
		{"bad activation", []string{"--task", "mlp", "--set", "activation=relu,swish"}, "--activation swish"},
		{"no values", []string{"--task", "mlp", "--set", "lr"}, "NAME=VALUE"},
		{"device swept", []string{"--task", "mlp", "--set", "device=cpu,cuda"}, "one sweep per device"},
		{"bad shard", []string{"--task", "mlp", "--shard", "3/2"}, "--shard"},
		{"bad parallel", []string{"--task", "mlp", "--parallel", "0"}, "--parallel"},
		{"bad repeat", []string{"--task", "mlp", "--repeat", "0"}, "--repeat 0"},
		{"merge nothing", nil, "shard folders"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sweep")
			args := append(append(append([]string(nil), base...), c.args...), "--out", out)
			if c.name == "merge nothing" {
				args = []string{"sweep", "merge"}
			}
			_, stderr, code := run(t, t.TempDir(), nil, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line naming %q", code, stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(out, "runs")); err == nil {
				t.Fatal("a run folder was made")
			}
		})
	}
}

func TestSweepReportHelp(t *testing.T) {
	for _, args := range [][]string{{"sweep", "--help"}, {"sweep", "merge", "--help"}, {"report", "--help"}} {
		stdout, _, code := run(t, t.TempDir(), nil, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE") || !strings.Contains(stdout, "--out") {
			t.Fatalf("%v: exit %d, output %q", args, code, stdout)
		}
	}
}

// TestReportCLI runs a toy report through the command (1 epoch on 300
// images, every ablation) and checks its files and header.
func TestReportCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the report trains 30 small runs")
	}
	data := mnistDir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	stdout, stderr, code := run(t, dir, nil, "report", "--quick", "--epochs", "1", "--subset", "300", "--tsne-points", "100",
		"--device", "cpu", "--data", data, "--out", out)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "index.html") {
		t.Fatalf("output %q", stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 13 ", "mnistgpu report --quick --epochs 1", "Device details", "logical CPUs", "9.8 Changing the train/test ratio",
		"10.3 With and without batch norm", "1 per cell (the default when training on the CPU", "McNemar's exact test", "two-proportion z-test"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	for _, f := range []string{"index.html", "ablations.csv", "figures/cnn-batchnorm.png", "runs/mlp/main/figures/tsne_epoch1.png", "runs/cnn/main/figures/filters.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
