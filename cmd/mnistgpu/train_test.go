package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mnistgpu/internal/atomicfile"
)

// tinyTrain is a quick CPU run's flags.
func tinyTrain(data string, extra ...string) []string {
	return append([]string{"train", "mlp", "--data", data, "--subset", "300", "--no-figures", "--device", "cpu"}, extra...)
}

// oneLine checks that stderr is a single line containing want, with no trace.
func oneLine(t *testing.T, stderr, want string) {
	t.Helper()
	if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, want) ||
		strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Fatalf("want one line naming %q, got %q", want, stderr)
	}
}

// TestTrainDiverged checks that a learning rate that makes the loss NaN
// stops training in epoch 1 with exit code 3 and one line naming the epoch
// and the cause, and leaves a complete run folder marked diverged.
func TestTrainDiverged(t *testing.T) {
	data := mnistDir(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := run(t, t.TempDir(), nil, tinyTrain(data, "--epochs", "3", "--lr", "1000", "--out", out)...)
	if code != exitDiverged {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitDiverged, stderr)
	}
	oneLine(t, stderr, "in epoch 1: the learning rate 1000 is probably too high")
	if strings.Contains(stdout, "epoch  2/3") {
		t.Fatalf("training went on after the loss became NaN:\n%s", stdout)
	}
	for _, f := range []string{"config.json", "history.csv", "metrics.json", "predictions.csv", "model.safetensors", "train.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("diverged run folder lacks %s", f)
		}
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.json"))
	hist, _ := os.ReadFile(filepath.Join(out, "history.csv"))
	log, _ := os.ReadFile(filepath.Join(out, "train.log"))
	if !strings.Contains(string(metrics), `"status": "diverged"`) || !strings.HasSuffix(strings.TrimSpace(string(hist)), ",diverged") ||
		!strings.Contains(string(log), "epoch  1/3") {
		t.Fatalf("not marked diverged:\nmetrics %s\nhistory %s\nlog %s", metrics, hist, log)
	}
	if _, err := os.Stat(filepath.Join(out, "resume.safetensors")); err == nil {
		t.Fatal("a diverged run keeps a resumable checkpoint")
	}
}

// TestTrainRefusesBeforeWriting checks values outside a flag's domain,
// flags that do not apply to the task, contradicting repeats and a device
// that cannot be opened: one line, a non-zero exit, and no run folder.
func TestTrainRefusesBeforeWriting(t *testing.T) {
	data := mnistDir(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--lr", "inf"}, "--lr"},
		{[]string{"--lr", "NaN"}, "--lr"},
		{[]string{"--lr", "-1"}, "--lr"},
		{[]string{"--momentum", "nan"}, "--momentum"},
		{[]string{"--weight-decay", "inf"}, "--weight-decay"},
		{[]string{"--dropout", "nan"}, "--dropout"},
		{[]string{"--val-split", "nan"}, "--val-split"},
		{[]string{"--channels", "8,8"}, "--channels applies to cnn only"},
		{[]string{"--kernel", "5"}, "--kernel applies to cnn only"},
		{[]string{"--batchnorm=false"}, "--batchnorm applies to cnn only"},
		{[]string{"--lr", "0.1", "--lr=0.2"}, "--lr given twice"},
		{[]string{"--threads", "-2"}, "--threads"},
		{[]string{"--gpu", "-1"}, "--gpu"},
		{[]string{"--device", "cuda"}, "--device"},
		{[]string{"--hidden", "1000000000"}, "lower --hidden or --batch-size"}, // 11 TB
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cuda := slices.Contains(c.args, "cuda")
			if cuda {
				if _, err := os.Stat("/dev/nvidia0"); err == nil {
					t.Skip("a GPU is present")
				}
			}
			out := filepath.Join(t.TempDir(), "run")
			args := []string{"train", "mlp", "--data", data, "--subset", "300", "--epochs", "1", "--no-figures", "--out", out}
			if !cuda {
				args = append(args, "--device", "cpu")
			}
			if !cuda && !slices.Contains(c.args, "--threads") {
				args = append(args, "--threads", "1")
			}
			_, stderr, code := run(t, t.TempDir(), nil, append(args, c.args...)...)
			if code == 0 {
				t.Fatal("exit 0")
			}
			oneLine(t, stderr, c.want)
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("left a run folder %s", out)
			}
		})
	}
	t.Run("hidden on cnn", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run")
		_, stderr, code := run(t, t.TempDir(), nil, "train", "cnn", "--data", data, "--hidden", "5", "--out", out)
		if code != exitUsage {
			t.Fatalf("exit %d", code)
		}
		oneLine(t, stderr, "--hidden applies to mlp only")
	})
}

