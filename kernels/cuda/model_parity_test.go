package cuda_test

import (
	"path/filepath"
	"testing"

	"mnistgpu/dataset"
	"mnistgpu/kernels"
	"mnistgpu/model"
)

// syntheticSet makes n deterministic 28×28 images with labels 0..9.
func syntheticSet(n int) *dataset.Set {
	px := make([]uint8, n*784)
	for i := range px {
		px[i] = uint8((i*7919 + i/784*13) % 251)
	}
	lab := make([]uint8, n)
	for i := range lab {
		lab[i] = uint8(i * 7 % 10)
	}
	return &dataset.Set{Images: &dataset.Images{N: n, Rows: 28, Cols: 28, Pixels: px}, Labels: lab}
}

// trainOn builds task's network on dev, trains one epoch of a small set
// (several full steps and a partial one) and returns the flat parameters.
func trainOn(t *testing.T, dev kernels.Device, task, opt string) []float32 {
	t.Helper()
	arch, _ := model.DefaultArch(task)
	net, err := model.Build(dev, arch, 32, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	cfg := model.DefaultTrainConfig()
	cfg.BatchSize, cfg.Optimizer, cfg.LR = 32, opt, model.DefaultLR(opt)
	tr, err := model.NewTrainer(net, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r, err := model.Upload(dev, syntheticSet(100))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free(dev)
	if _, err := tr.Epoch(r, 1, nil); err != nil {
		t.Fatal(err)
	}
	w := make([]float32, net.NumParams())
	if err := dev.Download(w, net.FlatParams()); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestGPUModelSteps trains each model for four steps (three full batches and
// a partial one, with dropout and batch norm) on the GPU and on the CPU from
// the same initialisation and compares every parameter afterwards.
func TestGPUModelSteps(t *testing.T) {
	g := gpu(t)
	for _, task := range []string{model.TaskMLP, model.TaskCNN} {
		for _, opt := range []string{model.OptMomentum, model.OptAdam} {
			t.Run(task+"-"+opt, func(t *testing.T) {
				gw := trainOn(t, g, task, opt)
				cw := trainOn(t, cpuDev(), task, opt)
				// Adam's first steps move each weight by about lr·sign(g), so
				// a gradient within rounding of zero may step either way.
				tol := map[string]float64{model.OptMomentum: 1e-3, model.OptAdam: 5e-3}[opt]
				if msg := compare(gw, cw, tol); msg != "" {
					t.Errorf("parameters after 4 steps: %s", msg)
				}
			})
		}
	}
}

// TestGPUCheckpointCrossDevice trains on one device, saves, loads on the
// other and checks the test accuracy agrees, both ways.
func TestGPUCheckpointCrossDevice(t *testing.T) {
	g := gpu(t)
	if fakeGPU() {
		t.Skip("an epoch of MNIST takes minutes on the CPU emulation of the GPU")
	}
	dir, _, err := dataset.Locate("")
	if err != nil {
		t.Skipf("no MNIST data: %v", err)
	}
	train, test, err := dataset.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := dataset.MakeSplits(train, test, 0, 0, 6000, 1)
	if err != nil {
		t.Fatal(err)
	}
	accuracy := func(dev kernels.Device, net *model.Network) float64 {
		tr, err := model.NewTrainer(net, model.DefaultTrainConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		r, err := model.Upload(dev, sp.Test)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Free(dev)
		_, acc, err := tr.Evaluate(r)
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	for _, c := range []struct {
		name     string
		from, to kernels.Device
	}{{"gpu-to-cpu", g, cpuDev()}, {"cpu-to-gpu", cpuDev(), g}} {
		t.Run(c.name, func(t *testing.T) {
			arch, _ := model.DefaultArch(model.TaskCNN)
			net, err := model.Build(c.from, arch, 64, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			tr, err := model.NewTrainer(net, model.DefaultTrainConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			r, err := model.Upload(c.from, sp.Train)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Free(c.from)
			if _, err := tr.Epoch(r, 1, nil); err != nil {
				t.Fatal(err)
			}
			want := accuracy(c.from, net)
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := model.SaveCheckpoint(path, net, arch, tr.Steps(), nil); err != nil {
				t.Fatal(err)
			}
			loaded, _, err := model.LoadNetwork(path, c.to, 64)
			if err != nil {
				t.Fatal(err)
			}
			defer loaded.Close()
			got := accuracy(c.to, loaded)
			// The same weights on the two devices may differ on an image or two
			// whose top two logits are within rounding of each other.
			if d := got - want; !(d <= 0.0005 && d >= -0.0005 && want >= 0.8) {
				t.Fatalf("test accuracy %.4f on %s, %.4f on the device it was trained on", got, c.to.Name(), want)
			}
			t.Logf("trained on %s: %.4f; loaded on %s: %.4f", c.from.Name(), want, c.to.Name(), got)
		})
	}
}
