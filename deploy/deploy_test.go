// Package deploy holds the job files that run a sharded sweep on a Slurm
// cluster (slurm/) or on Kubernetes (k8s/); this test checks them without
// a cluster.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeTool writes an executable script to dir/name that appends its
// arguments, one per line, and a "--" line to log, then prints out.
func fakeTool(t *testing.T, dir, name, log, out string) {
	t.Helper()
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " + log + "; done\necho -- >> " + log + "\necho '" + out + "'\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestSlurmScript runs sweep.sbatch with a stand-in sbatch (submitting by
// hand) and as an array task with a stand-in mnistgpu.
func TestSlurmScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, err := filepath.Abs("slurm/sweep.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	fakeTool(t, dir, "sbatch", log, "4242;cluster")
	fakeTool(t, dir, "mnistgpu", log, "")
	env := append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "MNISTGPU=mnistgpu", "SWEEP_OUT=sweeps/x",
		"SWEEP_ARGS=--task mlp --set lr=0.1,0.2", "SLURM_ARRAY_TASK_ID=")

	cmd := exec.Command("bash", script)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("by hand: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(log)
	subs := strings.Split(strings.TrimSuffix(string(b), "--\n"), "--\n")
	if len(subs) != 2 {
		t.Fatalf("want two submissions, got %q", subs)
	}
	if want := "--parsable\n" + script + "\n"; subs[0] != want {
		t.Errorf("array submission %q, want %q", subs[0], want)
	}
	for _, want := range []string{"--dependency=afterok:4242\n", `--wrap` + "\n" + `"mnistgpu" sweep merge --out "sweeps/x" "sweeps/x"-shards/task-*` + "\n"} {
		if !strings.Contains(subs[1], want) {
			t.Errorf("merge submission %q lacks %q", subs[1], want)
		}
	}

	os.Remove(log)
	cmd = exec.Command("bash", script)
	cmd.Dir, cmd.Env = dir, append(env, "SLURM_ARRAY_TASK_ID=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("array task: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(log)
	want := "sweep\n--task\nmlp\n--set\nlr=0.1,0.2\n--shard\nauto\n--out\nsweeps/x-shards/task-3\n--\n"
	if string(b) != want {
		t.Errorf("array task ran mnistgpu with\n%q\nwant\n%q", b, want)
	}
}

// TestK8sManifests checks that the Indexed Job tells mnistgpu its shard
// count and writes where the merge Job reads.
func TestK8sManifests(t *testing.T) {
	job, err := os.ReadFile("k8s/sweep-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	merge, err := os.ReadFile("k8s/merge-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	find := func(b []byte, re string) string {
		m := regexp.MustCompile(re).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no match for %s", re)
		}
		return string(m[1])
	}
	completions := find(job, `(?m)^  completions: (\d+)`)
	count := find(job, `(?m)name: MNISTGPU_SHARD_COUNT\s+value: "(\d+)"`)
	if completions != count {
		t.Errorf("completions %s but MNISTGPU_SHARD_COUNT %s", completions, count)
	}
	for _, want := range []string{"completionMode: Indexed", "--shard=auto"} {
		if !strings.Contains(string(job), want) {
			t.Errorf("sweep-job.yaml lacks %q", want)
		}
	}
	shards := find(job, `--out=(\S+)/task-\$\(SHARD_INDEX\)`)
	if !strings.Contains(string(merge), " "+shards+"/task-*") {
		t.Errorf("merge-job.yaml does not merge %s/task-*", shards)
	}
}