// TestTrainOutHoldsRun checks that a folder holding a run is refused
// unless --overwrite, and that a batch larger than the training set is
// clamped with a note.
func TestTrainOutHoldsRun(t *testing.T) {
	data := mnistDir(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := run(t, t.TempDir(), nil, tinyTrain(data, "--epochs", "2", "--out", out, "--batch-size", "100000000")...)
	if code != 0 {
		t.Fatalf("first run: %d %s", code, stderr)
	}
	if !strings.Contains(stdout, "--batch-size 100000000 is more than the 300 training images") {
		t.Fatalf("no note about the clamped batch size:\n%s", stdout)
	}
	before, _ := os.ReadFile(filepath.Join(out, "metrics.json"))
	_, stderr, code = run(t, t.TempDir(), nil, tinyTrain(data, "--out", out, "--seed", "2")...)
	if code != exitUsage {
		t.Fatalf("second run into the same folder: exit %d, want %d", code, exitUsage)
	}
	oneLine(t, stderr, "--overwrite")
	if after, _ := os.ReadFile(filepath.Join(out, "metrics.json")); !bytes.Equal(before, after) {
		t.Fatal("the refused run changed the folder")
	}
	if _, stderr, code = run(t, t.TempDir(), nil, tinyTrain(data, "--out", out, "--seed", "2", "--overwrite")...); code != 0 {
		t.Fatalf("--overwrite: %d %s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(out, "metrics.json")); bytes.Equal(before, after) {
		t.Fatal("--overwrite left the old metrics")
	}
	for _, f := range []string{"train.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("finished run lacks %s", f)
		}
	}
}

// resumeArgs is the run that the resume tests interrupt: long enough that
// kills land in every phase, short enough for a test.
func resumeArgs(data, out string) []string { return resumeArgsEpochs(data, out, 4) }

func resumeArgsEpochs(data, out string, epochs int) []string {
	return []string{"train", "mlp", "--data", data, "--subset", "2000", "--epochs", strconv.Itoa(epochs), "--no-figures", "--device", "cpu",
		"--threads", "1", "--out", out}
}

// TestResumeAfterKill kills a real training process with SIGKILL inside a
// checkpoint write and then at random points, resuming each time, and
// checks that the final model.safetensors is byte-identical to the
// uninterrupted run's.
func TestResumeAfterKill(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	start := time.Now()
	if _, stderr, code := run(t, dir, nil, resumeArgs(data, ref)...); code != 0 {
		t.Fatalf("uninterrupted run: %d %s", code, stderr)
	}
	full := time.Since(start)
	want, err := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "killed")
	// Killed inside the write of the first epoch's resumable checkpoint
	// (so there is none yet), then, resumed, inside the second's.
	resume := []string{"train", "--resume", out, "--threads", "1"}
	for i, args := range [][]string{resumeArgs(data, out), resume} {
		_, stderr, code := run(t, dir, []string{atomicfile.CrashEnv + "=resume.safetensors:" + strconv.Itoa(i+1)}, args...)
		if code != -1 {
			t.Fatalf("the crash hook did not kill the run: exit %d %s", code, stderr)
		}
		tmps, _ := filepath.Glob(filepath.Join(out, ".resume.safetensors.tmp*"))
		if len(tmps) != 1 {
			t.Fatalf("want the interrupted write's temporary file, got %v", tmps)
		}
	}
	// Then killed at random times, five times, and resumed to the end.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for i := 0; i < 6; i++ {
		cmd := exec.Command(bin, resume...)
		cmd.Dir = dir
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var timer *time.Timer
		if i < 5 {
			timer = time.AfterFunc(time.Duration(rng.Int64N(int64(full))), func() { cmd.Process.Signal(syscall.SIGKILL) })
		}
		err := cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if err == nil {
			break
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("resume %d failed: %v %s", i, err, errb.String())
		}
		kills++
		if i == 5 {
			t.Fatal("the last resume was killed")
		}
	}
	t.Logf("killed inside two checkpoint writes, then %d times at random points", kills)
	got, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the resumed run's model.safetensors differs from the uninterrupted run's")
	}
	if _, err := os.Stat(filepath.Join(out, "resume.safetensors")); err == nil {
		t.Fatal("the finished run kept its resumable checkpoint")
	}
	if _, _, code := run(t, dir, nil, resume...); code != exitUsage {
		t.Fatalf("resuming a finished run: exit %d, want %d", code, exitUsage)
	}
}

