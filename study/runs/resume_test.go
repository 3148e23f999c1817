package runs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
	"mnistgpu/study/internal/studytest"
	"mnistgpu/study/runs"
)

// cancelAt is a log writer that cancels a run's context once a line holding
// marker is written.
type cancelAt struct {
	marker string
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// TestSweepResumesHalfFinishedRun interrupts a run after its second epoch
// (with figures, so the t-SNE input of epoch 1 must survive), then lets
// the sweep runner take the folder: it resumes instead of restarting, and
// the model is byte-identical to an uninterrupted run.
func TestSweepResumesHalfFinishedRun(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 600}
	data := studytest.RealData(t, dc)
	dc.Dir = data.Dir
	arch, _ := model.DefaultArch(model.TaskCNN)
	tc := model.DefaultTrainConfig()
	tc.Epochs = 3
	cfg := runs.Config{Arch: arch, Train: tc, Data: dc, Device: "cpu", Figures: !testing.Short(), TSNEPoints: 100, TSNELayer: "logits"}
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	if _, err := runs.Train(cfg, cpu.New(1), data, ref, runs.Logger{Out: io.Discard}); err != nil {
		t.Fatal(err)
	}

	half := filepath.Join(dir, "half")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := runs.Run(cfg, cpu.New(1), data, half, runs.Options{Context: ctx, Log: runs.Logger{Out: &cancelAt{marker: "epoch  2/3", cancel: cancel}}})
	var ie *runs.InterruptedError
	if !errors.As(err, &ie) || ie.Epoch != 3 || ie.Saved != 2 || !errors.Is(err, context.Canceled) {
		t.Fatalf("want an interruption in epoch 3 with 2 epochs saved, got %v", err)
	}
	if runs.FileExists(filepath.Join(half, "metrics.json")) || !runs.FileExists(filepath.Join(half, runs.ResumeFile)) {
		t.Fatal("the interrupted run should have a resumable checkpoint and no metrics.json")
	}
	var log bytes.Buffer
	open := func(int) (kernels.Device, error) { return cpu.New(1), nil }
	trained, skipped, err := runs.Execute([]runs.Job{{Name: "half", Dir: half, Cfg: cfg}}, runs.ExecOptions{Parallel: 1, Open: open, Log: &log})
	if err != nil || trained != 1 || skipped != 0 {
		t.Fatalf("Execute: trained %d skipped %d: %v", trained, skipped, err)
	}
	tl, _ := os.ReadFile(filepath.Join(half, "train.log"))
	if !strings.Contains(string(tl), "interrupted in epoch 3") || !strings.Contains(string(tl), "resumed after epoch 2 of 3") || strings.Contains(string(tl), "failed") ||
		strings.Count(string(tl), "epoch  1/3") != 1 {
		t.Fatalf("train.log does not tell the interruption and the resume:\n%s", tl)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	got, _ := os.ReadFile(filepath.Join(half, "model.safetensors"))
	if len(want) == 0 || !bytes.Equal(want, got) {
		t.Fatal("the resumed run's model differs from the uninterrupted run's")
	}
	if cfg.Figures && !runs.FileExists(filepath.Join(half, "figures", runs.FigTSNEEpoch1)) {
		t.Fatal("the resumed run lost the t-SNE after epoch 1")
	}
}

// failingDevice fails the optimizer update after a number of calls.
type failingDevice struct {
	kernels.Device
	left int
}

// SGDAt is the optimizer update of the training step (model/step.go).
func (d *failingDevice) SGDAt(count int, lr, momentum, wd float32, n int, ctr, w, g, v kernels.Buffer) error {
	if d.left--; d.left < 0 {
		return errors.New("device lost")
	}
	return d.Device.SGDAt(count, lr, momentum, wd, n, ctr, w, g, v)
}

// TestFailedRunKeepsLog checks that a run failing in its second epoch keeps
// a train.log with the first epoch's line and the error.
func TestFailedRunKeepsLog(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 320}
	data := studytest.RealData(t, dc)
	arch, _ := model.DefaultArch(model.TaskMLP)
	tc := model.DefaultTrainConfig()
	tc.Epochs = 3
	cfg := runs.Config{Arch: arch, Train: tc, Data: dc, Device: "cpu", TSNEPoints: 100, TSNELayer: "logits"}
	dir := filepath.Join(t.TempDir(), "run")
	dev := &failingDevice{Device: cpu.New(1), left: 5 + 2} // 288 images: 5 steps an epoch
	_, err := runs.Run(cfg, dev, data, dir, runs.Options{Log: runs.Logger{Out: io.Discard}})
	if err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Fatalf("want the device error, got %v", err)
	}
	tl, _ := os.ReadFile(filepath.Join(dir, "train.log"))
	if !strings.Contains(string(tl), "epoch  1/3") || !strings.Contains(string(tl), "failed in epoch 2") || !strings.Contains(string(tl), "device lost") {
		t.Fatalf("train.log of the failed run:\n%s", tl)
	}
}

// TestRunFailingBeforeTrainingLeavesNoFolder checks that a run that cannot
// be built (a batch norm on a device that refuses allocations) makes no
// folder.
func TestRunFailingBeforeTrainingLeavesNoFolder(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 100}
	data := studytest.RealData(t, dc)
	arch, _ := model.DefaultArch(model.TaskMLP)
	cfg := runs.Config{Arch: arch, Train: model.DefaultTrainConfig(), Data: dc, Device: "cpu", TSNEPoints: 100, TSNELayer: "logits"}
	dir := filepath.Join(t.TempDir(), "run")
	_, err := runs.Run(cfg, &noAlloc{cpu.New(1)}, data, dir, runs.Options{Log: runs.Logger{Out: io.Discard}})
	if err == nil {
		t.Fatal("want an allocation error")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a run that failed before training left a folder")
	}
}

type noAlloc struct{ kernels.Device }

func (noAlloc) Alloc(kernels.DType, int) (kernels.Buffer, error) {
	return nil, errors.New("out of device memory")
}

// failAt refuses the n-th allocation (counting from 0) and every later one,
// as a GPU that runs out of memory part-way would.
type failAt struct {
	kernels.Device
	n, calls int
}

func (d *failAt) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	d.calls++
	if d.calls > d.n {
		return nil, errors.New("CUDA_ERROR_OUT_OF_MEMORY")
	}
	return d.Device.Alloc(dt, n)
}

// TestAllocationFailureAnywhere makes every allocation of a run fail in
// turn: each gives an error naming the failure, never a panic, and when
// it comes before training no folder.
func TestAllocationFailureAnywhere(t *testing.T) {
	dc := runs.DataConfig{ValSplit: 0.1, Subset: 40}
	data := studytest.RealData(t, dc)
	for _, task := range []string{model.TaskMLP, model.TaskCNN} {
		arch, _ := model.DefaultArch(task)
		tc := model.DefaultTrainConfig()
		tc.Epochs = 1
		cfg := runs.Config{Arch: arch, Train: tc, Data: dc, Device: "cpu", TSNEPoints: 10, TSNELayer: "penultimate"}
		for n := 0; ; n++ {
			dir := filepath.Join(t.TempDir(), "run")
			dev := &failAt{Device: cpu.New(1), n: n}
			_, err := runs.Run(cfg, dev, data, dir, runs.Options{Log: runs.Logger{Out: io.Discard}})
			if err == nil {
				if n < 10 {
					t.Fatalf("%s: finished with only %d allocations", task, n)
				}
				t.Logf("%s: each of %d allocations failed in turn", task, n)
				break
			}
			if !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s, allocation %d: %v", task, n, err)
			}
		}
	}
}
