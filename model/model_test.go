package model

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
)

// lossOf runs a training-mode forward of the batch in net's input and
// returns the batch-mean loss.
func lossOf(t *testing.T, net *Network, loss kernels.Loss, n int, labels, sum, correct kernels.Buffer, dlogits kernels.Buffer) float64 {
	t.Helper()
	dev := net.Device()
	must(t, dev.Fill(sum, 0))
	must(t, net.Forward(n, true))
	must(t, dev.LossForward(loss, n, net.Classes(), net.Logits(), labels, dlogits, sum, correct))
	v := make([]float32, 1)
	must(t, dev.Download(v, sum))
	return float64(v[0]) / float64(n)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGradients checks each network's backward, composed from the device's
// layer gradients, against central differences of the loss through the
// whole network. The per-op gradients are checked in float64 in
// kernels/cpu; this checks the wiring: views, buffer hand-offs, ordering.
func TestGradients(t *testing.T) {
	cases := []struct {
		name string
		arch Arch
		loss kernels.Loss
	}{
		{"mlp-tanh-ce", Arch{Task: TaskMLP, Input: []int{1, 6, 6}, Classes: 4, Activation: "tanh", Hidden: []int{7, 5}}, kernels.CrossEntropy},
		{"mlp-sigmoid-dropout-mse", Arch{Task: TaskMLP, Input: []int{1, 6, 6}, Classes: 4, Activation: "sigmoid", Dropout: 0.3, Hidden: []int{6}}, kernels.MSE},
		{"cnn-bn-tanh-nll", Arch{Task: TaskCNN, Input: []int{1, 8, 8}, Classes: 3, Activation: "tanh", Channels: []int{2, 2}, Kernel: 3, BatchNorm: true}, kernels.NLL},
		{"cnn-k5-sigmoid-ce", Arch{Task: TaskCNN, Input: []int{2, 4, 4}, Classes: 3, Activation: "sigmoid", Channels: []int{2}, Kernel: 5}, kernels.CrossEntropy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := cpu.New(2)
			defer dev.Close()
			const n = 3
			net, err := Build(dev, tc.arch, n, 7)
			must(t, err)
			defer net.Close()
			net.step = 3
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, n*net.InputSize())
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			must(t, dev.Upload(net.Input(), x))
			lab := make([]int32, n)
			for i := range lab {
				lab[i] = int32(rng.IntN(tc.arch.Classes))
			}
			labels, _ := dev.Alloc(kernels.I32, n)
			sum, _ := dev.Alloc(kernels.F32, 1)
			correct, _ := dev.Alloc(kernels.F32, 1)
			must(t, dev.Upload(labels, lab))

			lossOf(t, net, tc.loss, n, labels, sum, correct, net.DLogits())
			must(t, net.Backward(n))
			grad := make([]float32, net.NumParams())
			must(t, dev.Download(grad, net.FlatGrads()))
			w := make([]float32, net.NumParams())
			must(t, dev.Download(w, net.FlatParams()))

			// Central differences at two step sizes: where they disagree the
			// step crossed a kink (a max-pool's arg-max switched), and the
			// parameter is skipped.
			central := func(i int, eps float32) float64 {
				orig := w[i]
				w[i] = orig + eps
				must(t, dev.Upload(net.FlatParams(), w))
				lp := lossOf(t, net, tc.loss, n, labels, sum, correct, nil)
				w[i] = orig - eps
				must(t, dev.Upload(net.FlatParams(), w))
				lm := lossOf(t, net, tc.loss, n, labels, sum, correct, nil)
				w[i] = orig
				return (lp - lm) / float64(2*eps)
			}
			checked, skipped, worst := 0, 0, 0.0
			for _, i := range rng.Perm(len(w))[:min(60, len(w))] {
				num := central(i, 2e-3)
				if math.IsNaN(num) || math.IsInf(num, 0) {
					t.Fatalf("param %d (%s): numeric gradient %v (the loss is not finite)", i, paramAt(net, i), num)
				}
				if half := central(i, 1e-3); !(math.Abs(half-num) <= 1e-4+0.05*math.Abs(num)) {
					skipped++
					continue
				}
				diff := math.Abs(num - float64(grad[i]))
				if !(diff <= 2e-4+3e-2*math.Abs(num)) {
					t.Errorf("param %d (%s): analytic %.6g, numeric %.6g", i, paramAt(net, i), grad[i], num)
				}
				worst = max(worst, diff)
				checked++
			}
			if skipped > checked/2 {
				t.Errorf("%d parameters skipped at kinks, only %d checked", skipped, checked)
			}
			t.Logf("%d parameters checked (%d skipped at kinks), worst |analytic-numeric| %.2g", checked, skipped, worst)
		})
	}
}

