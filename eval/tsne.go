package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// Init selects how TSNE places the points before optimising.
type Init int

const (
	// InitPCA starts from the projection on the first two principal
	// components, scaled so that the first coordinate has standard deviation
	// 1e-4 (scikit-learn's default since 1.2). It uses no randomness.
	InitPCA Init = iota
	// InitRandom starts from independent Gaussian coordinates with standard
	// deviation 1e-4 drawn from Options.Seed.
	InitRandom
)

// Options configures TSNE. The zero value gives the defaults noted on each
// field.
type Options struct {
	// Perplexity is the effective number of neighbours of each point
	// (default 30). Each point's input similarities are calibrated on its
	// min(n-1, floor(3*Perplexity+1)) nearest neighbours; when n is too small
	// for that, Perplexity is lowered to (n-1)/3.
	Perplexity float64
	// Iterations is the total number of gradient steps (default 1000),
	// the first min(EarlyIterations, Iterations) of them with early
	// exaggeration and momentum 0.5, the rest with momentum 0.8.
	Iterations int
	// Theta is the Barnes-Hut accuracy (default 0.5): a quadtree cell of
	// side w at distance r from a point is summarised by its centre of mass
	// when w < Theta*r. Larger is faster and coarser; values above about 0.7
	// let a cell include the point itself. A negative Theta selects the exact
	// O(n²) gradient, for small n and for tests.
	Theta float64
	// Seed seeds the random initialisation (Init == InitRandom). Results are
	// deterministic for given inputs and options, whatever Threads is.
	Seed uint64
	// Threads is the number of goroutines used for the neighbour search and
	// the gradient (default runtime.GOMAXPROCS(0)).
	Threads int
	// Progress, if not nil, is called after iterations 50, 100, ... and after
	// the last one, with the 1-based iteration number and the KL divergence
	// KL(P||Q) of the embedding at that step (with the true, unexaggerated P;
	// Q's normalisation is the Barnes-Hut estimate). It is called from the
	// goroutine that called TSNE.
	Progress func(iter int, kl float64)
	// Init selects the initial layout (default InitPCA).
	Init Init
	// LearningRate is the gradient step (default max(n/EarlyExaggeration/4,
	// 50), the "auto" rule of scikit-learn and openTSNE).
	LearningRate float64
	// EarlyExaggeration multiplies P during the early iterations (default
	// 12).
	EarlyExaggeration float64
	// EarlyIterations is the number of exaggerated iterations (default 250).
	EarlyIterations int
}

const (
	// chunkSize is the number of points a worker takes at a time. Partial
	// sums are kept per chunk and added in chunk order, so results do not
	// depend on the number of threads.
	chunkSize = 128
	// progressEvery is the iteration interval of Options.Progress.
	progressEvery = 50
	// minGain is the floor of the delta-bar-delta gains.
	minGain = 0.01
	// initStd is the standard deviation of the initial layout.
	initStd = 1e-4
	// machineEps is the floor of the joint probabilities (scikit-learn's
	// MACHINE_EPSILON for float64).
	machineEps = 2.220446049250313e-16
)

