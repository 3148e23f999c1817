package eval

import (
	"errors"
	"fmt"
)

// ClassMetrics holds the one-class scores of a Report.
type ClassMetrics struct {
	// Class is the class index, 0 to classes-1.
	Class int `json:"class"`
	// Precision is TP/(TP+FP), or 0 when the class is never predicted.
	Precision float64 `json:"precision"`
	// Recall is TP/(TP+FN), or 0 when the class never occurs in yTrue.
	Recall float64 `json:"recall"`
	// F1 is the harmonic mean of precision and recall, 2TP/(2TP+FP+FN),
	// or 0 when TP+FP+FN is 0.
	F1 float64 `json:"f1"`
	// Support is the number of samples whose true class is Class.
	Support int `json:"support"`
	// Predicted is the number of samples predicted as Class (TP+FP).
	Predicted int `json:"predicted"`
}

// Report is the classification report of one set of predictions, shaped for
// a run's metrics.json.
//
// The averages follow scikit-learn's precision_recall_fscore_support:
//   - macro averages are the unweighted means over the classes that occur in
//     yTrue or in yPred (scikit-learn's default labels); a class that occurs in
//     neither is reported in PerClass with zeros but is left out of the mean;
//   - weighted averages weight each class by its support.
//
// WeightedRecall always equals Accuracy (sum of TP over the number of
// samples). It is the "Recall Score" that the course report prints next to
// its accuracy (scikit-learn's recall_score with average="weighted"), which is
// why those two numbers are identical there; its "F1 Score" is WeightedF1.
type Report struct {
	// Samples is the number of predictions evaluated.
	Samples int `json:"samples"`
	// Accuracy is the fraction of predictions equal to the true class.
	Accuracy float64 `json:"accuracy"`
	// MacroPrecision is the unweighted mean of the per-class precisions.
	MacroPrecision float64 `json:"macro_precision"`
	// MacroRecall is the unweighted mean of the per-class recalls.
	MacroRecall float64 `json:"macro_recall"`
	// MacroF1 is the unweighted mean of the per-class F1 scores.
	MacroF1 float64 `json:"macro_f1"`
	// WeightedPrecision is the support-weighted mean of the precisions.
	WeightedPrecision float64 `json:"weighted_precision"`
	// WeightedRecall is the support-weighted mean of the recalls; it equals
	// Accuracy.
	WeightedRecall float64 `json:"weighted_recall"`
	// WeightedF1 is the support-weighted mean of the F1 scores.
	WeightedF1 float64 `json:"weighted_f1"`
	// PerClass holds one entry per class, in class order.
	PerClass []ClassMetrics `json:"per_class"`
	// Confusion is the confusion matrix, Confusion[true][predicted].
	Confusion [][]int `json:"confusion"`
}

// checkLabels validates a label slice against the number of classes.
func checkLabels(name string, y []int, classes int) error {
	for i, c := range y {
		if c < 0 || c >= classes {
			return fmt.Errorf("eval: %s[%d] = %d is outside [0, %d)", name, i, c, classes)
		}
	}
	return nil
}

// ConfusionMatrix counts predictions by class: m[t][p] is the number of
// samples whose true class is t and whose predicted class is p. Labels must
// lie in [0, classes).
func ConfusionMatrix(yTrue, yPred []int, classes int) ([][]int, error) {
	if classes <= 0 {
		return nil, fmt.Errorf("eval: confusion matrix: classes = %d, want > 0", classes)
	}
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("eval: confusion matrix: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	if err := checkLabels("yTrue", yTrue, classes); err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	if err := checkLabels("yPred", yPred, classes); err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	flat := make([]int, classes*classes)
	m := make([][]int, classes)
	for t := range m {
		m[t] = flat[t*classes : (t+1)*classes : (t+1)*classes]
	}
	for i, t := range yTrue {
		m[t][yPred[i]]++
	}
	return m, nil
}

// Accuracy returns the fraction of positions where yPred equals yTrue. It is
// an error for the slices to differ in length or to be empty.
func Accuracy(yTrue, yPred []int) (float64, error) {
	if len(yTrue) != len(yPred) {
		return 0, fmt.Errorf("eval: accuracy: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return 0, errors.New("eval: accuracy: no samples")
	}
	ok := 0
	for i, t := range yTrue {
		if yPred[i] == t {
			ok++
		}
	}
	return float64(ok) / float64(len(yTrue)), nil
}

// ratio returns a/b, or 0 when b is 0 (scikit-learn's zero_division=0 result,
// without its warning).
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Evaluate computes the classification report of predictions yPred against
// true labels yTrue for classes classes (labels in [0, classes)). Zero
// divisions give 0 as scikit-learn's default does: a class that is never
// predicted has precision 0, one that never occurs has recall 0. It is an
// error for the slices to differ in length, to be empty, or to hold a label
// outside [0, classes).
func Evaluate(yTrue, yPred []int, classes int) (Report, error) {
	if len(yTrue) == 0 && len(yPred) == 0 {
		return Report{}, errors.New("eval: evaluate: no samples")
	}
	m, err := ConfusionMatrix(yTrue, yPred, classes)
	if err != nil {
		return Report{}, fmt.Errorf("evaluate: %w", err)
	}
	return ReportFromConfusion(m)
}

// ReportFromConfusion computes the classification report from a square
// confusion matrix m[true][pred] (as ConfusionMatrix returns), which it keeps
// in the report without copying. It is an error for m to be empty, not
// square, to hold a negative count or to count no samples at all.
func ReportFromConfusion(m [][]int) (Report, error) {
	classes := len(m)
	if classes == 0 {
		return Report{}, errors.New("eval: report: empty confusion matrix")
	}
	n := 0
	for t, row := range m {
		if len(row) != classes {
			return Report{}, fmt.Errorf("eval: report: confusion row %d has %d entries, want %d", t, len(row), classes)
		}
		for p, v := range row {
			if v < 0 {
				return Report{}, fmt.Errorf("eval: report: confusion[%d][%d] = %d is negative", t, p, v)
			}
			n += v
		}
	}
	if n == 0 {
		return Report{}, errors.New("eval: report: confusion matrix counts no samples")
	}
	r := Report{Samples: n, PerClass: make([]ClassMetrics, classes), Confusion: m}
	correct, present := 0, 0
	for c := range classes {
		tp, support, predicted := m[c][c], 0, 0
		for k := range classes {
			support += m[c][k]
			predicted += m[k][c]
		}
		correct += tp
		cm := ClassMetrics{
			Class:     c,
			Precision: ratio(tp, predicted),
			Recall:    ratio(tp, support),
			F1:        ratio(2*tp, support+predicted),
			Support:   support,
			Predicted: predicted,
		}
		r.PerClass[c] = cm
		if support > 0 || predicted > 0 {
			present++
			r.MacroPrecision += cm.Precision
			r.MacroRecall += cm.Recall
			r.MacroF1 += cm.F1
		}
		w := float64(support)
		r.WeightedPrecision += w * cm.Precision
		r.WeightedRecall += w * cm.Recall
		r.WeightedF1 += w * cm.F1
	}
	r.Accuracy = ratio(correct, n)
	r.MacroPrecision /= float64(present)
	r.MacroRecall /= float64(present)
	r.MacroF1 /= float64(present)
	r.WeightedPrecision /= float64(n)
	r.WeightedRecall /= float64(n)
	r.WeightedF1 /= float64(n)
	return r, nil
}