// TestInterruptAndResume sends SIGINT and SIGTERM to a training process
// after its first epoch: it exits 130 or 143 with one line saying how to
// resume; a resume with a contradicting flag is refused, and one with the
// original flags ends with the uninterrupted run's model.
func TestInterruptAndResume(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	if _, stderr, code := run(t, dir, nil, resumeArgsEpochs(data, ref, 8)...); code != 0 {
		t.Fatalf("uninterrupted run: %d %s", code, stderr)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(dir, sig.String())
			cmd := exec.Command(bin, resumeArgsEpochs(data, out, 8)...)
			cmd.Dir = dir
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ck := filepath.Join(out, "resume.safetensors")
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(ck); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("no resumable checkpoint after a minute")
				}
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 128+int(sig) {
				t.Fatalf("exit %v, want %d; stderr %q", err, 128+int(sig), errb.String())
			}
			oneLine(t, errb.String(), "mnistgpu train --resume "+out)
			log, _ := os.ReadFile(filepath.Join(out, "train.log"))
			if !strings.Contains(string(log), "interrupted in epoch") {
				t.Fatalf("train.log does not say the run was interrupted:\n%s", log)
			}
			_, stderr, code := run(t, dir, nil, "train", "--resume", out, "--lr", "0.5")
			if code != exitUsage {
				t.Fatalf("contradicting --lr: exit %d", code)
			}
			oneLine(t, stderr, "contradicts")
			if _, stderr, code := run(t, dir, nil, "train", "mlp", "--resume", out, "--epochs", "8", "--threads", "2"); code != 0 {
				t.Fatalf("resume: %d %s", code, stderr)
			}
			got, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
			if len(want) == 0 || !bytes.Equal(got, want) {
				t.Fatal("the resumed run's model differs from the uninterrupted run's")
			}
		})
	}
}

// TestTrainHelpDocumentsExits checks that train's help lists the exit codes
// and the run-folder flags.
func TestTrainHelpDocumentsExits(t *testing.T) {
	for _, args := range [][]string{{"train", "--help"}, {"train", "cnn", "--help"}} {
		stdout, _, code := run(t, t.TempDir(), nil, args...)
		for _, want := range []string{"3 diverged", "130 (SIGINT", "143 (SIGTERM)", "--resume DIR", "--overwrite"} {
			if code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("%v: exit %d, no %q in\n%s", args, code, want, stdout)
			}
		}
	}
}

// TestSweepRepeatedFlag checks that sweep, too, refuses a train flag given
// twice with different values (while --set repeats by design).
func TestSweepRepeatedFlag(t *testing.T) {
	_, stderr, code := run(t, t.TempDir(), nil, "sweep", "--task", "mlp", "--set", "lr=0.1,0.2", "--set", "seed=1,2", "--epochs", "1", "--epochs", "2")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	oneLine(t, stderr, "--epochs given twice")
}
