package model

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

// TestResumeMatchesUninterrupted trains three epochs straight, and one
// epoch, a resumable checkpoint, a fresh network and trainer restored from
// it and two more epochs; parameters, statistics and step counter must be
// bit-identical (dropout, batch norm, momentum and Adam state included).
func TestResumeMatchesUninterrupted(t *testing.T) {
	dev := cpu.New(1)
	defer dev.Close()
	r, err := Upload(dev, syntheticSet(60, 28))
	must(t, err)
	defer r.Free(dev)
	for _, c := range []struct{ task, opt string }{{TaskMLP, OptMomentum}, {TaskMLP, OptAdam}, {TaskCNN, OptMomentum}} {
		t.Run(c.task+"-"+c.opt, func(t *testing.T) {
			a, _ := DefaultArch(c.task)
			cfg := DefaultTrainConfig()
			cfg.BatchSize, cfg.Optimizer, cfg.LR = 16, c.opt, DefaultLR(c.opt)
			newTrainer := func() *Trainer {
				net, err := Build(dev, a, cfg.BatchSize, cfg.Seed)
				must(t, err)
				tr, err := NewTrainer(net, cfg)
				must(t, err)
				t.Cleanup(func() { tr.Close(); net.Close() })
				return tr
			}
			ref := newTrainer()
			for e := 1; e <= 3; e++ {
				_, err := ref.Epoch(r, e, nil)
				must(t, err)
			}
			first := newTrainer()
			st, err := first.Epoch(r, 1, nil)
			must(t, err)
			path := filepath.Join(t.TempDir(), "resume.safetensors")
			st.ImagesPerSec = math.Inf(1) // a timer too coarse to see the epoch
			must(t, first.SaveResume(path, a, ResumeState{Epoch: 1, History: []EpochStats{st},
				Meta: map[string]string{"k": "v"}, Extra: map[string][]float32{"x": {1, 2.5}}}))
			res, err := ReadResume(path)
			must(t, err)
			if res.State.Epoch != 1 || res.State.Steps != first.Steps() || len(res.State.History) != 1 ||
				!sameStats(res.State.History[0], st) || res.State.Meta["k"] != "v" || len(res.State.Extra["x"]) != 2 || res.State.Extra["x"][1] != 2.5 {
				t.Fatalf("state read back as %+v", res.State)
			}
			second := newTrainer()
			must(t, second.Restore(res))
			for e := 2; e <= 3; e++ {
				_, err := second.Epoch(r, e, nil)
				must(t, err)
			}
			if second.Steps() != ref.Steps() {
				t.Fatalf("steps %d, want %d", second.Steps(), ref.Steps())
			}
			want, got := snapshot(t, ref), snapshot(t, second)
			for i := range want {
				if want[i] != got[i] {
					t.Fatalf("value %d differs after resume: %v vs %v", i, got[i], want[i])
				}
			}
		})
	}
}

// snapshot is every parameter, statistic and optimizer state of tr.
func snapshot(t *testing.T, tr *Trainer) []float32 {
	var out []float32
	bufs := []kernels.Buffer{tr.net.FlatParams()}
	for _, s := range tr.net.States() {
		bufs = append(bufs, s.Buf)
	}
	for _, name := range []string{"velocity", "adam_m", "adam_v"} {
		if b, ok := tr.opt.state()[name]; ok {
			bufs = append(bufs, b)
		}
	}
	for _, b := range bufs {
		v := make([]float32, b.Len())
		must(t, tr.dev.Download(v, b))
		out = append(out, v...)
	}
	return out
}

// TestReadResumeRefuses checks the clear refusals: a plain model checkpoint
// and a resumable checkpoint of an unknown format version.
func TestReadResumeRefuses(t *testing.T) {
	dev := cpu.New(1)
	defer dev.Close()
	a, _ := DefaultArch(TaskMLP)
	net, err := Build(dev, a, 8, 1)
	must(t, err)
	defer net.Close()
	dir := t.TempDir()
	plain := filepath.Join(dir, "model.safetensors")
	must(t, SaveCheckpoint(plain, net, a, 0, nil))
	if _, err := ReadResume(plain); err == nil || !strings.Contains(err.Error(), "not a resumable checkpoint") {
		t.Fatalf("plain checkpoint: %v", err)
	}
	tr, err := NewTrainer(net, DefaultTrainConfig())
	must(t, err)
	defer tr.Close()
	p := filepath.Join(dir, "resume.safetensors")
	must(t, tr.SaveResume(p, a, ResumeState{}))
	raw, err := os.ReadFile(p)
	must(t, err)
	raw2 := []byte(strings.Replace(string(raw), `"resume_format":"1"`, `"resume_format":"9"`, 1))
	if string(raw2) == string(raw) {
		t.Fatal("format field not found in the header")
	}
	must(t, os.WriteFile(p, raw2, 0o644))
	if _, err := ReadResume(p); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Fatalf("unknown format: %v", err)
	}
}

// BenchmarkSaveResume measures the resumable checkpoint written after each
// epoch (default MLP, momentum: parameters, velocity, synced to disk).
func BenchmarkSaveResume(b *testing.B) {
	dev := cpu.New(1)
	defer dev.Close()
	a, _ := DefaultArch(TaskMLP)
	net, err := Build(dev, a, 64, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	tr, err := NewTrainer(net, DefaultTrainConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	path := filepath.Join(b.TempDir(), "resume.safetensors")
	hist := make([]EpochStats, 10)
	for b.Loop() {
		if err := tr.SaveResume(path, a, ResumeState{Epoch: 10, History: hist}); err != nil {
			b.Fatal(err)
		}
	}
}

// sameStats compares two epoch records bit for bit (NaN equals NaN).
func sameStats(a, b EpochStats) bool {
	eq := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	return a.Epoch == b.Epoch && eq(a.TrainLoss, b.TrainLoss) && eq(a.TrainAcc, b.TrainAcc) && eq(a.ValLoss, b.ValLoss) &&
		eq(a.ValAcc, b.ValAcc) && eq(a.Seconds, b.Seconds) && eq(a.ImagesPerSec, b.ImagesPerSec)
}
