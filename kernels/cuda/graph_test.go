package cuda_test

import (
	"math"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cuda"
	"mnistgpu/model"
)

// TestGPUStepOps checks the step ops (kernels.StepOps) against the CPU
// device: a gathered batch at an offset read from the counter, dropout and
// Adam at the counter's step (Adam after an SGD step has advanced it), and
// the counter's advances (Adam's over a grid of several blocks).
func TestGPUStepOps(t *testing.T) {
	e := newEnv(t, gpu(t))
	const rows, dim, n = 40, 12, 7
	px := make([]uint8, rows*dim)
	for i := range px {
		px[i] = uint8(i * 37 % 256)
	}
	lab := make([]uint8, rows)
	for i := range lab {
		lab[i] = uint8(i % 10)
	}
	perm := make([]int32, rows)
	for i := range perm {
		perm[i] = int32((i*17 + 3) % rows)
	}
	data, labels, pm := e.u8(px), e.u8(lab), e.i32(perm)
	ctr := e.i32(make([]int32, kernels.CtrLen))
	img := e.garbage(n * dim)
	bl := e.i32(make([]int32, n))
	x := e.f32(e.randn(300, 1, 0))
	mask, y := e.garbage(300), e.garbage(300)
	const count = 70000 // several blocks on the fake (2 SMs × 32 blocks of 256)
	p, g := e.f32(e.randn(count, 1, 0)), e.f32(e.randn(count, 0.1, 0))
	m, v := e.f32(e.randn(count, 0.01, 0)), e.f32(make([]float32, count))
	e.upload(v, e.randn(count, 0, 0.001))
	p2, vel := e.f32(e.randn(count, 1, 0)), e.f32(e.randn(count, 0.1, 0))
	e.run("step ops", func(d kernels.Device, b func(pair) kernels.Buffer) error {
		if err := d.SetCounter(b(ctr), 11, 41); err != nil {
			return err
		}
		if err := d.GatherBatch(n, dim, b(data), b(labels), b(pm), b(ctr), b(img), b(bl), 0.1307, 0.3081); err != nil {
			return err
		}
		if err := d.DropoutForwardAt(300, 0.3, 99, 2, b(ctr), b(x), b(mask), b(y)); err != nil {
			return err
		}
		if err := d.SGDAt(count, 0.01, 0.9, 1e-4, n, b(ctr), b(p2), b(g), b(vel)); err != nil {
			return err
		}
		return d.AdamAt(count, 1e-3, 0.9, 0.999, 1e-8, 1e-4, n, b(ctr), b(p), b(g), b(m), b(v))
	})
	e.close("GatherBatch images", img, -1, 0)
	e.close("DropoutForwardAt mask", mask, -1, 0)
	e.close("DropoutForwardAt y", y, -1, 0)
	e.close("AdamAt params", p, -1, 1e-6)
	e.close("AdamAt m", m, -1, 1e-6)
	e.close("AdamAt v", v, -1, 1e-6)
	e.close("SGDAt params", p2, -1, 1e-6)
	e.close("SGDAt vel", vel, -1, 1e-6)
	for _, c := range []struct {
		name string
		b    pair
		want []int32
	}{
		{"GatherBatch labels", bl, nil},
		{"counter", ctr, []int32{11 + 2*n, 43, 0}},
	} {
		gv, cv := make([]int32, c.b.g.Len()), make([]int32, c.b.c.Len())
		if err := e.g.Download(gv, c.b.g); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Download(cv, c.b.c); err != nil {
			t.Fatal(err)
		}
		for i := range gv {
			if gv[i] != cv[i] || (c.want != nil && gv[i] != c.want[i]) {
				t.Errorf("%s: GPU %v, CPU %v, want %v", c.name, gv, cv, c.want)
				break
			}
		}
	}
	// The CPU reference is itself checked against the host-argument ops.
	wantMask := make([]float32, 300)
	for i := range wantMask {
		if kernels.DropoutUniform(99, 41<<8|2, i) >= 0.3 {
			wantMask[i] = float32(1 / (1 - 0.3))
		}
	}
	if msg := compare(e.download(e.c, mask.c), wantMask, 0); msg != "" {
		t.Errorf("CPU DropoutForwardAt against DropoutUniform at step 41<<8|2: %s", msg)
	}
}