// withDefaults fills in the zero fields of o for n points.
func (o Options) withDefaults(n int) (Options, error) {
	if o.Perplexity == 0 {
		o.Perplexity = 30
	}
	if o.Iterations == 0 {
		o.Iterations = 1000
	}
	if o.Theta == 0 {
		o.Theta = 0.5
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	if o.EarlyExaggeration == 0 {
		o.EarlyExaggeration = 12
	}
	if o.EarlyIterations == 0 {
		o.EarlyIterations = 250
	}
	if o.LearningRate == 0 {
		o.LearningRate = math.Max(float64(n)/o.EarlyExaggeration/4, 50)
	}
	switch {
	case !(o.Perplexity > 0) || math.IsInf(o.Perplexity, 0):
		return o, fmt.Errorf("perplexity %v, want > 0", o.Perplexity)
	case o.Iterations < 0:
		return o, fmt.Errorf("iterations %d, want > 0", o.Iterations)
	case math.IsNaN(o.Theta):
		return o, errors.New("theta is NaN")
	case !(o.EarlyExaggeration > 0):
		return o, fmt.Errorf("early exaggeration %v, want > 0", o.EarlyExaggeration)
	case o.EarlyIterations < 0:
		return o, fmt.Errorf("early iterations %d, want >= 0", o.EarlyIterations)
	case !(o.LearningRate > 0):
		return o, fmt.Errorf("learning rate %v, want > 0", o.LearningRate)
	case o.Init != InitPCA && o.Init != InitRandom:
		return o, fmt.Errorf("unknown init %d", o.Init)
	}
	if maxPerp := float64(n-1) / 3; o.Perplexity > maxPerp {
		o.Perplexity = maxPerp
	}
	return o, nil
}

// TSNE embeds the rows of X (n points of d features) in two dimensions with
// Barnes-Hut t-SNE (van der Maaten 2014) and returns the n positions.
//
// Input similarities: for each point, the exact k = min(n-1,
// floor(3*Perplexity+1)) nearest neighbours by Euclidean distance (parallel
// brute force), a Gaussian kernel whose bandwidth is found by binary search so
// that the conditional distribution has the given perplexity, then the joint
// P = (P_cond + P_condᵀ) / sum, a sparse symmetric matrix summing to 1.
//
// Optimisation follows scikit-learn's Barnes-Hut TSNE: gradient
// 4 Σ_j (exag·P_ij − q_ij/Z) q_ij (y_i − y_j) with q_ij = 1/(1+|y_i−y_j|²),
// the repulsion from a quadtree, momentum 0.5 and then 0.8, delta-bar-delta
// gains (+0.2 when the step's sign flips, ×0.8 otherwise, at least 0.01),
// and no early stopping. The result is deterministic for given X and Options,
// independent of Threads. TSNE returns ctx.Err() if ctx is cancelled (checked
// between iterations).
//
// It is an error for X to have fewer than 2 rows, rows of different or zero
// length, or non-finite values.
func TSNE(ctx context.Context, X [][]float32, opts Options) ([][2]float64, error) {
	o, P, y, err := prepare(ctx, X, opts, knn)
	if err != nil {
		return nil, err
	}
	n := len(X)
	opt := newOptimizer(P, y, o)
	defer opt.close()
	for it := range o.Iterations {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("eval: tsne: iteration %d: %w", it, err)
		}
		report := o.Progress != nil && ((it+1)%progressEvery == 0 || it == o.Iterations-1)
		kl := opt.step(it, report)
		if report {
			o.Progress(it+1, kl)
		}
	}
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{y[2*i], y[2*i+1]}
	}
	return out, nil
}

// neighborFunc finds each point's k nearest other points as knn does.
type neighborFunc func(ctx context.Context, X [][]float32, k, threads int) ([]int32, []float64, error)

// prepare checks X and opts and returns the options with their defaults,
// the joint probabilities P (from the neighbours nn finds) and the initial
// layout: everything TSNE and TSNEOn do before the gradient descent.
func prepare(ctx context.Context, X [][]float32, opts Options, nn neighborFunc) (Options, sparseP, []float64, error) {
	n := len(X)
	if n < 2 {
		return Options{}, sparseP{}, nil, fmt.Errorf("eval: tsne: %d points, want at least 2", n)
	}
	d := len(X[0])
	if d == 0 {
		return Options{}, sparseP{}, nil, errors.New("eval: tsne: points have no features")
	}
	for i, row := range X {
		if len(row) != d {
			return Options{}, sparseP{}, nil, fmt.Errorf("eval: tsne: row %d has %d features, row 0 has %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Options{}, sparseP{}, nil, fmt.Errorf("eval: tsne: X[%d][%d] = %v is not finite", i, j, v)
			}
		}
	}
	o, err := opts.withDefaults(n)
	if err != nil {
		return Options{}, sparseP{}, nil, fmt.Errorf("eval: tsne: %w", err)
	}

	k := min(n-1, int(3*o.Perplexity+1))
	nbr, dist2, err := nn(ctx, X, k, o.Threads)
	if err != nil {
		return Options{}, sparseP{}, nil, fmt.Errorf("eval: tsne: neighbours: %w", err)
	}
	condP := make([]float64, len(dist2))
	calibrate(dist2, condP, n, k, o.Perplexity, o.Threads)
	P := symmetrizeThreads(nbr, condP, n, k, o.Threads)

	var y []float64
	if o.Init == InitPCA {
		y = pcaInit(X, o.Seed)
	} else {
		y = randomInit(n, o.Seed)
	}
	return o, P, y, nil
}

