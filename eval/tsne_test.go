package eval

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// blobs returns n points in d dimensions drawn around classes Gaussian
// centres (unit noise, centres with standard deviation sep), and their labels.
func blobs(n, d, classes int, sep float64, seed uint64) ([][]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = sep * r.NormFloat64()
		}
	}
	X := make([][]float32, n)
	labels := make([]int, n)
	for i := range X {
		c := i % classes
		labels[i] = c
		X[i] = make([]float32, d)
		for j := range X[i] {
			X[i][j] = float32(centres[c][j] + r.NormFloat64())
		}
	}
	return X, labels
}

// logits returns n 10-dimensional vectors resembling the logits of a
// trained 10-class classifier: a high score for the true class, a smaller
// one for a random confusable class, and noise; about 5% of the points sit
// between two classes.
func logits(n int, seed uint64) ([][]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	X := make([][]float32, n)
	labels := make([]int, n)
	for i := range X {
		c := r.IntN(10)
		other := (c + 1 + r.IntN(9)) % 10
		labels[i] = c
		hi, lo := 8+2*r.NormFloat64(), 2+r.Float64()*2
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
	return X, labels
}

func TestTSNEBlobsQuality(t *testing.T) {
	X, labels := blobs(1000, 50, 10, 3, 7)
	var calls []int
	var lastKL float64
	Y, err := TSNE(context.Background(), X, Options{Progress: func(it int, kl float64) {
		calls = append(calls, it)
		lastKL = kl
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(Y) != len(X) {
		t.Fatalf("got %d points, want %d", len(Y), len(X))
	}
	for i, p := range Y {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
			t.Fatalf("point %d = %v", i, p)
		}
	}
	agree, err := NeighborAgreement(Y, labels, 10)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := Trustworthiness(X, Y, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10-NN class agreement %.4f, trustworthiness(10) %.4f, final KL %.4f", agree, trust, lastKL)
	if !(agree > 0.9) {
		t.Errorf("10-NN class agreement %.4f, want > 0.9", agree)
	}
	if !(trust > 0.9) {
		t.Errorf("trustworthiness %.4f, want > 0.9", trust)
	}
	// Negative control: a random layout must fail both measures.
	r := rand.New(rand.NewPCG(1, 1))
	random := make([][2]float64, len(Y))
	for i := range random {
		random[i] = [2]float64{r.NormFloat64(), r.NormFloat64()}
	}
	ra, _ := NeighborAgreement(random, labels, 10)
	rt, _ := Trustworthiness(X, random, 10)
	if !(ra <= 0.3 && rt <= 0.7) {
		t.Errorf("random layout: agreement %.3f, trustworthiness %.3f; the measures do not discriminate", ra, rt)
	}
	if len(calls) != 20 || calls[0] != 50 || calls[19] != 1000 {
		t.Errorf("progress called at %v, want 50, 100, ..., 1000", calls)
	}
	if !(lastKL > 0 && lastKL < 3) {
		t.Errorf("final KL %v, want in (0, 3)", lastKL)
	}
}

func TestTSNEDeterministicAcrossThreads(t *testing.T) {
	X, _ := blobs(400, 20, 5, 3, 3)
	for _, init := range []Init{InitPCA, InitRandom} {
		var first [][2]float64
		for _, threads := range []int{1, 2, 3} {
			Y, err := TSNE(context.Background(), X, Options{Iterations: 300, Threads: threads, Seed: 5, Init: init})
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = Y
				continue
			}
			if !slices.Equal(first, Y) {
				t.Errorf("init %d: threads=%d result differs from threads=1", init, threads)
			}
		}
	}
}

func TestTSNESeedChangesRandomInit(t *testing.T) {
	X, _ := blobs(200, 5, 4, 3, 3)
	a, err := TSNE(context.Background(), X, Options{Iterations: 10, Seed: 1, Init: InitRandom})
	if err != nil {
		t.Fatal(err)
	}
	b, err := TSNE(context.Background(), X, Options{Iterations: 10, Seed: 2, Init: InitRandom})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, b) {
		t.Error("different seeds gave the same embedding")
	}
}

func TestTSNEExactMatchesBarnesHut(t *testing.T) {
	// Same data, exact and Barnes-Hut gradients: both must separate the
	// blobs equally well.
	X, labels := blobs(300, 10, 3, 4, 11)
	for _, theta := range []float64{-1, 0.5} {
		Y, err := TSNE(context.Background(), X, Options{Theta: theta, Iterations: 500, Perplexity: 20})
		if err != nil {
			t.Fatal(err)
		}
		agree, err := NeighborAgreement(Y, labels, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !(agree >= 0.95) {
			t.Errorf("theta %v: agreement %.3f, want >= 0.95", theta, agree)
		}
	}
}

func TestTSNESmallAndDegenerate(t *testing.T) {
	tests := []struct {
		name string
		X    [][]float32
	}{
		{"two points", [][]float32{{0, 1}, {1, 0}}},
		{"one feature", [][]float32{{0}, {1}, {2}, {3}, {4}, {5}}},
		{"identical points", [][]float32{{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
		{"some duplicates", [][]float32{{1, 1}, {1, 1}, {2, 2}, {2, 2}, {3, 0}, {0, 3}, {5, 5}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Y, err := TSNE(context.Background(), tc.X, Options{Iterations: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(Y) != len(tc.X) {
				t.Fatalf("got %d points, want %d", len(Y), len(tc.X))
			}
			for i, p := range Y {
				if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
					t.Fatalf("point %d = %v", i, p)
				}
			}
		})
	}
}

func TestTSNEErrors(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		X    [][]float32
		o    Options
	}{
		{"no points", nil, Options{}},
		{"one point", [][]float32{{1, 2}}, Options{}},
		{"no features", [][]float32{{}, {}}, Options{}},
		{"ragged", [][]float32{{1, 2}, {1}}, Options{}},
		{"NaN", [][]float32{{1, 2}, {nan, 1}}, Options{}},
		{"negative perplexity", [][]float32{{1, 2}, {2, 1}}, Options{Perplexity: -1}},
		{"negative iterations", [][]float32{{1, 2}, {2, 1}}, Options{Iterations: -1}},
		{"negative learning rate", [][]float32{{1, 2}, {2, 1}}, Options{LearningRate: -1}},
		{"bad init", [][]float32{{1, 2}, {2, 1}}, Options{Init: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := TSNE(context.Background(), tc.X, tc.o); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestTSNECancel(t *testing.T) {
	X, _ := blobs(300, 5, 3, 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := TSNE(ctx, X, Options{Progress: func(it int, _ float64) {
		if it == 100 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestKNNMatchesSort(t *testing.T) {
	X, _ := blobs(200, 7, 3, 1, 9)
	X[5] = slices.Clone(X[6]) // a tie at distance 0
	const k = 12
	for _, threads := range []int{1, 2} {
		nbr, d2, err := knn(context.Background(), X, k, threads)
		if err != nil {
			t.Fatal(err)
		}
		for i := range X {
			var want []neighbor
			for j := range X {
				if j != i {
					want = append(want, neighbor{float64(sqDist32(X[i], X[j])), int32(j)})
				}
			}
			slices.SortFunc(want, func(a, b neighbor) int {
				if a.less(b) {
					return -1
				}
				return 1
			})
			for m := range k {
				if nbr[i*k+m] != want[m].j || d2[i*k+m] != want[m].d {
					t.Fatalf("threads %d point %d neighbour %d: got (%d, %v), want (%d, %v)",
						threads, i, m, nbr[i*k+m], d2[i*k+m], want[m].j, want[m].d)
				}
			}
		}
	}
}

func TestCalibrateReachesPerplexity(t *testing.T) {
	X, _ := blobs(300, 10, 3, 3, 2)
	tests := []struct {
		perp float64
	}{{5}, {30}, {60}}
	for _, tc := range tests {
		k := min(len(X)-1, int(3*tc.perp+1))
		_, d2, err := knn(context.Background(), X, k, 2)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]float64, len(d2))
		calibrate(d2, p, len(X), k, tc.perp, 2)
		for i := range X {
			var h, sum float64
			for _, v := range p[i*k : (i+1)*k] {
				sum += v
				if v > 0 {
					h -= v * math.Log(v)
				}
			}
			if !(math.Abs(sum-1) <= 1e-9) || !(math.Abs(math.Exp(h)-tc.perp) <= 1e-3*tc.perp) {
				t.Fatalf("perplexity %v point %d: sum %v, perplexity %v", tc.perp, i, sum, math.Exp(h))
			}
		}
	}
}

func TestSymmetrize(t *testing.T) {
	// 4 points, k = 2, hand-made conditional probabilities.
	nbr := []int32{1, 2, 0, 2, 3, 1, 2, 0}
	cond := []float64{0.7, 0.3, 0.6, 0.4, 0.5, 0.5, 0.9, 0.1}
	P := symmetrizeThreads(nbr, cond, 4, 2, 1)
	dense := make([][]float64, 4)
	for i := range dense {
		dense[i] = make([]float64, 4)
		for m := P.rowStart[i]; m < P.rowStart[i+1]; m++ {
			if m > P.rowStart[i] && P.col[m] <= P.col[m-1] {
				t.Fatalf("row %d not sorted by column", i)
			}
			dense[i][P.col[m]] = P.val[m]
		}
	}
	// C + Cᵀ, total 8.
	want := [][]float64{
		{0, 0.7 + 0.6, 0.3, 0.1},
		{0.7 + 0.6, 0, 0.4 + 0.5, 0},
		{0.3, 0.4 + 0.5, 0, 0.5 + 0.9},
		{0.1, 0, 0.5 + 0.9, 0},
	}
	for i := range want {
		for j := range want[i] {
			if !(math.Abs(dense[i][j]-want[i][j]/8) <= 1e-15) {
				t.Errorf("P[%d][%d] = %v, want %v", i, j, dense[i][j], want[i][j]/8)
			}
		}
	}
}

func TestBarnesHutForcesApproximateExact(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	n := 2000
	y := make([]float64, 2*n)
	for i := range n {
		// Clustered layout like a t-SNE embedding, with a few duplicates.
		c := float64(i % 7)
		y[2*i] = 10*math.Cos(c) + r.NormFloat64()
		y[2*i+1] = 10*math.Sin(c) + r.NormFloat64()
	}
	copy(y[0:2], y[2:4])
	exact := make([]float64, 2*n)
	zExact := repulseExact(y, exact, 0, n)
	for _, tc := range []struct {
		theta, tol float64
	}{{0.1, 2e-3}, {0.5, 3e-2}} {
		var tr quadtree
		tr.build(y, tc.theta)
		bh := make([]float64, 2*n)
		var z float64
		for c := range chunks(n) {
			z += tr.repulse(bh, c*chunkSize, min(n, (c+1)*chunkSize))
		}
		if !(math.Abs(z-zExact) <= tc.tol*zExact) {
			t.Errorf("theta %v: Z = %v, exact %v", tc.theta, z, zExact)
		}
		var num, den float64
		for m := range exact {
			num += (bh[m] - exact[m]) * (bh[m] - exact[m])
			den += exact[m] * exact[m]
		}
		if rel := math.Sqrt(num / den); !(rel <= tc.tol) {
			t.Errorf("theta %v: relative force error %.2e, want <= %.0e", tc.theta, rel, tc.tol)
		}
	}
}

func TestTrustworthiness(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	affineX := make([][]float64, 100)
	affineY := make([][2]float64, 100)
	for i := range affineX {
		a, b := r.NormFloat64(), r.NormFloat64()
		affineX[i] = []float64{a, b}
		affineY[i] = [2]float64{5 + a/10, 5 + b/10}
	}
	line := make([][]float64, 100)
	shuffled := make([][2]float64, 100)
	perm := r.Perm(100)
	for i := range line {
		line[i] = []float64{float64(i)}
		shuffled[i] = [2]float64{float64(perm[i]), 0}
	}
	tests := []struct {
		name    string
		X       [][]float64
		Y       [][2]float64
		k       int
		lo, hi  float64
		wantErr bool
	}{
		// scikit-learn's own test cases (test_t_sne.py).
		{"affine", affineX, affineY, 5, 1, 1, false},
		{"shuffled", line, shuffled, 5, 0, 0.6, false},
		{"hand-worked", [][]float64{{0}, {1}, {2}, {3}, {4}}, [][2]float64{{0, 0}, {2, 0}, {4, 0}, {1, 0}, {3, 0}}, 1, 0.2, 0.2, false},
		{"k too large", line, shuffled, 50, 0, 0, true},
		{"k zero", line, shuffled, 0, 0, 0, true},
		{"length mismatch", line[:10], shuffled, 2, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Trustworthiness(tc.X, tc.Y, tc.k)
			if tc.wantErr {
				if err == nil {
					t.Errorf("no error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got < tc.lo-1e-12 || got > tc.hi+1e-12 {
				t.Errorf("got %v, want in [%v, %v]", got, tc.lo, tc.hi)
			}
		})
	}
}

func TestNeighborAgreement(t *testing.T) {
	Y := [][2]float64{{0, 0}, {0, 1}, {10, 0}, {10, 1}, {0, 0.5}}
	tests := []struct {
		name    string
		labels  []int
		k       int
		want    float64
		wantErr bool
	}{
		{"pure", []int{0, 0, 1, 1, 0}, 1, 1, false},
		{"k=2", []int{0, 0, 1, 1, 0}, 2, (1 + 1 + 0.5 + 0.5 + 1) / 5, false},
		{"mixed", []int{0, 1, 1, 0, 0}, 1, (1 + 0 + 0 + 0 + 1) / 5.0, false},
		{"bad k", []int{0, 0, 1, 1, 0}, 5, 0, true},
		{"short labels", []int{0}, 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NeighborAgreement(Y, tc.labels, tc.k)
			if tc.wantErr {
				if err == nil {
					t.Error("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !(math.Abs(got-tc.want) <= 1e-12) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkTSNE10k embeds 10,000 synthetic 10-class logit vectors with the
// default options (1000 iterations, perplexity 30, theta 0.5).
func BenchmarkTSNE10k(b *testing.B) {
	X, labels := logits(10000, 1)
	for b.Loop() {
		Y, err := TSNE(context.Background(), X, Options{})
		if err != nil {
			b.Fatal(err)
		}
		agree, err := NeighborAgreement(Y, labels, 10)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(agree, "10nn-agreement")
	}
}

// BenchmarkKNN10kD196 times the exact neighbour search (k = 91) on 10,000
// points of 196 features (the size of the CNN's flattened conv features).
func BenchmarkKNN10kD196(b *testing.B) {
	X, _ := blobs(10000, 196, 10, 1, 3)
	for b.Loop() {
		if _, _, err := knn(context.Background(), X, 91, runtime.GOMAXPROCS(0)); err != nil {
			b.Fatal(err)
		}
	}
}
