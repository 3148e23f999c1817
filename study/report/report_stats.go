package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mnistgpu/eval"
	"mnistgpu/study/runs"
)

// alpha is the significance level of every comparison in the report.
const alpha = 0.05

// comparison is one arm tested against another on test accuracy.
type comparison struct {
	// Diff is the accuracy of the first arm minus the second's: the mean
	// paired difference with repeats, else the difference of the two runs.
	Diff float64
	// P is the test's two-sided p-value; Adj the Holm-adjusted one when
	// the comparison is one of several (else equal to P). NaN: not tested.
	P, Adj float64
	// Holm is the number of comparisons Adj corrects for (0 or 1: none).
	Holm int
	// Test names the test; Detail gives its numbers (pairs, dropped pairs,
	// discordant images, the interval); Scope, when set, says what the
	// test shows.
	Test, Detail, Scope string
}

// clear says whether the difference is significant at alpha (after the
// Holm correction); false when the test could not be made.
func (c comparison) clear() bool { return c.Adj < alpha }

// pValue writes p with enough digits ("p = 0.031", "p < 0.001").
func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "p not available"
	case p < 0.001:
		return "p < 0.001"
	case p < 0.01:
		return "p = " + strconv.FormatFloat(p, 'f', 4, 64)
	}
	return "p = " + strconv.FormatFloat(p, 'f', 3, 64)
}

// evidence writes the test, its numbers and the p-value, e.g. "paired
// t-test by seed, 3 pairs, difference +0.41 ± 0.30 points (95 % CI),
// p = 0.031, Holm-adjusted over 2 comparisons p = 0.062".
func (c comparison) evidence() string {
	s := c.Test
	if c.Detail != "" {
		s += ", " + c.Detail
	}
	s += ", " + pValue(c.P)
	if c.Holm > 1 && !math.IsNaN(c.P) {
		s += fmt.Sprintf(", Holm-adjusted over %d comparisons %s", c.Holm, pValue(c.Adj))
	}
	if c.Scope != "" {
		s += "; " + c.Scope
	}
	return s
}

// word is the short verdict of one comparison.
func (c comparison) word() string {
	switch {
	case math.IsNaN(c.Adj):
		return "not tested"
	case c.clear():
		return fmt.Sprintf("significant at %g", alpha)
	}
	return fmt.Sprintf("not significant at %g", alpha)
}

// holm adjusts the comparisons' p-values for their number.
func holm(cs []*comparison) {
	ps := make([]float64, len(cs))
	m := 0
	for i, c := range cs {
		ps[i] = c.P
		if !math.IsNaN(c.P) {
			m++
		}
	}
	for i, a := range eval.Holm(ps) {
		cs[i].Adj = a
		if m > 1 {
			cs[i].Holm = m
		}
	}
}

// seedAccs are a cell's per-seed test accuracies in repeat order, NaN for
// a diverged run.
func seedAccs(c *ablCell) []float64 {
	var v []float64
	for _, rec := range c.Runs {
		if rec.Diverged() != "" {
			v = append(v, math.NaN())
		} else {
			v = append(v, rec.Metrics.Accuracy)
		}
	}
	return v
}

// compare tests cell a against cell b. With several seeds per cell it is a
// paired t-test by seed index (a diverged seed drops its pair), or Welch's
// unpaired t-test when the arms are scored on different test sets
// (unpaired). With one seed it is McNemar's exact test on per-image
// correctness over the shared test set, or a two-proportion z-test on
// different test sets.
func (r *reportRun) compare(a, b *ablCell, unpaired bool) comparison {
	c := comparison{Diff: math.NaN(), P: math.NaN(), Adj: math.NaN()}
	if len(a.Runs) > 1 && len(b.Runs) > 1 {
		var t eval.TTest
		if unpaired {
			t = eval.WelchT(seedAccs(a), seedAccs(b))
			c.Test = "Welch's unpaired t-test over seeds (the arms have different test sets)"
			c.Detail = fmt.Sprintf("%d and %d seeds", len(a.Healthy), len(b.Healthy))
		} else {
			t = eval.PairedT(seedAccs(a), seedAccs(b))
			c.Test = "paired t-test by seed"
			c.Detail = plural(t.N, "pair")
			if t.Dropped > 0 {
				c.Detail += fmt.Sprintf(" (%s dropped: a seed diverged)", plural(t.Dropped, "pair"))
			}
		}
		c.Diff, c.P = t.Diff, t.P
		switch {
		case math.IsNaN(t.P):
			c.Detail += ", too few to test"
		case !math.IsNaN(t.CI95):
			c.Detail += fmt.Sprintf(", difference %s ± %.2f (95 %% CI)", points(t.Diff), 100*t.CI95)
		}
		c.Adj = c.P
		return c
	}
	if !a.ok() || !b.ok() {
		c.Test = "no test (a run diverged)"
		return c
	}
	ra, rb := a.Healthy[0], b.Healthy[0]
	c.Diff = ra.Metrics.Accuracy - rb.Metrics.Accuracy
	if unpaired {
		k := func(m runs.Metrics) int { return int(math.Round(m.Accuracy * float64(m.Samples))) }
		_, _, p := eval.TwoProportionZ(k(ra.Metrics), ra.Metrics.Samples, k(rb.Metrics), rb.Metrics.Samples)
		c.Test = "two-proportion z-test, unpaired (one seed each, different test sets)"
		c.Detail = fmt.Sprintf("%s vs %s test images", Commas(ra.Metrics.Samples), Commas(rb.Metrics.Samples))
		c.P, c.Adj = p, p
		return c
	}
	ca, errA := r.correct(ra)
	cb, errB := r.correct(rb)
	if errA != nil || errB != nil || len(ca) != len(cb) || len(ca) == 0 {
		c.Test = "McNemar's exact test not possible"
		c.Detail = "per-image predictions unavailable or on different test sets"
		return c
	}
	onlyA, onlyB := eval.Discordant(ca, cb)
	c.P = eval.McNemar(onlyA, onlyB)
	c.Adj = c.P
	c.Test = "McNemar's exact test (one seed each, same test set)"
	c.Detail = fmt.Sprintf("discordant test images: %s right only by the first, %s only by the second", Commas(onlyA), Commas(onlyB))
	c.Scope = "these two trained models on this test set, not whether the settings differ"
	return c
}