// trainEpoch trains task with opt for epochs epochs of samples synthetic
// samples at batch 32 and returns the parameters, the trainer's path and
// kernel count and the steps taken.
func trainEpoch(t *testing.T, dev kernels.Device, task, opt string, samples, epochs int) (w []float32, path string, kernels, steps int) {
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
	r, err := model.Upload(dev, syntheticSet(samples))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free(dev)
	for ep := 1; ep <= epochs; ep++ {
		if _, err := tr.Epoch(r, ep, nil); err != nil {
			t.Fatal(err)
		}
	}
	w = make([]float32, net.NumParams())
	if err := dev.Download(w, net.FlatParams()); err != nil {
		t.Fatal(err)
	}
	path, why := tr.Path()
	if why != "" {
		t.Logf("path %s: %s", path, why)
	}
	return w, path, tr.KernelsPerStep(), tr.Steps()
}

// TestGPUGraphEpoch checks that two epochs (two full steps and a partial
// one each, so the counter is reset at an epoch boundary) replayed from a captured step
// (CUDA graphs) give bit for bit the parameters of the same epochs issued
// op by op (MNISTGPU_CUDA_GRAPHS=0), for both models (the MLP with
// dropout, the CNN with batch norm) and both optimizers, and that the
// graph has as many kernels as the direct step launches.
func TestGPUGraphEpoch(t *testing.T) {
	g := gpu(t)
	for _, task := range []string{model.TaskMLP, model.TaskCNN} {
		for _, opt := range []string{model.OptMomentum, model.OptAdam} {
			t.Run(task+"-"+opt, func(t *testing.T) {
				t.Setenv(cuda.GraphsEnv, "")
				gw, gpath, gk, gs := trainEpoch(t, g, task, opt, 70, 2)
				t.Setenv(cuda.GraphsEnv, "0")
				dw, dpath, dk, ds := trainEpoch(t, g, task, opt, 70, 2)
				if gpath != model.PathGraph || dpath != model.PathFused {
					t.Fatalf("paths %q with graphs and %q without, want %q and %q", gpath, dpath, model.PathGraph, model.PathFused)
				}
				if gs != 6 || ds != 6 {
					t.Errorf("steps %d and %d, want 6", gs, ds)
				}
				if gk != dk || gk == 0 {
					t.Errorf("kernels per step: graph %d, direct %d", gk, dk)
				}
				for i := range gw {
					if !(gw[i] == dw[i]) && !(math.IsNaN(float64(gw[i])) && math.IsNaN(float64(dw[i]))) || math.IsNaN(float64(gw[i])) {
						t.Fatalf("parameter %d: %v replayed from the graph, %v issued op by op", i, gw[i], dw[i])
					}
				}
			})
		}
	}
}

// TestGPUStepLaunches states the number of kernels (library calls
// included) of one full-batch training step of each default model: the
// count the fused kernels are to bring down (issue 9: at most 6 for the
// MLP, 10 for the CNN).
func TestGPUStepLaunches(t *testing.T) {
	g := gpu(t)
	want := map[string]int{model.TaskMLP: 6, model.TaskCNN: 10}
	for _, task := range []string{model.TaskMLP, model.TaskCNN} {
		_, path, k, _ := trainEpoch(t, g, task, model.OptMomentum, 64, 1)
		t.Logf("%s: %d kernels per step (%s)", task, k, path)
		// cuDNN may run several kernels per call on a GPU; the emulation
		// and our own kernels run one.
		if k != want[task] && (fakeGPU() || task == model.TaskMLP || k < want[task]) {
			t.Errorf("%s: %d kernels per step, want %d", task, k, want[task])
		}
	}
}

// TestGPUCaptureFails checks that work not allowed in a capture (a copy to
// the host) makes Capture fail with the driver's error, and that the
// device works afterwards.
func TestGPUCaptureFails(t *testing.T) {
	t.Setenv(cuda.GraphsEnv, "")
	g := gpu(t)
	b, err := g.Alloc(kernels.F32, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free(b)
	_, err = g.Capture(func() error {
		if err := g.Fill(b, 1); err != nil {
			return err
		}
		return g.Download(make([]float32, 4), b)
	})
	if err == nil || !strings.Contains(err.Error(), "capture") {
		t.Fatalf("Capture around a Download: err = %v, want a capture error", err)
	}
	if err := g.Fill(b, 2); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, 4)
	if err := g.Download(v, b); err != nil {
		t.Fatalf("after a failed capture: %v", err)
	}
	if v[0] != 2 {
		t.Fatalf("after a failed capture: %v, want 2s", v)
	}
	t.Setenv(cuda.GraphsEnv, "0")
	if _, err := g.Capture(func() error { return nil }); err == nil || !strings.Contains(err.Error(), cuda.GraphsEnv) {
		t.Fatalf("Capture with %s=0: err = %v", cuda.GraphsEnv, err)
	}
}