// parallelFor calls fn(c) for c in [0, chunks) on threads goroutines.
func parallelFor(threads, chunks int, fn func(c int)) {
	if threads <= 1 || chunks <= 1 {
		for c := range chunks {
			fn(c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(threads, chunks) {
		wg.Go(func() {
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				fn(c)
			}
		})
	}
	wg.Wait()
}

// chunks returns the number of chunkSize chunks covering n items.
func chunks(n int) int { return (n + chunkSize - 1) / chunkSize }

// sqDist32 returns the squared Euclidean distance of a and b (same length).
func sqDist32(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	b = b[:len(a)]
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// knn returns, for each of the n points, its k nearest other points
// (nbr[i*k:(i+1)*k], nearest first, ties by index) and their squared
// distances, by parallel brute force.
func knn(ctx context.Context, X [][]float32, k, threads int) ([]int32, []float64, error) {
	n := len(X)
	nbr := make([]int32, n*k)
	dist2 := make([]float64, n*k)
	var cancelled atomic.Bool
	parallelFor(threads, chunks(n), func(c int) {
		if cancelled.Load() {
			return
		}
		if ctx.Err() != nil {
			cancelled.Store(true)
			return
		}
		h := make(neighborHeap, 0, k)
		for i := c * chunkSize; i < min(n, (c+1)*chunkSize); i++ {
			h = h[:0]
			xi := X[i]
			for j := range n {
				if j == i {
					continue
				}
				dd := float64(sqDist32(xi, X[j]))
				if len(h) < k {
					h.push(neighbor{dd, int32(j)})
				} else if dd < h[0].d {
					h.replaceTop(neighbor{dd, int32(j)})
				}
			}
			// Pop in decreasing order into the row from the back.
			for m := k - 1; m >= 0; m-- {
				nb := h.pop()
				nbr[i*k+m] = nb.j
				dist2[i*k+m] = nb.d
			}
		}
	})
	if cancelled.Load() {
		return nil, nil, ctx.Err()
	}
	return nbr, dist2, nil
}

// neighbor is a candidate neighbour: squared distance and index.
type neighbor struct {
	d float64
	j int32
}

// less orders neighbours by distance, then index.
func (a neighbor) less(b neighbor) bool { return a.d < b.d || (a.d == b.d && a.j < b.j) }

// neighborHeap is a max-heap of neighbours (the farthest on top). Indices are
// visited in increasing order, so a strict "<" against the top keeps the
// lower index among equal distances.
type neighborHeap []neighbor

func (h *neighborHeap) push(x neighbor) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[p].less(s[i]) {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h neighborHeap) replaceTop(x neighbor) {
	h[0] = x
	h.down(0)
}

func (h neighborHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[l].less(h[r]) {
			m = r
		}
		if !h[i].less(h[m]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *neighborHeap) pop() neighbor {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	(*h).down(0)
	return top
}

// calibrate fills condP[i*k:(i+1)*k] with the conditional probabilities
// p_{j|i} ∝ exp(-beta_i d²_ij) over i's k neighbours, with beta_i found by
// binary search so that the entropy is log(perplexity) (scikit-learn's
// _binary_search_perplexity, with distances shifted by their minimum to
// avoid underflow, which leaves the distribution unchanged).
func calibrate(dist2, condP []float64, n, k int, perplexity float64, threads int) {
	const (
		steps = 200
		tol   = 1e-5
	)
	want := math.Log(perplexity)
	parallelFor(threads, chunks(n), func(c int) {
		for i := c * chunkSize; i < min(n, (c+1)*chunkSize); i++ {
			d := dist2[i*k : (i+1)*k]
			p := condP[i*k : (i+1)*k]
			d0 := d[0]
			beta, lo, hi := 1.0, math.Inf(-1), math.Inf(1)
			// Start at a scale suited to the distances.
			var spread float64
			for _, v := range d {
				spread += v - d0
			}
			if spread > 0 {
				beta = float64(k) / spread
			}
			for range steps {
				var sum float64
				for j, v := range d {
					p[j] = math.Exp(-(v - d0) * beta)
					sum += p[j]
				}
				var sd float64
				for j, v := range d {
					p[j] /= sum
					sd += (v - d0) * p[j]
				}
				diff := math.Log(sum) + beta*sd - want
				if math.Abs(diff) <= tol {
					break
				}
				if diff > 0 {
					lo = beta
					if math.IsInf(hi, 1) {
						beta *= 2
					} else {
						beta = (beta + hi) / 2
					}
				} else {
					hi = beta
					if math.IsInf(lo, -1) {
						beta /= 2
					} else {
						beta = (beta + lo) / 2
					}
				}
			}
		}
	})
}

// sparseP is a symmetric sparse matrix in compressed-row form.
type sparseP struct {
	rowStart []int32   // n+1 offsets into col and val
	col      []int32   // column of each entry
	val      []float64 // value of each entry
}

// symmetrizeThreads returns P = (C + Cᵀ) / sum(C + Cᵀ) where row i of C holds
// condP[i*k:(i+1)*k] at columns nbr[i*k:(i+1)*k]; entries are floored at
// machine epsilon as scikit-learn does, and each row is sorted by column.
// The rows are sorted and merged on threads goroutines; the result does
// not depend on threads.
func symmetrizeThreads(nbr []int32, condP []float64, n, k, threads int) sparseP {
	// Count entries per row: i's neighbours and points having i as neighbour.
	cnt := make([]int32, n+1)
	for i := range n {
		cnt[i+1] += int32(k)
		for _, j := range nbr[i*k : (i+1)*k] {
			cnt[j+1]++
		}
	}
	for i := range n {
		cnt[i+1] += cnt[i]
	}
	fill := make([]int32, n)
	copy(fill, cnt[:n])
	col := make([]int32, cnt[n])
	val := make([]float64, cnt[n])
	for i := range n {
		for m, j := range nbr[i*k : (i+1)*k] {
			p := condP[i*k+m]
			col[fill[i]], val[fill[i]] = j, p
			fill[i]++
			col[fill[j]], val[fill[j]] = int32(i), p
			fill[j]++
		}
	}
	// Sort each row by column and merge duplicates (i→j and j→i both kNN)
	// in place, at the start of the row's segment; fill[i] becomes the
	// number of distinct entries of row i.
	parallelFor(threads, chunks(n), func(c int) {
		for i := c * chunkSize; i < min(n, (c+1)*chunkSize); i++ {
			s, e := cnt[i], cnt[i+1]
			sortRow(col[s:e], val[s:e])
			w := s
			for m := s; m < e; m++ {
				if m > s && col[m] == col[w-1] {
					val[w-1] += val[m]
					continue
				}
				col[w], val[w] = col[m], val[m]
				w++
			}
			fill[i] = w - s
		}
	})
	// Close the gaps between rows.
	out := sparseP{rowStart: make([]int32, n+1)}
	w := int32(0)
	for i := range n {
		out.rowStart[i] = w
		s := cnt[i]
		copy(col[w:], col[s:s+fill[i]])
		copy(val[w:], val[s:s+fill[i]])
		w += fill[i]
	}
	out.rowStart[n] = w
	out.col, out.val = col[:w], val[:w]
	var total float64
	for _, v := range out.val {
		total += v
	}
	total = math.Max(total, machineEps)
	for m := range out.val {
		out.val[m] = math.Max(out.val[m]/total, machineEps)
	}
	return out
}

// sortRow sorts col (and val alongside) by column with insertion sort; rows
// are short (about 2k entries at most).
func sortRow(col []int32, val []float64) {
	for i := 1; i < len(col); i++ {
		c, v := col[i], val[i]
		j := i - 1
		for ; j >= 0 && col[j] > c; j-- {
			col[j+1], val[j+1] = col[j], val[j]
		}
		col[j+1], val[j+1] = c, v
	}
}

// pcaInit returns the n points projected on their first two principal
// components (each component's sign chosen so that its largest loading is
// positive), scaled so that the first coordinate has standard deviation
// 1e-4. Degenerate data (fewer than two features or no variance) falls back
// to a random layout from seed.
func pcaInit(X [][]float32, seed uint64) []float64 {
	n, d := len(X), len(X[0])
	if d < 2 {
		return randomInit(n, seed)
	}
	mean := make([]float64, d)
	for _, row := range X {
		for j, v := range row {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	cov := mat.NewSymDense(d, nil)
	xc := make([]float64, d)
	raw := cov.RawSymmetric().Data
	for _, row := range X {
		for j, v := range row {
			xc[j] = float64(v) - mean[j]
		}
		for a := range d {
			xa := xc[a]
			if xa == 0 {
				continue
			}
			r := raw[a*d : (a+1)*d]
			for b := a; b < d; b++ {
				r[b] += xa * xc[b]
			}
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return randomInit(n, seed)
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	comp := make([][]float64, 2)
	for c := range 2 {
		col := d - 1 - c // eigenvalues ascend
		v := make([]float64, d)
		big := 0
		for j := range d {
			v[j] = vec.At(j, col)
			if math.Abs(v[j]) > math.Abs(v[big]) {
				big = j
			}
		}
		if v[big] < 0 {
			for j := range v {
				v[j] = -v[j]
			}
		}
		comp[c] = v
	}
	y := make([]float64, 2*n)
	var ss float64
	for i, row := range X {
		for c := range 2 {
			var s float64
			for j, v := range row {
				s += (float64(v) - mean[j]) * comp[c][j]
			}
			y[2*i+c] = s
		}
		ss += y[2*i] * y[2*i]
	}
	std := math.Sqrt(ss / float64(n)) // the projections have mean 0
	if !(std > 0) {
		return randomInit(n, seed)
	}
	for i := range y {
		y[i] *= initStd / std
	}
	return y
}

// randomInit returns n Gaussian points with standard deviation 1e-4.
func randomInit(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	y := make([]float64, 2*n)
	for i := range y {
		y[i] = initStd * r.NormFloat64()
	}
	return y
}