// correct is, per test image, whether the run classified it correctly,
// read from its predictions.csv once (tests may preset r.correctOf).
func (r *reportRun) correct(rec *runs.Record) ([]bool, error) {
	if r.correctOf == nil {
		r.correctOf = map[string][]bool{}
	}
	if v, ok := r.correctOf[rec.Dir]; ok {
		return v, nil
	}
	v, err := readCorrect(filepath.Join(rec.Dir, "predictions.csv"))
	if err != nil {
		return nil, err
	}
	r.correctOf[rec.Dir] = v
	return v, nil
}

// readCorrect reads predictions.csv (index, label, pred, p0…) into
// per-image correctness.
func readCorrect(path string) ([]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("predictions %s: %w", path, err)
	}
	li, pi := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "label":
			li = i
		case "pred":
			pi = i
		}
	}
	if li < 0 || pi < 0 {
		return nil, fmt.Errorf("predictions %s: no label and pred columns", path)
	}
	var out []bool
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("predictions %s: %w", path, err)
		}
		if len(rec) <= max(li, pi) {
			return nil, fmt.Errorf("predictions %s line %d: %d fields", path, line, len(rec))
		}
		out = append(out, rec[li] == rec[pi])
	}
}

// seedsLine is the header's account of the seeds: how many per cell and
// why.
func (r *reportRun) seedsLine() string {
	seed := r.mainCfg[tasks()[0]].Train.Seed
	why := ""
	if r.o.RepeatWhy != "" {
		why = " (" + r.o.RepeatWhy + ")"
	}
	if r.o.Repeat > 1 {
		return fmt.Sprintf("%d per cell%s: each main run and each ablation value is trained with seeds %d … %d; tables show the mean ± the half-width of "+
			"its 95 %% confidence interval over seeds (Student t) and n; the main runs' figures and per-class numbers come from seed %d",
			r.o.Repeat, why, seed, seed+uint64(r.o.Repeat-1), seed)
	}
	return fmt.Sprintf("1 per cell%s, seed %d: tables show single runs, and comparisons can only say whether two trained models differ on the test set, "+
		"not whether two settings do (seed-to-seed spread is not measured; use --repeat 3 or more for that)", why, seed)
}

// testsText explains the report's tests.
func (r *reportRun) testsText() string {
	var s string
	if r.o.Repeat > 1 {
		s = fmt.Sprintf("Each comparison names its test and gives its p-value. Two settings are compared by a paired t-test on the per-seed accuracy "+
			"differences (seed k of one against seed k of the other, %d seeds; a diverged seed drops its pair and the text says how many were dropped). ", r.o.Repeat)
	} else {
		s = "Each comparison names its test and gives its p-value. With one seed per setting, two runs are compared by McNemar's exact test on the test " +
			"images only one of them classified correctly (the same test set, per-image correctness from predictions.csv): it shows whether these two " +
			"trained models differ on this test set, not whether the settings do. "
	}
	return s + fmt.Sprintf("The train/test ratio experiment scores each arm on a different test set, so it uses an unpaired test (Welch's t-test over seeds, "+
		"or a two-proportion z-test with one seed). Where an experiment's best value is compared with each other value, or a claimed winner with each "+
		"alternative, the p-values are Holm-corrected for the number of comparisons. Significant means p < %g after that correction.", alpha)
}

// ciNote says, for table captions, how to read "mean ± x".
func (r *reportRun) ciNote() string {
	if r.o.Repeat > 1 {
		return "; mean ± 95 % confidence interval over the n seeds"
	}
	return ""
}

// barsNote says what the ablation charts' error bars are.
func (r *reportRun) barsNote() string {
	if r.o.Repeat > 1 {
		return ", mean over seeds with 95 % confidence intervals as error bars"
	}
	return ""
}
