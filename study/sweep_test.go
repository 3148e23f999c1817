package study

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
)

// testConfig is a ConfigFunc for tests: the cmd parses the real train flags;
// this applies the few the tests use, over fixed values, the same way.
func testConfig(data DataConfig, fixed map[string]string) ConfigFunc {
	return func(task string, set map[string]string) (RunConfig, error) {
		arch, err := model.DefaultArch(task)
		if err != nil {
			return RunConfig{}, err
		}
		cfg := RunConfig{Arch: arch, Train: model.DefaultTrainConfig(), Data: data, Device: "cpu",
			Figures: true, TSNEPoints: 5000, TSNELayer: "logits"}
		all := map[string]string{}
		for k, v := range fixed {
			all[k] = v
		}
		for k, v := range set {
			all[k] = v
		}
		for k, v := range all {
			var e error
			switch k {
			case "epochs":
				cfg.Train.Epochs, e = strconv.Atoi(v)
			case "batch-size":
				cfg.Train.BatchSize, e = strconv.Atoi(v)
			case "lr":
				cfg.Train.LR, e = strconv.ParseFloat(v, 64)
			case "seed":
				cfg.Train.Seed, e = strconv.ParseUint(v, 10, 64)
			case "loss":
				cfg.Train.Loss = v
			case "subset":
				cfg.Data.Subset, e = strconv.Atoi(v)
			case "train-ratio":
				cfg.Data.TrainRatio, e = strconv.ParseFloat(v, 64)
			case "tsne-points":
				cfg.TSNEPoints, e = strconv.Atoi(v)
			case "no-figures":
				var b bool
				b, e = strconv.ParseBool(v)
				cfg.Figures = !b
			case "activation":
				cfg.Arch.Activation = v
			case "dropout":
				cfg.Arch.Dropout, e = strconv.ParseFloat(v, 64)
			case "batchnorm":
				cfg.Arch.BatchNorm, e = strconv.ParseBool(v)
			case "hidden":
				cfg.Arch.Hidden, e = model.ParseInts("hidden", v)
			default:
				return cfg, fmt.Errorf("--%s: not a flag of the test config", k)
			}
			if e != nil {
				return cfg, fmt.Errorf("--%s %s: %w", k, v, e)
			}
		}
		if err := cfg.Arch.Validate(); err != nil {
			return cfg, err
		}
		return cfg, cfg.Train.Validate()
	}
}

// cpuOpener gives every worker a CPU device of threads threads.
func cpuOpener(threads int) OpenFunc {
	return func(int) (kernels.Device, error) { return cpu.New(threads), nil }
}

