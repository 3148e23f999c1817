package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// noScheduler blanks the array-job variables of the environment the tests
// run in, which count as unset when empty.
var noScheduler = []string{"SLURM_ARRAY_TASK_ID=", "JOB_COMPLETION_INDEX=", "MNISTGPU_SHARD_COUNT="}

// TestSweepShardAuto checks that --shard auto under Slurm-like and
// Kubernetes-like environments trains the same runs as --shard 2/3, and
// that without a scheduler it fails with one line.
func TestSweepShardAuto(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--task", "mlp", "--set", "lr=0.01,0.02,0.03", "--epochs", "1", "--subset", "50",
		"--device", "cpu", "--threads", "1", "--parallel", "1", "--data", data}
	sweepRuns := func(name string, env []string, shard string) []string {
		t.Helper()
		out := filepath.Join(dir, name)
		_, stderr, code := run(t, dir, append(slices.Clone(noScheduler), env...), append(grid, "--shard", shard, "--out", out)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		// Not on a terminal: one plain progress line per finished run.
		if !strings.Contains(stderr, "runs 1/1 done, ") {
			t.Errorf("%s: no progress line in %q", name, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "results-shard-2-of-3.csv")); err != nil {
			t.Fatalf("%s: %v (stderr %s)", name, err, stderr)
		}
		ents, err := os.ReadDir(filepath.Join(out, "runs"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	want := sweepRuns("explicit", nil, "2/3")
	if len(want) != 1 {
		t.Fatalf("shard 2/3 of 3 runs trained %v, want one run", want)
	}
	for _, tt := range []struct {
		name string
		env  []string
	}{
		{"slurm", []string{"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=9",
			"SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_STEP=4"}},
		{"k8s", []string{"JOB_COMPLETION_INDEX=1", "MNISTGPU_SHARD_COUNT=3"}},
	} {
		if got := sweepRuns(tt.name, tt.env, "auto"); !slices.Equal(got, want) {
			t.Errorf("%s: --shard auto trained %v, --shard 2/3 %v", tt.name, got, want)
		}
	}

	out := filepath.Join(dir, "none")
	_, stderr, code := run(t, dir, noScheduler, append(grid, "--shard", "auto", "--out", out)...)
	if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--shard auto: no array-job index found") {
		t.Fatalf("no scheduler: exit %d, stderr %q; want exit 2 and one line", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "runs")); err == nil {
		t.Fatal("a run folder was made without a shard")
	}
}
