package eval

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"mnistgpu/kernels"
)

// refDevice is a kernels.TSNEDevice in plain Go (float64, exact gradient),
// written from the TSNEPlan contract, to test TSNEOn's side without a GPU.
// It records every Step's arguments. The Device methods it does not need
// are left to the embedded nil interface.
type refDevice struct {
	kernels.Device
	plan     *refPlan
	knnCalls int
}

func (d *refDevice) Name() string { return "reference" }

// TSNENeighbors uses knn, with the distances rounded to float32.
func (d *refDevice) TSNENeighbors(x []float32, n, dim, k int, nbr []int32, dist2 []float32) error {
	X := make([][]float32, n)
	for i := range X {
		X[i] = x[i*dim : (i+1)*dim]
	}
	nb, d2, err := knn(context.Background(), X, k, 1)
	if err != nil {
		return err
	}
	copy(nbr, nb)
	for m, v := range d2 {
		dist2[m] = float32(v)
	}
	d.knnCalls++
	return nil
}

func (d *refDevice) NewTSNE(p kernels.TSNEProblem) (kernels.TSNEPlan, error) {
	pl := &refPlan{p: p, y: make([]float64, 2*p.N), upd: make([]float64, 2*p.N), gains: make([]float64, 2*p.N), grad: make([]float64, 2*p.N)}
	for m, v := range p.Y {
		pl.y[m] = float64(v)
		pl.gains[m] = 1
	}
	d.plan = pl
	return pl, nil
}

type step struct {
	exag, momentum, rate float32
	withCE               bool
}

type refPlan struct {
	p                   kernels.TSNEProblem
	y, upd, gains, grad []float64
	steps               []step
	ce                  float64
	closed              bool
}

func (pl *refPlan) Step(exag, momentum, rate float32, withCE bool) error {
	pl.steps = append(pl.steps, step{exag, momentum, rate, withCE})
	n, y, p := pl.p.N, pl.y, pl.p
	var z float64
	rep := make([]float64, 2*n)
	attr := make([]float64, 2*n)
	var pl1 float64
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
			q := 1 / (1 + dx*dx + dy*dy)
			z += q
			rep[2*i] += q * q * dx
			rep[2*i+1] += q * q * dy
		}
		for m := p.RowStart[i]; m < p.RowStart[i+1]; m++ {
			j := p.Col[m]
			dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
			d2 := dx*dx + dy*dy
			v := float64(p.Val[m])
			attr[2*i] += v / (1 + d2) * dx
			attr[2*i+1] += v / (1 + d2) * dy
			pl1 += v * math.Log1p(d2)
		}
	}
	if withCE {
		pl.ce = pl1 + math.Log(z)
	}
	for m := range y {
		g := 4 * (float64(exag)*attr[m] - rep[m]/z)
		if pl.upd[m]*g < 0 {
			pl.gains[m] += 0.2
		} else {
			pl.gains[m] *= 0.8
		}
		pl.gains[m] = math.Max(pl.gains[m], 0.01)
		pl.upd[m] = float64(momentum)*pl.upd[m] - float64(rate)*pl.gains[m]*g
		pl.grad[m] = g
		y[m] += pl.upd[m]
	}
	return nil
}

func (pl *refPlan) CrossEntropy() (float64, error) { return pl.ce, nil }
func (pl *refPlan) Gradient(dst []float32) error {
	for m, v := range pl.grad {
		dst[m] = float32(v)
	}
	return nil
}
func (pl *refPlan) Positions(dst []float32) error {
	for m, v := range pl.y {
		dst[m] = float32(v)
	}
	return nil
}
func (pl *refPlan) Close() error { pl.closed = true; return nil }