func TestParseParam(t *testing.T) {
	cases := []struct {
		in      string
		want    Param
		wantErr string
	}{
		{"batch-size=32,64", Param{"batch-size", []string{"32", "64"}}, ""},
		{"--lr=0.01, 0.1", Param{"lr", []string{"0.01", "0.1"}}, ""},
		{"hidden=128,64;128,64,32", Param{"hidden", []string{"128,64", "128,64,32"}}, ""},
		{"batchnorm=false", Param{"batchnorm", []string{"false"}}, ""},
		{"batch-size", Param{}, "NAME=VALUE"},
		{"=1,2", Param{}, "NAME=VALUE"},
		{"lr=0.1,,0.2", Param{}, "empty value"},
		{"lr=0.1,0.1", Param{}, "twice"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseParam(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestPlanSweep(t *testing.T) {
	cases := []struct {
		name    string
		params  []Param
		repeat  int
		want    []string
		wantErr string
	}{
		{"grid sorted by id", []Param{{"lr", []string{"0.1", "0.01"}}, {"batch-size", []string{"64", "32"}}}, 1,
			[]string{"batch-size=32_lr=0.01_r1", "batch-size=32_lr=0.1_r1", "batch-size=64_lr=0.01_r1", "batch-size=64_lr=0.1_r1"}, ""},
		{"repeats", []Param{{"batchnorm", []string{"true", "false"}}}, 2,
			[]string{"batchnorm=false_r1", "batchnorm=false_r2", "batchnorm=true_r1", "batchnorm=true_r2"}, ""},
		{"no params", nil, 2, []string{"default_r1", "default_r2"}, ""},
		{"list values", []Param{{"hidden", []string{"128,64", "128,64,32"}}}, 1, []string{"hidden=128,64,32_r1", "hidden=128,64_r1"}, ""},
		{"unsafe characters", []Param{{"data", []string{"a/b", "a b"}}}, 1, nil, "share the folder name"},
		{"duplicate param", []Param{{"lr", []string{"1"}}, {"lr", []string{"2"}}}, 1, nil, "given twice"},
		{"bad repeat", nil, 0, nil, "--repeat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, err := PlanSweep(c.params, c.repeat)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Fatalf("ids %v, want %v", ids, c.want)
			}
		})
	}
}

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
		s := statOf(c.in)
		if math.Abs(s.Mean-c.mean) > 1e-12 || math.Abs(s.Std-c.std) > 1e-12 || s.N != len(c.in) {
			t.Errorf("statOf(%v) = %+v, want mean %v std %v", c.in, s, c.mean, c.std)
		}
	}
	if s := statOf(nil); !math.IsNaN(s.Mean) {
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
			r := &RunRecord{History: c.hist}
			r.Metrics.Accuracy, r.Metrics.TestLoss = c.acc, Num(c.testLoss)
			got := r.Diverged()
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("Diverged() = %q, want %q", got, c.want)
			}
		})
	}
}

// readCSVRows reads a results CSV without the timing columns, which
// differ between two trainings of the same run.
func readCSVRows(t *testing.T, path string) [][]string {
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
	var keep []int
	for i, h := range recs[0] {
		if !strings.HasPrefix(h, "train_seconds") {
			keep = append(keep, i)
		}
	}
	var out [][]string
	for _, r := range recs {
		var row []string
		for _, i := range keep {
			row = append(row, r[i])
		}
		out = append(out, row)
	}
	return out
}

