package cuda_test

import (
	"path/filepath"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/model"
)

// TestGPUResume checks on the GPU that a run saved after its first epoch
// and restored into a fresh network and trainer continues exactly as the
// uninterrupted run: the step counter that keys the dropout masks, the
// optimizer state and the batch-norm statistics come back from the
// resumable checkpoint.
func TestGPUResume(t *testing.T) {
	g := gpu(t)
	r, err := model.Upload(g, syntheticSet(40))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free(g)
	for _, c := range []struct{ task, opt string }{{model.TaskMLP, model.OptAdam}, {model.TaskCNN, model.OptMomentum}} {
		t.Run(c.task+"-"+c.opt, func(t *testing.T) {
			arch, _ := model.DefaultArch(c.task)
			cfg := model.DefaultTrainConfig()
			cfg.BatchSize, cfg.Optimizer, cfg.LR = 16, c.opt, model.DefaultLR(c.opt)
			newTrainer := func() (*model.Network, *model.Trainer) {
				net, err := model.Build(g, arch, 16, 5)
				if err != nil {
					t.Fatal(err)
				}
				tr, err := model.NewTrainer(net, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tr.Close(); net.Close() })
				return net, tr
			}
			epochs := func(tr *model.Trainer, from, to int) {
				for e := from; e <= to; e++ {
					if _, err := tr.Epoch(r, e, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			refNet, ref := newTrainer()
			epochs(ref, 1, 2)
			_, first := newTrainer()
			epochs(first, 1, 1)
			path := filepath.Join(t.TempDir(), "resume.safetensors")
			if err := first.SaveResume(path, arch, model.ResumeState{Epoch: 1, History: []model.EpochStats{{Epoch: 1}}}); err != nil {
				t.Fatal(err)
			}
			res, err := model.ReadResume(path)
			if err != nil {
				t.Fatal(err)
			}
			net, second := newTrainer()
			if err := second.Restore(res); err != nil {
				t.Fatal(err)
			}
			epochs(second, 2, 2)
			if second.Steps() != ref.Steps() {
				t.Fatalf("steps %d, want %d", second.Steps(), ref.Steps())
			}
			bufs := func(n *model.Network) []kernels.Buffer {
				b := []kernels.Buffer{n.FlatParams()}
				for _, s := range n.States() {
					b = append(b, s.Buf)
				}
				return b
			}
			want, got := bufs(refNet), bufs(net)
			for i := range want {
				w, v := make([]float32, want[i].Len()), make([]float32, got[i].Len())
				if err := g.Download(w, want[i]); err != nil {
					t.Fatal(err)
				}
				if err := g.Download(v, got[i]); err != nil {
					t.Fatal(err)
				}
				for j := range w {
					if w[j] != v[j] {
						t.Fatalf("buffer %d value %d: %v after resume, %v uninterrupted", i, j, v[j], w[j])
					}
				}
			}
		})
	}
}

// TestGPUMemInfo checks that the GPU reports its free memory for the
// memory check before a run allocates.
func TestGPUMemInfo(t *testing.T) {
	g := gpu(t)
	var _ kernels.MemoryInfo = g
	free, total, err := g.MemInfo()
	if err != nil || free == 0 || free > total {
		t.Fatalf("MemInfo: free %d total %d: %v", free, total, err)
	}
}
