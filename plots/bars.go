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

// Bars draws one bar per name with height means[i] and, when stds is not
// nil, an error bar of ± stds[i], in a Width × Height figure titled title
// with the y axis labelled ylabel; bars start at 0 and each is annotated with
// its value (and ± std). Names are written under the bars, slanted when they
// would overlap. Use it for sweeps and ablations (e.g. test accuracy by batch
// size, mean ± std over seeds). It is an error for names to be empty, for
// means (or a non-nil stds) to differ in length from names, for a mean to be
// non-finite, or for a std to be negative or non-finite.
func Bars(path, title, ylabel string, names []string, means, stds []float64) error {
	if err := bars(path, title, ylabel, names, means, stds); err != nil {
		return fmt.Errorf("plots: bars %s: %w", path, err)
	}
	return nil
}

func bars(path, title, ylabel string, names []string, means, stds []float64) error {
	n := len(names)
	if n == 0 {
		return errors.New("no bars")
	}
	if len(means) != n {
		return fmt.Errorf("%d names but %d means", n, len(means))
	}
	if stds != nil && len(stds) != n {
		return fmt.Errorf("%d names but %d stds", n, len(stds))
	}
	lo, hi := 0.0, 0.0
	for i, m := range means {
		if !finite(m) {
			return fmt.Errorf("mean %d = %v is not finite", i, m)
		}
		s := 0.0
		if stds != nil {
			s = stds[i]
			if !finite(s) || s < 0 {
				return fmt.Errorf("std %d = %v, want finite and >= 0", i, s)
			}
		}
		lo, hi = math.Min(lo, m-s), math.Max(hi, m+s)
	}
	if hi == lo {
		hi = 1
	}
	p := newPlot(title, "", ylabel)
	span := hi - lo
	p.Y.Min = lo
	if lo < 0 {
		p.Y.Min = lo - 0.12*span
	}
	p.Y.Max = hi + 0.12*span
	if hi == 0 {
		p.Y.Max = 0.05 * span
	}
	p.X.Min, p.X.Max = -0.6, float64(n)-0.4
	p.X.Padding = 0
	p.X.LineStyle.Width = 0 // the plotter draws the zero line
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)

	ticks := make([]plot.Tick, n)
	var widest vg.Length
	for i, name := range names {
		ticks[i] = plot.Tick{Value: float64(i), Label: name}
		widest = max(widest, p.X.Tick.Label.Width(name))
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Length = 0
	// About 4.8 inches of data width shared by n bars: slant long names.
	if widest > 4.8*vg.Inch/vg.Length(n)*0.95 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	p.Add(barPlotter{means: means, stds: stds})
	return render(path, Width, Height, func(c draw.Canvas) error {
		p.Draw(c)
		return nil
	})
}

// barPlotter draws the bars, error bars and value labels.
type barPlotter struct {
	means, stds []float64
}

// Plot implements plot.Plotter.
func (b barPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	n := len(b.means)
	w := (tx(1) - tx(0)) * 0.62
	if n == 1 {
		w = min(w, 1.2*vg.Inch)
	}
	fill := ClassColor(0)
	edge := draw.LineStyle{Color: color.RGBA{0x15, 0x53, 0x7e, 0xff}, Width: vg.Points(0.8)}
	errSt := draw.LineStyle{Color: color.Black, Width: vg.Points(1.2)}
	lbl := sans(max(6.5, min(9, 80/float64(n))))
	lbl.XAlign = draw.XCenter
	for i, m := range b.means {
		x := tx(float64(i))
		y0, y1 := ty(0), ty(m)
		box := []vg.Point{{X: x - w/2, Y: y0}, {X: x + w/2, Y: y0}, {X: x + w/2, Y: y1}, {X: x - w/2, Y: y1}}
		c.FillPolygon(fill, box)
		c.StrokeLines(edge, append(box, box[0]))
		s := 0.0
		if b.stds != nil {
			s = b.stds[i]
		}
		txt := formatValue(m)
		if s > 0 {
			lo, hi := ty(m-s), ty(m+s)
			cap := w / 5
			c.StrokeLine2(errSt, x, lo, x, hi)
			c.StrokeLine2(errSt, x-cap, lo, x+cap, lo)
			c.StrokeLine2(errSt, x-cap, hi, x+cap, hi)
			txt += " ± " + formatValue(s)
		}
		// Above the bar (or below a negative one), clear of the error bar.
		if m >= 0 {
			lbl.YAlign = draw.YBottom
			c.FillText(lbl, vg.Point{X: x, Y: ty(m+s) + vg.Points(3)}, txt)
		} else {
			lbl.YAlign = draw.YTop
			c.FillText(lbl, vg.Point{X: x, Y: ty(m-s) - vg.Points(3)}, txt)
		}
	}
	// The zero line.
	c.StrokeLine2(draw.LineStyle{Color: color.Gray{0x40}, Width: vg.Points(0.8)}, c.Min.X, ty(0), c.Max.X, ty(0))
}

// formatValue formats a bar value with 4 significant digits.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