// TestSweepShardsMerge runs a tiny grid whole, then as two shards that are
// merged, and checks that both give the same results.csv rows (timing
// aside): the CPU device is deterministic for a seed and a thread count.
// It also checks that rerunning resumes without training.
func TestSweepShardsMerge(t *testing.T) {
	data := realData(t, DataConfig{ValSplit: 0.1, Subset: 300}) // skips without the data
	dc := DataConfig{Dir: data.Dir, ValSplit: 0.1}
	fixed := map[string]string{"epochs": "1", "subset": "300", "no-figures": "true"}
	o := SweepOptions{Task: model.TaskCNN, Repeat: 2, Config: testConfig(dc, fixed), Open: cpuOpener(1), Parallel: 2,
		Params: []Param{{"batch-size", []string{"32", "64"}}, {"batchnorm", []string{"true", "false"}}}}
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	res, err := Sweep(whole, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 8 || len(res.Rows) != 4 {
		t.Fatalf("trained %d runs in %d rows, want 8 in 4", res.Trained, len(res.Rows))
	}
	for _, f := range []string{"results.csv", "results.md", "sweep.json", "figures/accuracy-by-batch-size.png", "figures/accuracy-by-batchnorm.png",
		"runs/batch-size=32_batchnorm=false_r2/metrics.json", "runs/batch-size=32_batchnorm=false_r2/train.log"} {
		if !fileExists(filepath.Join(whole, f)) {
			t.Errorf("%s missing", f)
		}
	}
	// Repeats use seed, seed+1.
	rec, err := ReadRun(filepath.Join(whole, "runs", "batch-size=64_batchnorm=true_r2"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Config.Train.Seed != 2 || rec.Config.Train.BatchSize != 64 || !rec.Config.Arch.BatchNorm {
		t.Fatalf("r2 config %+v %+v", rec.Config.Train, rec.Config.Arch)
	}

	// Rerunning the same sweep trains nothing.
	again, err := Sweep(whole, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Trained != 0 || again.Skipped != 8 {
		t.Fatalf("rerun trained %d and skipped %d, want 0 and 8", again.Trained, again.Skipped)
	}

	var shardDirs []string
	for i := 1; i <= 2; i++ {
		so := o
		so.Shard, so.Shards, so.Parallel = i, 2, 1
		dir := filepath.Join(root, fmt.Sprintf("shard%d", i))
		r, err := Sweep(dir, so)
		if err != nil {
			t.Fatal(err)
		}
		if r.Trained != 4 {
			t.Fatalf("shard %d trained %d runs, want 4", i, r.Trained)
		}
		if !fileExists(filepath.Join(dir, fmt.Sprintf("results-shard-%d-of-2.csv", i))) || fileExists(filepath.Join(dir, "results.csv")) {
			t.Fatalf("shard %d: want results-shard-%d-of-2.csv and no results.csv", i, i)
		}
		shardDirs = append(shardDirs, dir)
	}
	// A merge of one shard alone is incomplete.
	if _, err := MergeSweeps(shardDirs[:1], filepath.Join(root, "partial"), io.Discard); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("merging one shard: %v, want an error naming the missing runs", err)
	}
	if _, err := MergeSweeps(shardDirs, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	got, want := readCSVRows(t, filepath.Join(shardDirs[0], "results.csv")), readCSVRows(t, filepath.Join(whole, "results.csv"))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged shards differ from the whole sweep:\n%v\nwant\n%v", got, want)
	}

	// Another sweep into the same folder is refused.
	other := o
	other.Params = []Param{{"batch-size", []string{"16"}}}
	if _, err := Sweep(whole, other); err == nil || !strings.Contains(err.Error(), "another sweep") {
		t.Fatalf("a different sweep into the same folder: %v", err)
	}
	// A bad value fails before training, naming the flag.
	bad := o
	bad.Params = []Param{{"batch-size", []string{"0"}}}
	if _, err := Sweep(filepath.Join(root, "bad"), bad); err == nil || !strings.Contains(err.Error(), "--batch-size") {
		t.Fatalf("batch-size 0: %v", err)
	}
}

// TestDivergedRunFinishes checks that a run whose loss becomes NaN still
// leaves a complete folder (metrics.json with a null test loss) and is
// flagged, instead of failing the sweep.
func TestDivergedRunFinishes(t *testing.T) {
	data := realData(t, DataConfig{ValSplit: 0.1, Subset: 500})
	dc := DataConfig{Dir: data.Dir, ValSplit: 0.1}
	fixed := map[string]string{"epochs": "2", "subset": "500", "no-figures": "true", "lr": "50"}
	o := SweepOptions{Task: model.TaskMLP, Repeat: 1, Config: testConfig(dc, fixed), Open: cpuOpener(1)}
	dir := t.TempDir()
	res, err := Sweep(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0].Diverged != 1 {
		t.Fatalf("row %+v: want 1 diverged run", res.Rows[0])
	}
	rec, err := ReadRun(filepath.Join(dir, "runs", "default_r1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Diverged() == "" {
		t.Fatalf("run with lr 50 not flagged: accuracy %v, test loss %v", rec.Metrics.Accuracy, rec.Metrics.TestLoss)
	}
	t.Logf("diverged: %s", rec.Diverged())
}

func TestConfigDiff(t *testing.T) {
	a := RunConfig{Train: model.TrainConfig{Epochs: 3, BatchSize: 64}, Data: DataConfig{Dir: "x"}}
	b := a
	b.Data.Dir, b.DeviceName, b.Figures = "y", "cpu", true
	if d := configDiff(a, b); d != "" {
		t.Fatalf("folder, device and figures are not part of a run: %q", d)
	}
	b.Train.Epochs = 5
	if d := configDiff(a, b); !strings.Contains(d, "train.epochs 3 there vs 5 now") {
		t.Fatalf("diff %q", d)
	}
}
