package model

import (
	"math"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

// TestFusedPlanMatchesLayers checks that the fused training step (dense
// blocks through DenseForward and DenseBackward) gives on the CPU the same
// parameters, bit for bit, as the step run layer by layer (every node its
// own stage), for the study's architectures: both tasks, both optimizers,
// every activation, dropout on and off, deeper and wider MLPs, the CNN
// with and without batch norm. It also states the fused grouping (MLP:
// dense blocks only; CNN: conv, [batch norm+]activation+pool, twice, then
// the dense fc).
func TestFusedPlanMatchesLayers(t *testing.T) {
	dev := cpu.New(2)
	defer dev.Close()
	mlp, _ := DefaultArch(TaskMLP)
	cnn, _ := DefaultArch(TaskCNN)
	variant := func(a Arch, f func(*Arch)) Arch {
		a.Hidden = append([]int(nil), a.Hidden...)
		f(&a)
		return a
	}
	cases := []struct {
		name   string
		arch   Arch
		opt    string
		stages int
	}{
		{"mlp-momentum", mlp, OptMomentum, 3},
		{"mlp-adam", mlp, OptAdam, 3},
		{"mlp-sigmoid-nodrop", variant(mlp, func(a *Arch) { a.Activation, a.Dropout = "sigmoid", 0 }), OptSGD, 3},
		{"mlp-tanh-deep", variant(mlp, func(a *Arch) { a.Activation, a.Hidden = "tanh", []int{64, 32, 16} }), OptAdam, 4},
		{"cnn-momentum", cnn, OptMomentum, -1},
		{"cnn-adam-nobn", variant(cnn, func(a *Arch) { a.BatchNorm = false }), OptAdam, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ws [2][]float32
			for k, fused := range []bool{true, false} {
				net, err := Build(dev, c.arch, 16, 3)
				must(t, err)
				cfg := DefaultTrainConfig()
				cfg.BatchSize, cfg.Optimizer, cfg.LR = 16, c.opt, DefaultLR(c.opt)
				tr, err := NewTrainer(net, cfg)
				must(t, err)
				r, err := Upload(dev, syntheticSet(40, 28))
				must(t, err)
				views := tr.batchViews(r.perm, r.N)
				_, err = tr.startStep(r, views[0]) // makes the counter and the plan
				must(t, err)
				if fused {
					dense := 0
					for _, st := range tr.st.plan {
						if st.dense != nil {
							dense++
						}
					}
					if c.stages > 0 && (dense != c.stages || len(tr.st.plan) != c.stages) {
						t.Errorf("fused plan: %d stages, %d dense; want %d dense blocks only", len(tr.st.plan), dense, c.stages)
					}
					if c.stages > 0 && !tr.st.plan.gathers() {
						t.Errorf("fused plan: the first dense block does not gather the batch")
					}
					pools, convFused := 0, 0
					for _, st := range tr.st.plan {
						if st.actPool != nil {
							pools++
						}
						if st.convInNext {
							convFused++
						}
					}
					if want := map[bool]int{true: 2, false: 0}[c.arch.BatchNorm]; c.stages < 0 && convFused != want {
						t.Errorf("fused CNN plan: %d convolutions run with their batch norm, want %d", convFused, want)
					}
					if c.stages < 0 && tr.st.plan.gathers() != c.arch.BatchNorm {
						t.Errorf("fused CNN plan: gathers %v, want %v (the first conv block gathers when it has batch norm)", tr.st.plan.gathers(), c.arch.BatchNorm)
					}
					if c.stages < 0 && (pools != 2 || dense != 1 || len(tr.st.plan) != 5) {
						t.Errorf("fused CNN plan: %d stages, %d activation+pool and %d dense; want 5: conv, act+pool, conv, act+pool, dense",
							len(tr.st.plan), pools, dense)
					}
				} else {
					tr.st.plan = nil
					for _, nd := range net.nodes {
						tr.st.plan = append(tr.st.plan, stage{nd: nd})
					}
				}
				for ep := 1; ep <= 2; ep++ {
					_, err := tr.Epoch(r, ep, nil)
					must(t, err)
				}
				ws[k] = make([]float32, net.NumParams())
				must(t, dev.Download(ws[k], net.FlatParams()))
				r.Free(dev)
				tr.Close()
				net.Close()
			}
			for i := range ws[0] {
				a, b := ws[0][i], ws[1][i]
				if math.Float32bits(a) != math.Float32bits(b) || math.IsNaN(float64(a)) {
					t.Fatalf("parameter %d: %v fused, %v layer by layer", i, a, b)
				}
			}
		})
	}
}

// TestCounterResync checks that a step after the host changes the step
// count (as a resumed run's SetSteps does, through resyncCounter) uses the
// new count: the first dropout layer's mask is then that of step 7, not of
// step 1 as the device counter alone would say.
func TestCounterResync(t *testing.T) {
	dev := cpu.New(1)
	defer dev.Close()
	a, _ := DefaultArch(TaskMLP)
	net, err := Build(dev, a, 16, 2)
	must(t, err)
	defer net.Close()
	tr, err := NewTrainer(net, DefaultTrainConfig())
	must(t, err)
	defer tr.Close()
	r, err := Upload(dev, syntheticSet(48, 28))
	must(t, err)
	defer r.Free(dev)
	views := tr.batchViews(r.perm, r.N)
	must(t, tr.step(r, views[0]))
	tr.opt.t = 7
	tr.resyncCounter()
	must(t, tr.step(r, views[1]))
	d := net.nodes[2].l.(*dropout)
	m := make([]float32, 16*128)
	must(t, dev.Download(m, d.mask))
	scale := 1 / (1 - d.p)
	for i, v := range m {
		want := float32(0)
		if kernels.DropoutUniform(net.seed, 7<<8|d.id, i) >= d.p {
			want = scale
		}
		if v != want {
			t.Fatalf("mask[%d] = %v, want %v (step 7)", i, v, want)
		}
	}
}
