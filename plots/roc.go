package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

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

// ROCMinFPR is the left end of the ROC figure's logarithmic panel: with
// 10,000 test images of ten classes a class has about 9,000 negatives, so
// one false positive is about 1.1·10⁻⁴.
const ROCMinFPR = 1e-4

// ROC draws ROC curves in an 11 × 4.8 inch figure of two panels that share
// one legend. The left panel is the whole curve: FPR ("false positive
// rate") on x and TPR ("true positive rate") on y, both 0 to 1 on a square
// area, with the chance diagonal dotted. The right panel zooms on the
// region where good classifiers differ: FPR on a logarithmic axis from
// ROCMinFPR to 1 (no chance line), TPR from just below the lowest curve
// there to 1 (curves
// are cut at ROCMinFPR by linear interpolation, as the ROC's points are
// joined). Class curves (Average false) take ClassColor in their order;
// averaged curves are dashed, the first black, the next dark grey and so
// on. The legend, to the right, gives each curve's AUC with as many
// decimals (3 to 6) as it takes to tell the curves' AUCs apart ("3 (AUC
// 0.99871)"). Points that are NaN are skipped (a class without positives
// has a legend entry and no line), and collinear runs of points are
// thinned before drawing, which leaves the curves unchanged. It is an
// error to pass no curves or a curve whose FPR and TPR differ in length.
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
	full := newPlot(title, "false positive rate", "true positive rate")
	full.X.Min, full.X.Max = 0, 1
	full.Y.Min, full.Y.Max = 0, 1
	full.X.Padding, full.Y.Padding = vg.Points(4), vg.Points(4)
	full.X.Tick.Marker = plot.ConstantTicks(unitTicks())
	full.Y.Tick.Marker = plot.ConstantTicks(unitTicks())
	full.Add(plotter.NewGrid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	diagStyle := draw.LineStyle{Color: color.Gray{0x99}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1.5), vg.Points(3)}}
	diag.LineStyle = diagStyle
	full.Add(diag)

	zoom := newPlot("zoom on the top-left corner", "false positive rate (log scale)", "true positive rate")
	zoom.X.Scale = plot.LogScale{}
	zoom.X.Tick.Marker = plot.ConstantTicks(logTicks(ROCMinFPR))
	zoom.X.Min, zoom.X.Max = ROCMinFPR, 1
	zoom.X.Padding, zoom.Y.Padding = vg.Points(4), vg.Points(4)
	zoom.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.TextStyle = sans(legendSize)
	leg.ThumbnailWidth = vg.Points(24)
	leg.Padding = vg.Points(3)
	averageColors := []color.Color{color.Black, color.Gray{0x55}, color.Gray{0x88}}
	classIdx, avgIdx := 0, 0
	decimals := aucDecimals(curves)
	yLow := 1.0
	// Averages are drawn last, on top of the class curves.
	var avgFull, avgZoom []plot.Plotter
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
				avgFull = append(avgFull, l)
			} else {
				full.Add(l)
			}
		}
		if lp := clipLogX(pts, ROCMinFPR); len(lp) >= 2 {
			yLow = math.Min(yLow, lp[0].Y)
			l, err := plotter.NewLine(lp)
			if err != nil {
				return fmt.Errorf("curve %q: %w", cv.Name, err)
			}
			l.LineStyle = ls
			if cv.Average {
				avgZoom = append(avgZoom, l)
			} else {
				zoom.Add(l)
			}
		}
		auc := "AUC n/a"
		if finite(cv.AUC) {
			auc = fmt.Sprintf("AUC %.*f", decimals, cv.AUC)
		}
		leg.Add(fmt.Sprintf("%s (%s)", cv.Name, auc), lineThumb{ls})
	}
	full.Add(avgFull...)
	zoom.Add(avgZoom...)
	// TPR from a round value just below the lowest curve at ROCMinFPR.
	zoom.Y.Min, zoom.Y.Max = math.Max(0, math.Floor(yLow*20-0.5)/20), 1
	zoom.Y.Tick.Marker = niceTicks{}
	return render(path, 11*vg.Inch, 4.8*vg.Inch, func(c draw.Canvas) error {
		drawPanelsWithLegend(c, full, zoom, leg)
		return nil
	})
}

// drawPanelsWithLegend draws left (with a square data area) and right side
// by side and the legend l to their right, centred on the data areas.
func drawPanelsWithLegend(c draw.Canvas, left, right *plot.Plot, l plot.Legend) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	gap := vg.Points(10)
	lw, lh := legendExtent(l)
	lw += gap
	area := draw.Crop(c, 0, -lw, 0, 0)
	w := area.Max.X - area.Min.X
	lc := squareData(left, draw.Crop(area, 0, -w/2, 0, 0))
	left.Draw(lc)
	rc := draw.Crop(area, w/2+gap, 0, 0, 0)
	right.Draw(rc)
	drawLegendAt(c, l, left.DataCanvas(lc), area.Max.X+gap, lw, lh)
}

// aucDecimals is the number of decimals, 3 to 6, at which the curves'
// distinct finite AUCs print differently.
func aucDecimals(curves []ROCCurve) int {
	for d := 3; d < 6; d++ {
		seen := map[string]float64{}
		clash := false
		for _, cv := range curves {
			if !finite(cv.AUC) {
				continue
			}
			s := fmt.Sprintf("%.*f", d, cv.AUC)
			if v, ok := seen[s]; ok && v != cv.AUC {
				clash = true
				break
			}
			seen[s] = cv.AUC
		}
		if !clash {
			return d
		}
	}
	return 6
}

// clipLogX returns the part of the polyline pts with x ≥ xmin, starting
// with the point where it crosses xmin (linear interpolation), for a
// logarithmic x axis.
func clipLogX(pts plotter.XYs, xmin float64) plotter.XYs {
	var out plotter.XYs
	for i, p := range pts {
		if p.X < xmin {
			continue
		}
		if len(out) == 0 && i > 0 && p.X > xmin {
			q := pts[i-1]
			t := (xmin - q.X) / (p.X - q.X)
			out = append(out, plotter.XY{X: xmin, Y: q.Y + t*(p.Y-q.Y)})
		}
		out = append(out, p)
	}
	return out
}

// logTicks labels the powers of ten from min to 1 ("0.0001" … "1") with
// unlabelled ticks at 2…9 times each.
func logTicks(min float64) []plot.Tick {
	var t []plot.Tick
	for e := int(math.Round(math.Log10(min))); e <= 0; e++ {
		v := math.Pow(10, float64(e))
		t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if e < 0 {
			for m := 2; m <= 9; m++ {
				t = append(t, plot.Tick{Value: float64(m) * v})
			}
		}
	}
	return t
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
