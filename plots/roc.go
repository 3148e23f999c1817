package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ROCCurve is one curve of an ROC figure.
type ROCCurve struct {
	// Name starts the legend entry, which reads "Name (AUC 0.998)".
	Name string
	// FPR and TPR are the curve's points, in order.
	FPR, TPR []float64
	// AUC is the area under the curve; NaN is shown as "AUC n/a".
	AUC float64
	// Average marks an averaged curve (micro or macro): drawn dashed in
	// black or dark grey instead of a class colour.
	Average bool
}

// ROC draws ROC curves in a 7 × 4.8 inch figure: FPR ("false positive
// rate") on x and TPR ("true positive rate") on y, both 0 to 1 on a square
// area, with the chance diagonal dotted. Class curves (Average false) take
// ClassColor in their order; averaged curves are dashed, the first black, the
// next dark grey and so on. The legend, to the right of the plot, gives each
// curve's AUC to 3 decimals ("3 (AUC 0.998)"). Points that are NaN are
// skipped (a class without positives has a legend entry and no line), and
// collinear runs of points are thinned before drawing, which leaves the
// curves unchanged. It is an error to pass no curves or a curve whose FPR and
// TPR differ in length.
func ROC(path, title string, curves []ROCCurve) error {
	if err := roc(path, title, curves); err != nil {
		return fmt.Errorf("plots: roc %s: %w", path, err)
	}
	return nil
}

func roc(path, title string, curves []ROCCurve) error {
	if len(curves) == 0 {
		return errors.New("no curves")
	}
	for i, cv := range curves {
		if len(cv.FPR) != len(cv.TPR) {
			return fmt.Errorf("curve %d (%q) has %d FPR and %d TPR values", i, cv.Name, len(cv.FPR), len(cv.TPR))
		}
	}
	p := newPlot(title, "false positive rate", "true positive rate")
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Padding, p.Y.Padding = vg.Points(4), vg.Points(4)
	p.X.Tick.Marker = plot.ConstantTicks(unitTicks())
	p.Y.Tick.Marker = plot.ConstantTicks(unitTicks())
	p.Add(plotter.NewGrid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	diag.LineStyle = draw.LineStyle{Color: color.Gray{0x99}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1.5), vg.Points(3)}}
	p.Add(diag)

	leg := plot.NewLegend()
	leg.TextStyle = sans(legendSize)
	leg.ThumbnailWidth = vg.Points(24)
	leg.Padding = vg.Points(3)
	averageColors := []color.Color{color.Black, color.Gray{0x55}, color.Gray{0x88}}
	classIdx, avgIdx := 0, 0
	// Averages are drawn last, on top of the class curves.
	var avgLines []plot.Plotter
	for _, cv := range curves {
		var ls draw.LineStyle
		if cv.Average {
			ls = draw.LineStyle{Color: averageColors[avgIdx%len(averageColors)], Width: vg.Points(2),
				Dashes: []vg.Length{vg.Points(5), vg.Points(2.5)}}
			avgIdx++
		} else {
			ls = draw.LineStyle{Color: ClassColor(classIdx), Width: vg.Points(1.3)}
			classIdx++
		}
		pts := thinCollinear(cv.FPR, cv.TPR)
		if len(pts) >= 2 {
			l, err := plotter.NewLine(pts)
			if err != nil {
				return fmt.Errorf("curve %q: %w", cv.Name, err)
			}
			l.LineStyle = ls
			if cv.Average {
				avgLines = append(avgLines, l)
			} else {
				p.Add(l)
			}
		}
		auc := "AUC n/a"
		if finite(cv.AUC) {
			auc = fmt.Sprintf("AUC %.3f", cv.AUC)
		}
		leg.Add(fmt.Sprintf("%s (%s)", cv.Name, auc), lineThumb{ls})
	}
	p.Add(avgLines...)
	return render(path, 7*vg.Inch, 4.8*vg.Inch, func(c draw.Canvas) error {
		drawWithSideLegend(c, p, leg, true)
		return nil
	})
}

// unitTicks labels 0, 0.2, ..., 1.
func unitTicks() []plot.Tick {
	var t []plot.Tick
	for i := range 6 {
		v := float64(i) / 5
		t = append(t, plot.Tick{Value: v, Label: fmt.Sprintf("%.1f", v)})
	}
	return t
}

// thinCollinear returns the finite points (x[i], y[i]) without the interior
// points of straight runs (horizontal, vertical or diagonal), which do not
// change the drawn polyline: a micro-averaged ROC curve of 100,000 points
// becomes a few thousand.
func thinCollinear(x, y []float64) plotter.XYs {
	var pts plotter.XYs
	for i := range x {
		if !finite(x[i]) || !finite(y[i]) {
			continue
		}
		pt := plotter.XY{X: x[i], Y: y[i]}
		for len(pts) >= 2 {
			a, b := pts[len(pts)-2], pts[len(pts)-1]
			cross := (b.X-a.X)*(pt.Y-a.Y) - (b.Y-a.Y)*(pt.X-a.X)
			forward := (b.X-a.X)*(pt.X-b.X)+(b.Y-a.Y)*(pt.Y-b.Y) >= 0
			if math.Abs(cross) > 1e-12 || !forward {
				break
			}
			pts = pts[:len(pts)-1]
		}
		pts = append(pts, pt)
	}
	return pts
}
