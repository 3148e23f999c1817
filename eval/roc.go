package eval

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Float is the element type of score and feature slices: float32 or float64.
type Float interface {
	~float32 | ~float64
}

// Curve is a receiver operating characteristic curve.
//
// The points are ordered by decreasing threshold; the first point is (0, 0)
// at threshold +Inf, and each further point is the (FPR, TPR) obtained by
// calling positive every score >= Thresholds[i], one point per distinct
// score, as scikit-learn's roc_curve(drop_intermediate=False) does. Tied
// scores therefore move the curve diagonally in one step. For the
// macro-average curve, which is not built from thresholds, Thresholds is nil.
// Its JSON form (NaN and infinities as null) is in roc_json.go.
type Curve struct {
	// FPR is the false positive rate at each threshold.
	FPR []float64
	// TPR is the true positive rate (recall) at each threshold.
	TPR []float64
	// Thresholds holds the score threshold of each point (+Inf first).
	Thresholds []float64
	// AUC is the area under the curve by the trapezoid rule. It is NaN when
	// the curve is undefined: no positives (TPR undefined) or no negatives
	// (FPR undefined).
	AUC float64
	// Positives counts the positive samples behind the curve.
	Positives int
	// Negatives counts the negative samples behind the curve.
	Negatives int
}

// ROCResult holds one-vs-rest ROC curves of a multi-class classifier. Its
// JSON form is in roc_json.go.
type ROCResult struct {
	// PerClass holds class c's curve (class c positive, all others negative)
	// at index c.
	PerClass []Curve
	// Micro is the curve of all (sample, class) pairs pooled: the pair is
	// positive when the sample's class is that class, and its score is the
	// sample's score for that class.
	Micro Curve
	// Macro averages the per-class curves as scikit-learn's documentation
	// example does: every class's TPR is linearly interpolated at the union
	// of all classes' FPR values, the interpolated TPRs are averaged, and AUC
	// is the trapezoid area of that mean curve. At an FPR where a curve
	// rises vertically the interpolation takes its highest TPR (numpy.interp's
	// rule), so the area can exceed the mean of the AUCs, markedly for curves
	// below the diagonal (a fully reversed classifier gives 0.5). Classes whose
	// AUC is NaN (no positives or no negatives) are left out. If every class
	// is left out the curve is empty and its AUC is NaN.
	Macro Curve
	// MacroAUC is the mean of the per-class AUCs that are not NaN (what
	// scikit-learn's roc_auc_score(average="macro", multi_class="ovr")
	// returns). It is usually close to, but not the same as, Macro.AUC.
	MacroAUC float64
}

// BinaryROC returns the ROC curve of scores against the binary truth
// positive (true for the positive class). Scores are ordered by decreasing
// value; equal scores share one threshold and form one point. NaN scores are
// an error. The AUC is NaN when there are no positives or no negatives; the
// FPR (respectively TPR) values are then NaN too, as scikit-learn returns
// them (with a warning).
func BinaryROC[S Float](scores []S, positive []bool) (Curve, error) {
	if len(scores) != len(positive) {
		return Curve{}, fmt.Errorf("eval: roc: %d scores but %d labels", len(scores), len(positive))
	}
	if len(scores) == 0 {
		return Curve{}, errors.New("eval: roc: no samples")
	}
	idx := make([]int32, len(scores))
	for i := range idx {
		if math.IsNaN(float64(scores[i])) {
			return Curve{}, fmt.Errorf("eval: roc: score %d is NaN", i)
		}
		idx[i] = int32(i)
	}
	// Decreasing score; the order among ties does not matter because a tie
	// group is consumed whole.
	slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(scores[b], scores[a]) })
	return rocFromSorted(len(idx), func(k int) (float64, bool) {
		i := idx[k]
		return float64(scores[i]), positive[i]
	}), nil
}

// rocFromSorted builds the curve from n samples given in decreasing score
// order by at(k).
func rocFromSorted(n int, at func(k int) (score float64, pos bool)) Curve {
	var c Curve
	tps, fps := []int{0}, []int{0}
	c.Thresholds = []float64{math.Inf(1)}
	tp, fp := 0, 0
	for k := 0; k < n; {
		s, _ := at(k)
		for ; k < n; k++ {
			sk, pk := at(k)
			if sk != s {
				break
			}
			if pk {
				tp++
			} else {
				fp++
			}
		}
		tps = append(tps, tp)
		fps = append(fps, fp)
		c.Thresholds = append(c.Thresholds, s)
	}
	c.Positives, c.Negatives = tp, fp
	c.TPR = make([]float64, len(tps))
	c.FPR = make([]float64, len(fps))
	for i := range tps {
		c.TPR[i] = rate(tps[i], tp)
		c.FPR[i] = rate(fps[i], fp)
	}
	c.AUC = math.NaN()
	if tp > 0 && fp > 0 {
		c.AUC = Trapezoid(c.FPR, c.TPR)
	}
	return c
}

