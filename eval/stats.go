package eval

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// TQuantile is the p-quantile of Student's t distribution with df degrees
// of freedom (NaN when df is not positive or p is outside (0, 1)).
func TQuantile(p, df float64) float64 {
	if !(df > 0) || !(p > 0 && p < 1) {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// tTwoSided is the two-sided p-value of a t statistic with df degrees of
// freedom.
func tTwoSided(t, df float64) float64 {
	if math.IsNaN(t) || !(df > 0) {
		return math.NaN()
	}
	if math.IsInf(t, 0) {
		return 0
	}
	return math.Min(1, 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(-math.Abs(t)))
}

// MeanCI is the mean of x and the half-width of its 95 % confidence
// interval from Student's t (mean ± half). With fewer than two values the
// half-width is NaN: one value says nothing about the spread. NaN values
// are not dropped; remove them first.
func MeanCI(x []float64) (mean, half float64) {
	mean, v := MeanVar(x)
	if len(x) < 2 {
		return mean, math.NaN()
	}
	return mean, TQuantile(0.975, float64(len(x)-1)) * math.Sqrt(v) / math.Sqrt(float64(len(x)))
}

// MeanVar is the mean of x and its sample variance (n − 1 in the
// denominator); the mean is NaN for no values and the variance NaN for
// fewer than two.
func MeanVar(x []float64) (mean, variance float64) {
	n := len(x)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, ss / float64(n-1)
}

// TTest is the result of a t-test of a difference in means.
type TTest struct {
	// Name says which test ("paired t-test", "Welch's t-test").
	Name string
	// N is the number of pairs (paired) or values per arm used; Dropped
	// counts the pairs left out because a side was NaN (a diverged run).
	N, Dropped int
	// Diff is the mean difference a − b and CI95 the half-width of its
	// 95 % confidence interval.
	Diff, CI95 float64
	// T is the statistic, DF its degrees of freedom, P the two-sided
	// p-value. All are NaN when there are too few values.
	T, DF, P float64
}

// PairedT tests whether a and b differ on average, pairing a[i] with b[i]
// (e.g. seed i of two settings). Pairs where either side is NaN are
// dropped and counted; the extra values of the longer slice are ignored.
// With identical differences the test is exact: P is 1 for no difference
// and 0 otherwise.
func PairedT(a, b []float64) TTest {
	r := TTest{Name: "paired t-test", T: math.NaN(), DF: math.NaN(), P: math.NaN(), CI95: math.NaN(), Diff: math.NaN()}
	var d []float64
	for i := range min(len(a), len(b)) {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			r.Dropped++
			continue
		}
		d = append(d, a[i]-b[i])
	}
	r.N = len(d)
	if r.N == 0 {
		return r
	}
	r.Diff, r.CI95 = MeanCI(d)
	if r.N < 2 {
		return r
	}
	r.DF = float64(r.N - 1)
	_, v := MeanVar(d)
	se := math.Sqrt(v) / math.Sqrt(float64(r.N))
	switch {
	case se > 0:
		r.T = r.Diff / se
	case r.Diff == 0:
		r.T = 0
	default:
		r.T = math.Copysign(math.Inf(1), r.Diff)
	}
	r.P = tTwoSided(r.T, r.DF)
	return r
}

// WelchT is Welch's unpaired t-test of mean(a) − mean(b), for arms that do
// not share their test set or seeds. NaN values are dropped (counted in
// Dropped); N is the smaller arm's size.
func WelchT(a, b []float64) TTest {
	r := TTest{Name: "Welch's t-test", T: math.NaN(), DF: math.NaN(), P: math.NaN(), CI95: math.NaN(), Diff: math.NaN()}
	clean := func(x []float64) []float64 {
		var out []float64
		for _, v := range x {
			if math.IsNaN(v) {
				r.Dropped++
				continue
			}
			out = append(out, v)
		}
		return out
	}
	a, b = clean(a), clean(b)
	r.N = min(len(a), len(b))
	if r.N == 0 {
		return r
	}
	ma, va := MeanVar(a)
	mb, vb := MeanVar(b)
	r.Diff = ma - mb
	if r.N < 2 {
		return r
	}
	va, vb = va/float64(len(a)), vb/float64(len(b))
	se := math.Sqrt(va + vb)
	if se == 0 {
		r.DF = float64(len(a) + len(b) - 2)
		if r.Diff == 0 {
			r.T = 0
		} else {
			r.T = math.Copysign(math.Inf(1), r.Diff)
		}
	} else {
		r.T = r.Diff / se
		r.DF = (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	}
	r.CI95 = TQuantile(0.975, r.DF) * se
	r.P = tTwoSided(r.T, r.DF)
	return r
}

// McNemar is McNemar's exact test on two classifiers scored on the same
// test set: b counts the images only the first got right, c those only
// the second got right. It returns the two-sided p-value of the binomial
// test of b against Binomial(b+c, 1/2) (1 when b+c is 0): whether these
// two trained models differ in accuracy on this test set.
func McNemar(b, c int) float64 {
	if b < 0 || c < 0 {
		return math.NaN()
	}
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	var cdf float64
	for i := 0; i <= k; i++ {
		cdf += math.Exp(lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*cdf)
}

// Discordant counts, over the images both slices cover, those only a got
// right (b) and those only b got right (c): McNemar's b and c.
func Discordant(a, b []bool) (onlyA, onlyB int) {
	for i := range min(len(a), len(b)) {
		switch {
		case a[i] && !b[i]:
			onlyA++
		case b[i] && !a[i]:
			onlyB++
		}
	}
	return onlyA, onlyB
}

// TwoProportionZ tests whether k1 of n1 and k2 of n2 are the same
// proportion (pooled two-sided z-test), for one run each on two different
// test sets. It returns the difference k1/n1 − k2/n2, z and the p-value.
func TwoProportionZ(k1, n1, k2, n2 int) (diff, z, p float64) {
	if n1 <= 0 || n2 <= 0 || k1 < 0 || k2 < 0 || k1 > n1 || k2 > n2 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	diff = p1 - p2
	pool := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return diff, 0, 1
	}
	z = diff / se
	return diff, z, math.Min(1, 2*distuv.UnitNormal.CDF(-math.Abs(z)))
}

// Holm adjusts p-values for multiple comparisons (Holm–Bonferroni): the
// i-th smallest of m is multiplied by m−i (i from 0), made monotone and
// capped at 1. A NaN p-value stays NaN and does not count in m.
func Holm(p []float64) []float64 {
	adj := make([]float64, len(p))
	var idx []int
	for i, v := range p {
		if math.IsNaN(v) {
			adj[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		switch {
		case p[i] < p[j]:
			return -1
		case p[i] > p[j]:
			return 1
		}
		return 0
	})
	m := len(idx)
	run := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*p[i])
		run = math.Max(run, v)
		adj[i] = run
	}
	return adj
}
