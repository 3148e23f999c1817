package plots

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named curve of a Curves figure.
type Series struct {
	// Name is the legend entry, e.g. "training" or "validation".
	Name string
	// Y holds one value per x; NaN leaves a gap (e.g. an epoch without a
	// validation pass).
	Y []float64
}

// Curves plots series against x (epochs, usually 1, 2, ...) in a
// Width × Height figure with title, the x axis labelled "epoch" and the y
// axis ylabel: one line per series in ClassColor order (training blue,
// validation orange when given in that order), with markers when there are
// at most 40 points, and a legend placed where the curves leave room (top
// right for falling curves such as losses, bottom right for rising ones such
// as accuracies). Integer x values get integer ticks.
//
// It is an error for x to be empty or hold a non-finite value, for series
// to be empty, or for a series' length to differ from len(x). When every
// value is NaN the figure has empty axes and says so in its title.
func Curves(path, title, ylabel string, x []float64, series []Series) error {
	if err := curves(path, title, ylabel, x, series); err != nil {
		return fmt.Errorf("plots: curves %s: %w", path, err)
	}
	return nil
}

func curves(path, title, ylabel string, x []float64, series []Series) error {
	if len(x) == 0 {
		return errors.New("no x values")
	}
	if len(series) == 0 {
		return errors.New("no series")
	}
	integer := true
	for i, v := range x {
		if !finite(v) {
			return fmt.Errorf("x[%d] = %v is not finite", i, v)
		}
		if v != math.Trunc(v) {
			integer = false
		}
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for s, se := range series {
		if len(se.Y) != len(x) {
			return fmt.Errorf("series %d (%q) has %d values for %d x values", s, se.Name, len(se.Y), len(x))
		}
		for i, v := range se.Y {
			if math.IsInf(v, 0) {
				return fmt.Errorf("series %d (%q) value %d is infinite", s, se.Name, i)
			}
			if finite(v) {
				xmin, xmax = math.Min(xmin, x[i]), math.Max(xmax, x[i])
				ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			}
		}
	}
	if math.IsInf(ymin, 1) {
		// Nothing to draw (a run whose loss diverged to NaN from the
		// start): empty axes that say so, rather than no figure.
		xmin, xmax, ymin, ymax = slices.Min(x), slices.Max(x), 0, 1
		title += " (no finite values)"
	}

	p := newPlot(title, "epoch", ylabel)
	p.X.Min, p.X.Max = padRange(xmin, xmax, 0.03)
	p.Y.Min, p.Y.Max = padRange(ymin, ymax, 0.06)
	if integer {
		p.X.Tick.Marker = integerTicks{}
	}
	p.Add(plotter.NewGrid())
	markers := len(x) <= 40
	var late, lateN float64 // mean height of the right third, to place the legend
	for s, se := range series {
		col := ClassColor(s)
		ls := draw.LineStyle{Color: col, Width: vg.Points(1.8)}
		gs := draw.GlyphStyle{Color: col, Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
		for _, run := range finiteRuns(x, se.Y) {
			l, err := plotter.NewLine(run)
			if err != nil {
				return fmt.Errorf("series %q: %w", se.Name, err)
			}
			l.LineStyle = ls
			p.Add(l)
			if markers {
				sc, err := plotter.NewScatter(run)
				if err != nil {
					return fmt.Errorf("series %q: %w", se.Name, err)
				}
				sc.GlyphStyle = gs
				p.Add(sc)
			}
		}
		thumbs := []plot.Thumbnailer{lineThumb{ls}}
		if markers {
			thumbs = append(thumbs, dotThumb{color: col, radius: gs.Radius})
		}
		name := se.Name
		if name == "" {
			name = fmt.Sprintf("series %d", s+1)
		}
		p.Legend.Add(name, thumbs...)
		for i, v := range se.Y {
			if finite(v) && x[i] >= xmin+(xmax-xmin)*2/3 {
				late += (v - p.Y.Min) / (p.Y.Max - p.Y.Min)
				lateN++
			}
		}
	}
	// Curves ending high (accuracy) leave the bottom right free.
	p.Legend.Top = lateN == 0 || late/lateN < 0.5
	p.Legend.XOffs = -vg.Points(6)
	if p.Legend.Top {
		p.Legend.YOffs = -vg.Points(6)
	} else {
		p.Legend.YOffs = vg.Points(6)
	}
	return render(path, Width, Height, func(c draw.Canvas) error {
		p.Draw(c)
		return nil
	})
}

// finiteRuns splits the points (x[i], y[i]) into runs without NaN.
func finiteRuns(x, y []float64) []plotter.XYs {
	var runs []plotter.XYs
	var cur plotter.XYs
	for i, v := range y {
		if math.IsNaN(v) {
			if len(cur) > 0 {
				runs = append(runs, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: x[i], Y: v})
	}
	if len(cur) > 0 {
		runs = append(runs, cur)
	}
	return runs
}

// integerTicks places major ticks on integers, about 10 of them at most.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000} {
		step = s
		if span/s <= 10 {
			break
		}
	}
	if span/step > 10 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ticks
}