func paramAt(net *Network, i int) string {
	for _, p := range net.Params() {
		if i >= p.Off && i < p.Off+p.Len() {
			return p.Name
		}
	}
	return "?"
}

func TestBuildNamesAndShapes(t *testing.T) {
	dev := cpu.New(1)
	for _, task := range []string{TaskMLP, TaskCNN} {
		a, _ := DefaultArch(task)
		net, err := Build(dev, a, 4, 1)
		must(t, err)
		var names []string
		for _, p := range net.Params() {
			names = append(names, p.Name)
		}
		got := strings.Join(names, " ")
		want := map[string]string{
			TaskMLP: "fc1.weight fc1.bias fc2.weight fc2.bias fc3.weight fc3.bias",
			TaskCNN: "conv1.weight conv1.bias bn1.weight bn1.bias conv2.weight conv2.bias bn2.weight bn2.bias fc1.weight fc1.bias",
		}[task]
		if got != want {
			t.Errorf("%s params %q, want %q", task, got, want)
		}
		// PyTorch's parameter counts for the seed's models.
		wantN := map[string]int{TaskMLP: 784*128 + 128 + 128*64 + 64 + 64*10 + 10, TaskCNN: 40 + 8 + 148 + 8 + 1970}[task]
		if net.NumParams() != wantN {
			t.Errorf("%s has %d parameters, want %d", task, net.NumParams(), wantN)
		}
		net.Close()
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	dev := cpu.New(1)
	a, _ := DefaultArch(TaskCNN)
	net, err := Build(dev, a, 8, 3)
	must(t, err)
	// Make the running statistics distinctive.
	must(t, dev.Fill(net.States()[0].Buf, 0.25))
	path := filepath.Join(t.TempDir(), "model.safetensors")
	must(t, SaveCheckpoint(path, net, a, 42, map[string]string{"note": "x"}))
	got, ck, err := LoadNetwork(path, dev, 16)
	must(t, err)
	if ck.Metadata["note"] != "x" || ck.Arch.Task != TaskCNN || !ck.Arch.BatchNorm {
		t.Fatalf("metadata lost: %+v %+v", ck.Metadata, ck.Arch)
	}
	for i, p := range net.Params() {
		a, b := make([]float32, p.Len()), make([]float32, p.Len())
		must(t, dev.Download(a, p.W))
		must(t, dev.Download(b, got.Params()[i].W))
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%s[%d]: %v != %v", p.Name, j, a[j], b[j])
			}
		}
	}
	rm := make([]float32, 4)
	must(t, dev.Download(rm, got.States()[0].Buf))
	if rm[0] != 0.25 {
		t.Fatalf("running mean not restored: %v", rm)
	}
	raw, _ := os.ReadFile(path)
	if ck2, err := parseCheckpoint(raw); err != nil || ck2.tensors["bn1.num_batches_tracked"].DType != "I64" {
		t.Fatalf("num_batches_tracked missing: %v", err)
	}
}

