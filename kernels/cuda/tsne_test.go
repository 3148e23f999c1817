package cuda_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"mnistgpu/eval"
	"mnistgpu/kernels"
)

// tsneProblem is a random t-SNE problem: n points at Gaussian positions of
// standard deviation spread, and a sparse symmetric P (each point linked to
// k random others, both ways, values random, normalised to sum 1) in
// compressed rows, sorted by column.
func tsneProblem(n, k int, spread float64, seed uint64) kernels.TSNEProblem {
	r := rand.New(rand.NewPCG(seed, 3))
	rows := make([]map[int]float64, n)
	for i := range rows {
		rows[i] = map[int]float64{}
	}
	var total float64
	for i := range n {
		for range k {
			j := r.IntN(n - 1)
			if j >= i {
				j++
			}
			v := r.Float64() + 0.1
			rows[i][j] += v
			rows[j][i] += v
			total += 2 * v
		}
	}
	p := kernels.TSNEProblem{N: n, RowStart: make([]int32, n+1), Y: make([]float32, 2*n)}
	for i, row := range rows {
		cols := make([]int, 0, len(row))
		for j := range row {
			cols = append(cols, j)
		}
		slices.Sort(cols)
		for _, j := range cols {
			p.Col = append(p.Col, int32(j))
			p.Val = append(p.Val, float32(row[j]/total))
		}
		p.RowStart[i+1] = int32(len(p.Col))
	}
	for m := range p.Y {
		p.Y[m] = float32(spread * r.NormFloat64())
	}
	return p
}

// tsneRef is the gradient 4 Σ_j (exag P_ij − q_ij/Z) q_ij (y_i − y_j) and
// the cross-entropy Σ P_ij log(1+d²_ij) + log Z at positions y, in float64
// by the definition (no tiles, no slices, no float32).
func tsneRef(p kernels.TSNEProblem, y []float32, exag float64) (g []float64, ce float64) {
	n := p.N
	pos := func(i int) (float64, float64) { return float64(y[2*i]), float64(y[2*i+1]) }
	var z float64
	for i := range n {
		for j := range n {
			if i != j {
				xi, yi := pos(i)
				xj, yj := pos(j)
				z += 1 / (1 + (xi-xj)*(xi-xj) + (yi-yj)*(yi-yj))
			}
		}
	}
	P := make([]float64, n*n)
	for i := range n {
		for m := p.RowStart[i]; m < p.RowStart[i+1]; m++ {
			P[i*n+int(p.Col[m])] = float64(p.Val[m])
		}
	}
	g = make([]float64, 2*n)
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			xi, yi := pos(i)
			xj, yj := pos(j)
			d2 := (xi-xj)*(xi-xj) + (yi-yj)*(yi-yj)
			q := 1 / (1 + d2)
			f := 4 * (exag*P[i*n+j] - q/z) * q
			g[2*i] += f * (xi - xj)
			g[2*i+1] += f * (yi - yj)
			ce += P[i*n+j] * math.Log1p(d2)
		}
	}
	return g, ce + math.Log(z)
}

