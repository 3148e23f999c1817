package eval

import (
	"errors"
	"fmt"
	"math"
)

// Trustworthiness measures how far an embedding Y of the points X keeps
// local structure, as scikit-learn's sklearn.manifold.trustworthiness does
// (Euclidean metric):
//
//	T(k) = 1 − 2/(n k (2n − 3k − 1)) · Σ_i Σ_{j ∈ N_k^Y(i)} max(0, r(i, j) − k)
//
// where N_k^Y(i) are the k nearest neighbours of i in the embedding and
// r(i, j) is the rank of j among i's neighbours in the input space (1 for
// the nearest). Ranks are exact; equal distances are ranked by index (numpy's
// argsort leaves their order unspecified). T is 1 when every embedded
// neighbourhood is an input neighbourhood and falls towards 0 as they are
// replaced by far points. It is an error for k to be < 1 or >= n/2, for the
// lengths to differ, or for X's rows to differ in length. The cost is
// O(n²(d+k)) on one core: about 3.5 s for n = 10,000, d = 10, k = 10.
func Trustworthiness[S Float](X [][]S, Y [][2]float64, k int) (float64, error) {
	n := len(X)
	if n != len(Y) {
		return 0, fmt.Errorf("eval: trustworthiness: %d input points but %d embedded", n, len(Y))
	}
	if k < 1 || 2*k >= n {
		return 0, fmt.Errorf("eval: trustworthiness: k = %d, want 1 <= k < n/2 = %v", k, float64(n)/2)
	}
	d := len(X[0])
	for i, row := range X {
		if len(row) != d {
			return 0, fmt.Errorf("eval: trustworthiness: row %d has %d features, row 0 has %d", i, len(row), d)
		}
	}
	embNbr := knn2D(Y, k)
	dist := make([]float64, n)
	var t float64
	for i := range n {
		xi := X[i]
		for j := range n {
			var s float64
			for f, v := range X[j] {
				dv := float64(v) - float64(xi[f])
				s += dv * dv
			}
			dist[j] = s
		}
		for _, j := range embNbr[i*k : (i+1)*k] {
			// Rank of j: 1 + number of points l != i ahead of it.
			dj := dist[j]
			r := 1
			for l, dl := range dist {
				if l != i && (dl < dj || (dl == dj && l < int(j))) {
					r++
				}
			}
			if r > k {
				t += float64(r - k)
			}
		}
	}
	nf, kf := float64(n), float64(k)
	return 1 - t*2/(nf*kf*(2*nf-3*kf-1)), nil
}

// knn2D returns the k nearest other points of each 2-D point (nbr[i*k:
// (i+1)*k], nearest first, ties by index), by brute force.
func knn2D(Y [][2]float64, k int) []int32 {
	n := len(Y)
	nbr := make([]int32, n*k)
	h := make(neighborHeap, 0, k)
	for i := range n {
		h = h[:0]
		xi, yi := Y[i][0], Y[i][1]
		for j := range n {
			if j == i {
				continue
			}
			dx, dy := xi-Y[j][0], yi-Y[j][1]
			dd := dx*dx + dy*dy
			if len(h) < k {
				h.push(neighbor{dd, int32(j)})
			} else if dd < h[0].d {
				h.replaceTop(neighbor{dd, int32(j)})
			}
		}
		for m := k - 1; m >= 0; m-- {
			nbr[i*k+m] = h.pop().j
		}
	}
	return nbr
}

// NeighborAgreement returns the mean, over all points, of the fraction of a
// point's k nearest neighbours in the embedding Y that share its label: 1
// when classes form pure clusters, about Σ_c (n_c/n)² for a random layout.
// It quantifies how well a t-SNE plot separates the classes (for example
// after one epoch versus after training). It is an error for the lengths to
// differ or for k to be outside [1, n).
func NeighborAgreement(Y [][2]float64, labels []int, k int) (float64, error) {
	n := len(Y)
	if n != len(labels) {
		return 0, fmt.Errorf("eval: neighbour agreement: %d points but %d labels", n, len(labels))
	}
	if n < 2 {
		return 0, errors.New("eval: neighbour agreement: fewer than 2 points")
	}
	if k < 1 || k >= n {
		return 0, fmt.Errorf("eval: neighbour agreement: k = %d, want 1 <= k < %d", k, n)
	}
	for i, p := range Y {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) {
			return 0, fmt.Errorf("eval: neighbour agreement: point %d is NaN", i)
		}
	}
	nbr := knn2D(Y, k)
	same := 0
	for i := range n {
		for _, j := range nbr[i*k : (i+1)*k] {
			if labels[j] == labels[i] {
				same++
			}
		}
	}
	return float64(same) / float64(n*k), nil
}