func TestCheckpointErrors(t *testing.T) {
	dev := cpu.New(1)
	a, _ := DefaultArch(TaskMLP)
	net, err := Build(dev, a, 4, 3)
	must(t, err)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	must(t, SaveCheckpoint(good, net, a, 1, nil))
	raw, _ := os.ReadFile(good)

	// A CNN checkpoint loaded as the MLP's tensors, and an MLP of other sizes.
	other := a
	other.Hidden = []int{128, 32}
	net2, _ := Build(dev, other, 4, 3)
	wrong := filepath.Join(dir, "wrong.safetensors")
	must(t, SaveCheckpoint(wrong, net2, a, 1, nil)) // arch says 128,64, tensors are 128,32

	// A checkpoint naming a tensor the model lacks: the good header with
	// one more entry that shares the first tensor's bytes.
	hl := binary.LittleEndian.Uint64(raw)
	var header map[string]json.RawMessage
	must(t, json.Unmarshal(raw[8:8+hl], &header))
	header["fc9.weight"] = json.RawMessage(`{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`)
	hj, _ := json.Marshal(header)
	extra := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	extra = append(append(extra, hj...), raw[8+hl:]...)

	cases := []struct {
		name string
		data []byte
		path string
		want string
	}{
		{"tensor the model lacks", extra, "", "fc9.weight that the mlp model lacks"},
		{"truncated", raw[:len(raw)-100], "", "truncated"},
		{"tiny", raw[:5], "", "truncated"},
		{"corrupt header", append(append([]byte{}, raw[:8]...), append([]byte("{not json"), raw[17:]...)...), "", "corrupt header"},
		{"huge header length", append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, raw[8:]...), "", "header length"},
		{"wrong shapes", nil, wrong, "fc2.weight"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.path
			if p == "" {
				p = filepath.Join(dir, "bad.safetensors")
				must(t, os.WriteFile(p, c.data, 0o644))
			}
			_, _, err := LoadNetwork(p, dev, 4)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// TestStepAllocatesNothing checks the performance rule that a training step
// makes no allocation once warmed up.
func TestStepAllocatesNothing(t *testing.T) {
	dev := cpu.New(2)
	defer dev.Close()
	for _, task := range []string{TaskMLP, TaskCNN} {
		a, _ := DefaultArch(task)
		net, err := Build(dev, a, 16, 1)
		must(t, err)
		cfg := DefaultTrainConfig()
		cfg.BatchSize = 16
		for _, opt := range []string{OptMomentum, OptAdam} {
			cfg.Optimizer = opt
			tr, err := NewTrainer(net, cfg)
			must(t, err)
			set := syntheticSet(40, 28)
			r, err := Upload(dev, set)
			must(t, err)
			views := tr.batchViews(r.perm, r.N)
			must(t, tr.step(r, views[0]))
			allocs := testing.AllocsPerRun(5, func() {
				if err := tr.step(r, views[2]); err != nil { // the partial batch of 8
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s/%s: a training step allocates %v times", task, opt, allocs)
			}
			r.Free(dev)
			tr.Close()
		}
		net.Close()
	}
}

// TestThreadIndependent checks that training on the CPU gives bit-identical
// parameters whatever the number of threads, so sweeps and shards reproduce.
func TestThreadIndependent(t *testing.T) {
	for _, task := range []string{TaskMLP, TaskCNN} {
		var ref []float32
		for _, threads := range []int{1, 2, 3} {
			dev := cpu.New(threads)
			a, _ := DefaultArch(task)
			net, err := Build(dev, a, 32, 1)
			must(t, err)
			tr, err := NewTrainer(net, DefaultTrainConfig())
			must(t, err)
			r, err := Upload(dev, syntheticSet(100, 28))
			must(t, err)
			_, err = tr.Epoch(r, 1, nil)
			must(t, err)
			w := make([]float32, net.NumParams())
			must(t, dev.Download(w, net.FlatParams()))
			if ref == nil {
				ref = w
			} else {
				for i := range w {
					if w[i] != ref[i] {
						t.Fatalf("%s: parameter %d (%s) is %v with %d threads, %v with 1", task, i, paramAt(net, i), w[i], threads, ref[i])
					}
				}
			}
			dev.Close()
		}
	}
}
