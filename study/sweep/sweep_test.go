package sweep

import (
	"encoding/csv"
	"fmt"
	"io"
	"mnistgpu/study/internal/studytest"
	"mnistgpu/study/runs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mnistgpu/model"
)

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
			runs, err := Plan(c.params, c.repeat)
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
	data := studytest.RealData(t, runs.DataConfig{ValSplit: 0.1, Subset: 300}) // skips without the data
	dc := runs.DataConfig{Dir: data.Dir, ValSplit: 0.1}
	fixed := map[string]string{"epochs": "1", "subset": "300", "no-figures": "true"}
	o := Options{Task: model.TaskCNN, Repeat: 2, Config: studytest.Config(dc, fixed), Open: studytest.CPUOpener(1), Parallel: 2,
		Params: []Param{{"batch-size", []string{"32", "64"}}, {"batchnorm", []string{"true", "false"}}}}
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	res, err := Run(whole, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 8 || len(res.Rows) != 4 {
		t.Fatalf("trained %d runs in %d rows, want 8 in 4", res.Trained, len(res.Rows))
	}
	for _, f := range []string{"results.csv", "results.md", "sweep.json", "figures/accuracy-by-batch-size.png", "figures/accuracy-by-batchnorm.png",
		"runs/batch-size=32_batchnorm=false_r2/metrics.json", "runs/batch-size=32_batchnorm=false_r2/train.log"} {
		if !runs.FileExists(filepath.Join(whole, f)) {
			t.Errorf("%s missing", f)
		}
	}
	// Repeats use seed, seed+1.
	rec, err := runs.Read(filepath.Join(whole, "runs", "batch-size=64_batchnorm=true_r2"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Config.Train.Seed != 2 || rec.Config.Train.BatchSize != 64 || !rec.Config.Arch.BatchNorm {
		t.Fatalf("r2 config %+v %+v", rec.Config.Train, rec.Config.Arch)
	}

	// Rerunning the same sweep trains nothing.
	again, err := Run(whole, o)
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
		r, err := Run(dir, so)
		if err != nil {
			t.Fatal(err)
		}
		if r.Trained != 4 {
			t.Fatalf("shard %d trained %d runs, want 4", i, r.Trained)
		}
		if !runs.FileExists(filepath.Join(dir, fmt.Sprintf("results-shard-%d-of-2.csv", i))) || runs.FileExists(filepath.Join(dir, "results.csv")) {
			t.Fatalf("shard %d: want results-shard-%d-of-2.csv and no results.csv", i, i)
		}
		shardDirs = append(shardDirs, dir)
	}
	// A merge of one shard alone is incomplete.
	if _, err := Merge(shardDirs[:1], filepath.Join(root, "partial"), io.Discard); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("merging one shard: %v, want an error naming the missing runs", err)
	}
	if _, err := Merge(shardDirs, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	got, want := readCSVRows(t, filepath.Join(shardDirs[0], "results.csv")), readCSVRows(t, filepath.Join(whole, "results.csv"))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged shards differ from the whole sweep:\n%v\nwant\n%v", got, want)
	}

	// Another sweep into the same folder is refused.
	other := o
	other.Params = []Param{{"batch-size", []string{"16"}}}
	if _, err := Run(whole, other); err == nil || !strings.Contains(err.Error(), "another sweep") {
		t.Fatalf("a different sweep into the same folder: %v", err)
	}
	// A bad value fails before training, naming the flag.
	bad := o
	bad.Params = []Param{{"batch-size", []string{"0"}}}
	if _, err := Run(filepath.Join(root, "bad"), bad); err == nil || !strings.Contains(err.Error(), "--batch-size") {
		t.Fatalf("batch-size 0: %v", err)
	}
}

// TestDivergedRunFinishes checks that a run whose loss becomes NaN still
// leaves a complete folder (metrics.json with a null test loss) and is
// flagged, instead of failing the sweep.
func TestDivergedRunFinishes(t *testing.T) {
	data := studytest.RealData(t, runs.DataConfig{ValSplit: 0.1, Subset: 500})
	dc := runs.DataConfig{Dir: data.Dir, ValSplit: 0.1}
	fixed := map[string]string{"epochs": "2", "subset": "500", "no-figures": "true", "lr": "50"}
	o := Options{Task: model.TaskMLP, Repeat: 1, Config: studytest.Config(dc, fixed), Open: studytest.CPUOpener(1)}
	dir := t.TempDir()
	res, err := Run(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0].Diverged != 1 {
		t.Fatalf("row %+v: want 1 diverged run", res.Rows[0])
	}
	rec, err := runs.Read(filepath.Join(dir, "runs", "default_r1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Diverged() == "" {
		t.Fatalf("run with lr 50 not flagged: accuracy %v, test loss %v", rec.Metrics.Accuracy, rec.Metrics.TestLoss)
	}
	t.Logf("diverged: %s", rec.Diverged())
}