// rate returns a/b, or NaN when b is 0.
func rate(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// Trapezoid returns the area under the piecewise-linear curve through the
// points (x[i], y[i]) by the trapezoid rule, taking the points in the given
// order (x must be monotonic for the result to be an area). It returns NaN
// when the lengths differ or any value is NaN, and 0 for fewer than two
// points.
func Trapezoid(x, y []float64) float64 {
	if len(x) != len(y) {
		return math.NaN()
	}
	var a float64
	for i := 1; i < len(x); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return a
}

// ROC computes one-vs-rest ROC curves of a classifier with classes classes:
// yTrue[i] is sample i's class in [0, classes) and scores[i] its classes
// scores (probabilities or logits; only their order matters). It returns the
// per-class curves, the micro average and the macro average; see ROCResult.
// A class with no positive sample has a curve with NaN TPR and NaN AUC and is
// skipped by the macro average.
func ROC[S Float](yTrue []int, scores [][]S, classes int) (ROCResult, error) {
	if classes < 2 {
		return ROCResult{}, fmt.Errorf("eval: roc: classes = %d, want >= 2", classes)
	}
	n := len(yTrue)
	if n != len(scores) {
		return ROCResult{}, fmt.Errorf("eval: roc: %d labels but %d score rows", n, len(scores))
	}
	if n == 0 {
		return ROCResult{}, errors.New("eval: roc: no samples")
	}
	if err := checkLabels("yTrue", yTrue, classes); err != nil {
		return ROCResult{}, fmt.Errorf("roc: %w", err)
	}
	for i, row := range scores {
		if len(row) != classes {
			return ROCResult{}, fmt.Errorf("eval: roc: score row %d has %d entries, want %d", i, len(row), classes)
		}
		for c, v := range row {
			if math.IsNaN(float64(v)) {
				return ROCResult{}, fmt.Errorf("eval: roc: score[%d][%d] is NaN", i, c)
			}
		}
	}
	var res ROCResult
	res.PerClass = make([]Curve, classes)
	col := make([]S, n)
	pos := make([]bool, n)
	for c := range classes {
		for i := range n {
			col[i] = scores[i][c]
			pos[i] = yTrue[i] == c
		}
		cv, err := BinaryROC(col, pos)
		if err != nil {
			return ROCResult{}, fmt.Errorf("roc class %d: %w", c, err)
		}
		res.PerClass[c] = cv
	}

	// Micro average: n*classes pairs sorted by decreasing score.
	pairs := make([]int32, n*classes)
	for k := range pairs {
		pairs[k] = int32(k)
	}
	pairScore := func(k int32) float64 { return float64(scores[int(k)/classes][int(k)%classes]) }
	slices.SortFunc(pairs, func(a, b int32) int { return cmp.Compare(pairScore(b), pairScore(a)) })
	res.Micro = rocFromSorted(len(pairs), func(k int) (float64, bool) {
		p := int(pairs[k])
		return pairScore(pairs[k]), yTrue[p/classes] == p%classes
	})

	res.Macro, res.MacroAUC = macroAverage(res.PerClass)
	return res, nil
}

// macroAverage interpolates the defined curves at the union of their FPRs
// and averages them (scikit-learn's documentation recipe), and also returns
// the mean of their AUCs.
func macroAverage(curves []Curve) (Curve, float64) {
	var grid []float64
	var used []Curve
	var aucSum float64
	for _, c := range curves {
		if math.IsNaN(c.AUC) {
			continue
		}
		used = append(used, c)
		aucSum += c.AUC
		grid = append(grid, c.FPR...)
	}
	if len(used) == 0 {
		return Curve{AUC: math.NaN()}, math.NaN()
	}
	slices.Sort(grid)
	grid = slices.Compact(grid)
	mean := make([]float64, len(grid))
	var p, q int
	for _, c := range used {
		for i, x := range grid {
			mean[i] += interp(x, c.FPR, c.TPR)
		}
		p += c.Positives
		q += c.Negatives
	}
	for i := range mean {
		mean[i] /= float64(len(used))
	}
	return Curve{FPR: grid, TPR: mean, AUC: Trapezoid(grid, mean), Positives: p, Negatives: q},
		aucSum / float64(len(used))
}

// interp evaluates at x the piecewise-linear function through (xp[i], fp[i]),
// xp non-decreasing, as numpy.interp does: where xp repeats a value, the
// function takes the value of its last occurrence (for a ROC curve, the
// highest TPR at that FPR); outside [xp[0], xp[len-1]] it is constant.
func interp(x float64, xp, fp []float64) float64 {
	n := len(xp)
	if x < xp[0] {
		return fp[0]
	}
	if x >= xp[n-1] {
		return fp[n-1]
	}
	// j = last index with xp[j] <= x; j < n-1 here.
	j := sort0(xp, x)
	if xp[j] == x {
		return fp[j]
	}
	return fp[j] + (fp[j+1]-fp[j])*(x-xp[j])/(xp[j+1]-xp[j])
}

// sort0 returns the last index j with xp[j] <= x, given xp[0] <= x.
func sort0(xp []float64, x float64) int {
	lo, hi := 0, len(xp) // xp[lo] <= x, xp[hi] > x (hi may be len)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if xp[mid] <= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