// TestGPUTSNEGradient: two steps on the GPU against the float64 definition:
// the gradient, the cross-entropy, and the positions the update and the
// gains give. 300 points make two tiles, each paired with two slices of
// the points, the second tile and slice partial.
func TestGPUTSNEGradient(t *testing.T) {
	d := gpu(t)
	p := tsneProblem(300, 5, 3, 1)
	plan, err := d.NewTSNE(p)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	const rate = 40
	n2 := 2 * p.N
	y0 := append([]float32(nil), p.Y...)
	steps := []struct{ exag, momentum float32 }{{12, 0.5}, {1, 0.8}}
	var upd, gains []float64 // the expected state, from the GPU's gradient
	upd, gains = make([]float64, n2), make([]float64, n2)
	for m := range gains {
		gains[m] = 1
	}
	for s, st := range steps {
		if err := plan.Step(st.exag, st.momentum, rate, true); err != nil {
			t.Fatal(err)
		}
		ce, err := plan.CrossEntropy()
		if err != nil {
			t.Fatal(err)
		}
		g := make([]float32, n2)
		if err := plan.Gradient(g); err != nil {
			t.Fatal(err)
		}
		y1 := make([]float32, n2)
		if err := plan.Positions(y1); err != nil {
			t.Fatal(err)
		}
		wantG, wantCE := tsneRef(p, y0, float64(st.exag))
		var gmax float64
		for _, v := range wantG {
			gmax = math.Max(gmax, math.Abs(v))
		}
		// float32 sums over n terms of size ≤ gmax: n·2⁻²⁴ ≈ 2e-5 relative.
		tol := 1e-4 * gmax
		for m := range g {
			if diff := math.Abs(float64(g[m]) - wantG[m]); !(diff <= tol) {
				t.Fatalf("step %d: gradient[%d] = %v, want %v (tolerance %.3g)", s, m, g[m], wantG[m], tol)
			}
		}
		if diff := math.Abs(ce - wantCE); !(diff <= 1e-5*math.Abs(wantCE)) {
			t.Errorf("step %d: cross-entropy %v, want %v", s, ce, wantCE)
		}
		// The update from the GPU's own gradient, in float64.
		for m := range g {
			gm := float64(g[m])
			if upd[m]*gm < 0 {
				gains[m] += 0.2
			} else {
				gains[m] *= 0.8
			}
			gains[m] = math.Max(gains[m], 0.01)
			upd[m] = float64(st.momentum)*upd[m] - rate*gains[m]*gm
			want := float64(y0[m]) + upd[m]
			if diff := math.Abs(float64(y1[m]) - want); !(diff <= 1e-5*(1+math.Abs(want))) {
				t.Fatalf("step %d: y[%d] = %v, want %v", s, m, y1[m], want)
			}
		}
		y0 = y1
	}
	// An iteration queues its kernels and nothing else.
	if allocs := testing.AllocsPerRun(5, func() {
		if err := plan.Step(1, 0.8, rate, true); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Step allocates %v times", allocs)
	}
	if err := plan.Close(); err != nil {
		t.Fatal(err)
	}
	if err := plan.Step(1, 0.8, rate, false); err == nil {
		t.Error("Step on a closed plan")
	}
}

// TestGPUTSNEBadProblem: a malformed P is refused before anything runs.
func TestGPUTSNEBadProblem(t *testing.T) {
	d := gpu(t)
	good := func() kernels.TSNEProblem { return tsneProblem(20, 2, 1, 2) }
	cases := []struct {
		name string
		edit func(*kernels.TSNEProblem)
		want string
	}{
		{"one point", func(p *kernels.TSNEProblem) { p.N = 1 }, "points"},
		{"short Y", func(p *kernels.TSNEProblem) { p.Y = p.Y[:5] }, "positions"},
		{"short rows", func(p *kernels.TSNEProblem) { p.RowStart = p.RowStart[:5] }, "row offsets"},
		{"values", func(p *kernels.TSNEProblem) { p.Val = p.Val[:1] }, "columns but"},
		{"column", func(p *kernels.TSNEProblem) { p.Col[3] = 20 }, "column 20"},
		{"negative column", func(p *kernels.TSNEProblem) { p.Col[0] = -1 }, "column -1"},
		{"decreasing", func(p *kernels.TSNEProblem) { p.RowStart[3], p.RowStart[4] = p.RowStart[4], p.RowStart[3] }, "decrease"},
	}
	for _, c := range cases {
		p := good()
		c.edit(&p)
		plan, err := d.NewTSNE(p)
		if err == nil {
			plan.Close()
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// tsneLogits returns n 10-dimensional points shaped like a classifier's
// logits (a high score for the class, a lower one for a confusable class,
// noise; one point in twenty between two classes) and their labels.
func tsneLogits(n int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 4))
	X := make([][]float32, n)
	for i := range X {
		c := r.IntN(10)
		other := (c + 1 + r.IntN(9)) % 10
		hi, lo := 8+2*r.NormFloat64(), 2+2*r.Float64()
		if r.Float64() < 0.05 {
			hi, lo = 5, 5
		}
		X[i] = make([]float32, 10)
		for j := range X[i] {
			X[i][j] = float32(1.5 * r.NormFloat64())
		}
		X[i][c] += float32(hi)
		X[i][other] += float32(lo)
	}
	return X
}

// tsneParity embeds X on the GPU and with eval.TSNE (opts.Theta chooses the
// CPU's exact path or Barnes-Hut) and fails unless the trustworthiness
// (k = 10) of the two agree within 0.005 and the GPU reported progress at
// the same iterations.
func tsneParity(t *testing.T, X [][]float32, opts eval.Options) {
	d := gpu(t)
	var gpuIt, cpuIt []int
	var gpuKL, cpuKL float64
	og := opts
	og.Progress = func(it int, kl float64) { gpuIt, gpuKL = append(gpuIt, it), kl }
	t0 := time.Now()
	Yg, err := eval.TSNEOn(context.Background(), d, X, og)
	if err != nil {
		t.Fatal(err)
	}
	tg := time.Since(t0)
	oc := opts
	oc.Progress = func(it int, kl float64) { cpuIt, cpuKL = append(cpuIt, it), kl }
	t0 = time.Now()
	Yc, err := eval.TSNE(context.Background(), X, oc)
	if err != nil {
		t.Fatal(err)
	}
	tc := time.Since(t0)
	if len(gpuIt) != len(cpuIt) || len(gpuIt) == 0 || gpuIt[len(gpuIt)-1] != cpuIt[len(cpuIt)-1] {
		t.Errorf("progress at %v, the CPU's at %v", gpuIt, cpuIt)
	}
	trG, err := eval.Trustworthiness(X, Yg, 10)
	if err != nil {
		t.Fatal(err)
	}
	trC, err := eval.Trustworthiness(X, Yc, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d points: trustworthiness GPU %.4f, CPU %.4f; final KL GPU %.4f, CPU %.4f; %v on %s, %v on the CPU",
		len(X), trG, trC, gpuKL, cpuKL, tg.Round(time.Millisecond), d.Name(), tc.Round(time.Millisecond))
	if diff := math.Abs(trG - trC); !(diff <= 0.005) {
		t.Errorf("trustworthiness GPU %v, CPU %v: differ by more than 0.005", trG, trC)
	}
	// The KL divergences measure the same fit; t-SNE's runs differ
	// point by point (rounding is amplified), not in quality.
	if diff := math.Abs(gpuKL - cpuKL); !(diff <= 0.05*cpuKL) {
		t.Errorf("final KL GPU %v, CPU %v: differ by more than 5%%", gpuKL, cpuKL)
	}
}

// TestGPUTSNETrustworthiness: 300 logit-like points, the full default
// schedule, against the CPU's exact path (Theta < 0: the same gradient as
// the GPU's, in float64).
func TestGPUTSNETrustworthiness(t *testing.T) {
	tsneParity(t, tsneLogits(300, 1), eval.Options{Seed: 7, Theta: -1})
}

// TestTSNEGPU10k is the check at full size, on a real GPU when
// MNISTGPU_TSNE_10K is set (scripts/gpu-tsne-check.sh): 10,000 logit-like
// points on the GPU against the CPU's default Barnes-Hut t-SNE, the
// trustworthiness within 0.005. It takes seconds for the t-SNE runs and
// about 10 s for the two trustworthiness evaluations.
func TestTSNEGPU10k(t *testing.T) {
	if os.Getenv("MNISTGPU_TSNE_10K") == "" || fakeGPU() {
		t.Skip("set MNISTGPU_TSNE_10K on a GPU machine")
	}
	tsneParity(t, tsneLogits(10000, 1), eval.Options{Seed: 1})
}

// BenchmarkTSNEGPU: t-SNE of 10,000 points on the GPU end to end, from the
// feature matrix to the 2-D coordinates with the default options:
// neighbours on the GPU, perplexity calibration, P and the PCA start on the
// CPU, 1000 iterations on the GPU, positions back. The target is
// 0.3 s on an H100/H200. logits10 is the default t-SNE input (a
// classifier's 10 logits), features196 the size of the CNN's penultimate
// layer.
func BenchmarkTSNEGPU(b *testing.B) {
	d := gpu(b)
	if fakeGPU() {
		b.Skip("fake GPU")
	}
	inputs := []struct {
		name string
		x    [][]float32
	}{
		{"logits10", tsneLogits(10000, 1)},
		{"features196", tsneBlobs(10000, 196, 2)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := eval.TSNEOn(context.Background(), d, in.x, eval.Options{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTSNEGPUSteps: the 1000 iterations alone (upload, steps with the
// KL every 50 as the progress callback asks, positions back) for 10,000
// points with 45 random neighbours each way.
func BenchmarkTSNEGPUSteps(b *testing.B) {
	d := gpu(b)
	if fakeGPU() {
		b.Skip("fake GPU")
	}
	p := tsneProblem(10000, 45, 1e-4, 1)
	pos := make([]float32, 2*p.N)
	for b.Loop() {
		plan, err := d.NewTSNE(p)
		if err != nil {
			b.Fatal(err)
		}
		for it := range 1000 {
			exag, mom := float32(12), float32(0.5)
			if it >= 250 {
				exag, mom = 1, 0.8
			}
			ce := (it+1)%50 == 0
			if err := plan.Step(exag, mom, 208, ce); err != nil {
				b.Fatal(err)
			}
			if ce {
				if _, err := plan.CrossEntropy(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := plan.Positions(pos); err != nil {
			b.Fatal(err)
		}
		plan.Close()
	}
}

// BenchmarkTSNEGPUNeighbors: the 91 nearest neighbours of 10,000 points
// (upload, kernel, download).
func BenchmarkTSNEGPUNeighbors(b *testing.B) {
	d := gpu(b)
	if fakeGPU() {
		b.Skip("fake GPU")
	}
	for _, dim := range []int{10, 196} {
		b.Run(fmt.Sprintf("d%d", dim), func(b *testing.B) {
			const n, k = 10000, 91
			X := tsneBlobs(n, dim, 3)
			x := make([]float32, 0, n*dim)
			for _, row := range X {
				x = append(x, row...)
			}
			nbr, dist2 := make([]int32, n*k), make([]float32, n*k)
			for b.Loop() {
				if err := d.TSNENeighbors(x, n, dim, k, nbr, dist2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tsneBlobs returns n points in dim dimensions around 10 Gaussian centres
// (centres spread 3, unit noise).
func tsneBlobs(n, dim int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 6))
	centres := make([][]float64, 10)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for f := range centres[c] {
			centres[c][f] = 3 * r.NormFloat64()
		}
	}
	X := make([][]float32, n)
	for i := range X {
		X[i] = make([]float32, dim)
		for f := range X[i] {
			X[i][f] = float32(centres[i%10][f] + r.NormFloat64())
		}
	}
	return X
}

// TestGPUTSNENeighbors checks the GPU's k nearest neighbours against a
// sort of the float64 distances: exactly (order, ties by index, values)
// on small-integer points, whose float32 distances are exact and tie
// often; up to float32 rounding on Gaussian points.
func TestGPUTSNENeighbors(t *testing.T) {
	d := gpu(t)
	cases := []struct {
		name      string
		n, dim, k int
		integer   bool
		seed      uint64
	}{
		{"integer ties", 300, 3, 40, true, 1},
		{"gaussian", 150, 17, 91, false, 2},
		{"fewer points than threads", 100, 5, 30, false, 3},
		{"k = n-1", 20, 2, 19, true, 4},
	}
	for _, c := range cases {
		r := rand.New(rand.NewPCG(c.seed, 5))
		x := make([]float32, c.n*c.dim)
		for m := range x {
			if c.integer {
				x[m] = float32(r.IntN(4))
			} else {
				x[m] = float32(r.NormFloat64())
			}
		}
		nbr := make([]int32, c.n*c.k)
		dist2 := make([]float32, c.n*c.k)
		if err := d.TSNENeighbors(x, c.n, c.dim, c.k, nbr, dist2); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ref := make([]float64, c.n)
		order := make([]int, 0, c.n)
		for i := range c.n {
			order = order[:0]
			for j := range c.n {
				var s float64
				for f := range c.dim {
					v := float64(x[i*c.dim+f]) - float64(x[j*c.dim+f])
					s += v * v
				}
				ref[j] = s
				if j != i {
					order = append(order, j)
				}
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ref[a], ref[b]) })
			for m := range c.k {
				got, gd := int(nbr[i*c.k+m]), float64(dist2[i*c.k+m])
				want := order[m]
				if c.integer {
					if got != want || gd != ref[want] {
						t.Fatalf("%s: point %d, neighbour %d: %d at %v, want %d at %v", c.name, i, m, got, gd, want, ref[want])
					}
					continue
				}
				// float32 distances: the m-th distance and the chosen
				// point's own distance agree with the m-th reference one.
				tol := 1e-5 * (1 + ref[want])
				if got < 0 || got >= c.n || got == i {
					t.Fatalf("%s: point %d, neighbour %d is %d", c.name, i, m, got)
				}
				if e1, e2 := math.Abs(gd-ref[want]), math.Abs(ref[got]-ref[want]); !(e1 <= tol) || !(e2 <= tol) {
					t.Fatalf("%s: point %d, neighbour %d: %d at %v (exactly %v), want %d at %v", c.name, i, m, got, gd, ref[got], want, ref[want])
				}
			}
			seen := map[int32]bool{}
			for _, j := range nbr[i*c.k : (i+1)*c.k] {
				if seen[j] {
					t.Fatalf("%s: point %d lists %d twice", c.name, i, j)
				}
				seen[j] = true
			}
		}
	}

	// Arguments the kernel cannot take are refused.
	x := make([]float32, 20)
	nbr, dist2 := make([]int32, 40), make([]float32, 40)
	for _, bad := range []struct{ n, dim, k int }{{10, 2, 10}, {10, 2, 0}, {1, 20, 1}, {10, 3, 2}, {20, 1, 3}} {
		if err := d.TSNENeighbors(x, bad.n, bad.dim, bad.k, nbr, dist2); err == nil {
			t.Errorf("n %d, d %d, k %d accepted", bad.n, bad.dim, bad.k)
		}
	}
	big := make([]float32, 10241)
	if err := d.TSNENeighbors(big, 10241, 1, 5, make([]int32, 5*10241), make([]float32, 5*10241)); err == nil {
		t.Error("10,241 points accepted")
	}
}