// TestTSNEOnSchedule runs TSNEOn on the reference device and checks what it
// asks of the device (TSNE's schedule, the KL only at progress steps), that
// its first steps are TSNE's exact ones up to the float32 rounding of P and
// the start, and that the whole run is as good as TSNE's exact path on the
// same input and seed (t-SNE amplifies rounding differences: after about 20
// iterations the layouts differ point by point, so the end is compared by
// its trustworthiness and KL).
func TestTSNEOnSchedule(t *testing.T) {
	X, _ := blobs(200, 10, 5, 2, 3)
	const iters, early = 300, 100
	o := Options{Seed: 5, Iterations: iters, EarlyIterations: early, Theta: -1}
	run := func(dev kernels.Device, o Options) ([][2]float64, []int, []float64) {
		t.Helper()
		var its []int
		var kls []float64
		o.Progress = func(it int, kl float64) { its, kls = append(its, it), append(kls, kl) }
		var Y [][2]float64
		var err error
		if dev == nil {
			Y, err = TSNE(context.Background(), X, o)
		} else {
			Y, err = TSNEOn(context.Background(), dev, X, o)
		}
		if err != nil {
			t.Fatal(err)
		}
		return Y, its, kls
	}

	// The first three steps: the same positions and KL.
	o3 := o
	o3.Iterations = 3
	Yd, _, kd := run(&refDevice{}, o3)
	Yc, _, kc := run(nil, o3)
	if d := math.Abs(kd[0] - kc[0]); !(d <= 1e-9) {
		t.Errorf("KL after 3 steps: %v, TSNE's %v", kd[0], kc[0])
	}
	var scale float64
	for i := range Yc {
		scale = math.Max(scale, math.Max(math.Abs(Yc[i][0]), math.Abs(Yc[i][1])))
	}
	for i := range Yd {
		for c := range 2 {
			if d := math.Abs(Yd[i][c] - Yc[i][c]); !(d <= 1e-5*scale) {
				t.Fatalf("after 3 steps, point %d: %v, TSNE's %v", i, Yd[i], Yc[i])
			}
		}
	}

	dev := &refDevice{}
	Yd, devIt, devKL := run(dev, o)
	Yc, cpuIt, cpuKL := run(nil, o)
	pl := dev.plan
	if dev.knnCalls != 1 {
		t.Errorf("%d calls of TSNENeighbors, want 1", dev.knnCalls)
	}
	if !pl.closed {
		t.Error("plan not closed")
	}
	if len(pl.steps) != iters {
		t.Fatalf("%d steps, want %d", len(pl.steps), iters)
	}
	rate := float32(math.Max(200.0/12/4, 50))
	for it, s := range pl.steps {
		want := step{1, 0.8, rate, (it+1)%50 == 0 || it == iters-1}
		if it < early {
			want.exag, want.momentum = 12, 0.5
		}
		if s != want {
			t.Fatalf("step %d: %+v, want %+v", it, s, want)
		}
	}
	if !slices.Equal(devIt, cpuIt) {
		t.Fatalf("progress at %v, TSNE's at %v", devIt, cpuIt)
	}
	last := len(devKL) - 1
	if d := math.Abs(devKL[last] - cpuKL[last]); !(d <= 0.05*cpuKL[last]) {
		t.Errorf("final KL %v, TSNE's %v", devKL[last], cpuKL[last])
	}
	td, err := Trustworthiness(X, Yd, 10)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := Trustworthiness(X, Yc, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trustworthiness %.4f, TSNE's %.4f; KL %.4f, TSNE's %.4f", td, tc, devKL[last], cpuKL[last])
	if d := math.Abs(td - tc); !(d <= 0.005) {
		t.Errorf("trustworthiness %v, TSNE's %v", td, tc)
	}
}

// TestTSNEOnFallsBack: without a t-SNE device, or with too many points,
// TSNEOn is TSNE.
func TestTSNEOnFallsBack(t *testing.T) {
	X, _ := blobs(100, 5, 3, 3, 1)
	o := Options{Seed: 2, Iterations: 60}
	want, err := TSNE(context.Background(), X, o)
	if err != nil {
		t.Fatal(err)
	}
	type plainDevice struct{ kernels.Device }
	for _, dev := range []kernels.Device{nil, plainDevice{}} {
		got, err := TSNEOn(context.Background(), dev, X, o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("device %T: TSNEOn differs from TSNE", dev)
		}
	}
}

// failingDevice's NewTSNE fails: TSNEOn reports it (no silent fallback).
type failingDevice struct{ kernels.Device }

func (failingDevice) Name() string { return "failing" }
func (failingDevice) NewTSNE(kernels.TSNEProblem) (kernels.TSNEPlan, error) {
	return nil, errors.New("out of memory")
}
func (failingDevice) TSNENeighbors([]float32, int, int, int, []int32, []float32) error { return nil }

// noKNNDevice's TSNENeighbors fails.
type noKNNDevice struct{ refDevice }

func (*noKNNDevice) Name() string { return "no-knn" }
func (*noKNNDevice) TSNENeighbors([]float32, int, int, int, []int32, []float32) error {
	return errors.New("too many points")
}

func TestTSNEOnErrors(t *testing.T) {
	X, _ := blobs(50, 5, 3, 3, 1)
	if _, err := TSNEOn(context.Background(), failingDevice{}, X, Options{}); err == nil || err.Error() != "eval: tsne on failing: out of memory" {
		t.Errorf("got %v", err)
	}
	if _, err := TSNEOn(context.Background(), &noKNNDevice{}, X, Options{}); err == nil || err.Error() != "eval: tsne: neighbours: on no-knn: too many points" {
		t.Errorf("got %v", err)
	}
	if _, err := TSNEOn(context.Background(), &refDevice{}, X[:1], Options{}); err == nil {
		t.Error("one point accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TSNEOn(ctx, &refDevice{}, X, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// BenchmarkTSNEPrepare10k times the CPU part of TSNEOn's device path for
// 10,000 synthetic 10-class logit vectors: neighbours (k = 91),
// perplexity calibration, the symmetric P and the PCA start.
func BenchmarkTSNEPrepare10k(b *testing.B) {
	X, _ := logits(10000, 1)
	for b.Loop() {
		if _, _, _, err := prepare(context.Background(), X, Options{}, knn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTSNEHostPart10k times what TSNEOn's device path leaves to the
// CPU for 10,000 synthetic logit vectors once the device has found the
// neighbours: perplexity calibration, the symmetric P and the PCA start.
func BenchmarkTSNEHostPart10k(b *testing.B) {
	X, _ := logits(10000, 1)
	o, err := Options{}.withDefaults(len(X))
	if err != nil {
		b.Fatal(err)
	}
	k := min(len(X)-1, int(3*o.Perplexity+1))
	nbr, dist2, err := knn(context.Background(), X, k, o.Threads)
	if err != nil {
		b.Fatal(err)
	}
	condP := make([]float64, len(dist2))
	for b.Loop() {
		calibrate(dist2, condP, len(X), k, o.Perplexity, o.Threads)
		symmetrizeThreads(nbr, condP, len(X), k, o.Threads)
		pcaInit(X, 1)
	}
}

// TestSymmetrizeThreads checks the parallel symmetrisation against a dense
// (C + Cᵀ)/sum built from a map, and that threads do not change it.
func TestSymmetrizeThreads(t *testing.T) {
	X, _ := blobs(700, 8, 5, 2, 9)
	const k = 20
	nbr, dist2, err := knn(context.Background(), X, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	n := len(X)
	condP := make([]float64, len(dist2))
	calibrate(dist2, condP, n, k, 6, 2)
	dense := map[[2]int32]float64{}
	var total float64
	for i := range n {
		for m, j := range nbr[i*k : (i+1)*k] {
			dense[[2]int32{int32(i), j}] += condP[i*k+m]
			dense[[2]int32{j, int32(i)}] += condP[i*k+m]
			total += 2 * condP[i*k+m]
		}
	}
	one := symmetrizeThreads(nbr, condP, n, k, 1)
	for _, threads := range []int{1, 3} {
		P := symmetrizeThreads(nbr, condP, n, k, threads)
		if !slices.Equal(P.rowStart, one.rowStart) || !slices.Equal(P.col, one.col) || !slices.Equal(P.val, one.val) {
			t.Fatalf("%d threads: P differs from 1 thread's", threads)
		}
		if len(P.val) != len(dense) {
			t.Fatalf("%d entries, want %d", len(P.val), len(dense))
		}
		for i := range n {
			for m := P.rowStart[i]; m < P.rowStart[i+1]; m++ {
				if m > P.rowStart[i] && !(P.col[m] > P.col[m-1]) {
					t.Fatalf("row %d not sorted", i)
				}
				want := dense[[2]int32{int32(i), P.col[m]}] / total
				if d := math.Abs(P.val[m] - want); !(d <= 1e-12*want) {
					t.Fatalf("P[%d][%d] = %v, want %v", i, P.col[m], P.val[m], want)
				}
			}
		}
	}
}
