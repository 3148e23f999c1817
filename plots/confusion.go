package plots

import (
	"errors"
	"fmt"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ConfusionMatrix draws the square matrix m[true][predicted] as a heat map
// (white to dark blue, scaled by the largest count) with each count written
// in its cell in black or white, whichever contrasts more; the predicted
// class runs along the x axis ("predicted") and the true class down the y
// axis ("true"), row 0 at the top, as scikit-learn's ConfusionMatrixDisplay
// shows it. The figure is 6 × 5.5 inches. classNames labels the classes (nil
// gives 0, 1, ...). It is an error for m to be empty or not square, to hold a
// negative count, or for classNames to have the wrong length.
func ConfusionMatrix(path, title string, m [][]int, classNames []string) error {
	if err := confusionMatrix(path, title, m, classNames); err != nil {
		return fmt.Errorf("plots: confusion matrix %s: %w", path, err)
	}
	return nil
}

func confusionMatrix(path, title string, m [][]int, classNames []string) error {
	n := len(m)
	if n == 0 {
		return errors.New("empty matrix")
	}
	if classNames != nil && len(classNames) != n {
		return fmt.Errorf("%d class names for %d classes", len(classNames), n)
	}
	maxCount := 0
	for r, row := range m {
		if len(row) != n {
			return fmt.Errorf("row %d has %d entries, want %d", r, len(row), n)
		}
		for c, v := range row {
			if v < 0 {
				return fmt.Errorf("m[%d][%d] = %d is negative", r, c, v)
			}
			maxCount = max(maxCount, v)
		}
	}
	names := classNamesOrDefault(classNames, n)

	p := newPlot(title, "predicted", "true")
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	xt := make([]plot.Tick, n)
	yt := make([]plot.Tick, n)
	for i, name := range names {
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	if n > 12 {
		p.X.Tick.Label.Font.Size = vg.Points(tickSize * 12 / float64(n) * 1.3)
		p.Y.Tick.Label.Font.Size = p.X.Tick.Label.Font.Size
	}
	p.Add(cells{m: m, max: maxCount})

	return render(path, 6*vg.Inch, 5.5*vg.Inch, func(c draw.Canvas) error {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		p.Draw(squareData(p, c))
		return nil
	})
}

// cells is the plotter of the confusion matrix's coloured, labelled cells.
type cells struct {
	m   [][]int
	max int
}

// Plot implements plot.Plotter.
func (cl cells) Plot(c draw.Canvas, p *plot.Plot) {
	n := len(cl.m)
	tx, ty := p.Transforms(&c)
	cellW := tx(1) - tx(0)
	digits := len(strconv.Itoa(cl.max))
	// Fit the widest count in 80% of a cell, at most 11 points.
	size := min(11, float64(cellW)*0.8/(0.58*float64(max(digits, 2))))
	st := sans(size)
	st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
	for r, row := range cl.m {
		for k, v := range row {
			t := 0.0
			if cl.max > 0 {
				t = float64(v) / float64(cl.max)
			}
			bg := blues(t)
			x0, x1 := tx(float64(k)-0.5), tx(float64(k)+0.5)
			y0, y1 := ty(float64(n-1-r)-0.5), ty(float64(n-1-r)+0.5)
			c.FillPolygon(bg, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			st.Color = textColorOn(bg)
			c.FillText(st, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, strconv.Itoa(v))
		}
	}
	// Frame.
	frame := draw.LineStyle{Color: color.Gray{0x60}, Width: vg.Points(0.6)}
	x0, x1 := tx(-0.5), tx(float64(n)-0.5)
	y0, y1 := ty(-0.5), ty(float64(n)-0.5)
	c.StrokeLines(frame, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
}
