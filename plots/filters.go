package plots

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Filters draws the weights of a convolution layer, w in PyTorch's layout
// [outC][inC][k][k] (row-major, as conv.weight), as a grid of k × k tiles:
// one row per output channel, one column per input channel. All tiles share
// one symmetric colour scale, blue (−m) – white (0) – red (+m) with m the
// largest |weight|, shown by a colour bar on the right. Every tile has a thin
// grey frame so that near-zero kernels stay visible. The figure is
// Width × Height, grown (up to 14 inches a side) for layers with more than
// about 14 input or 14 output channels so that tiles stay about 0.22 inch. It is an error for a dimension to be < 1, for len(w) to
// differ from outC·inC·k·k, or for a weight to be non-finite.
func Filters(path, title string, w []float32, outC, inC, k int) error {
	if err := filters(path, title, w, outC, inC, k); err != nil {
		return fmt.Errorf("plots: filters %s: %w", path, err)
	}
	return nil
}

func filters(path, title string, w []float32, outC, inC, k int) error {
	if outC < 1 || inC < 1 || k < 1 {
		return fmt.Errorf("shape [%d %d %d %d], want every dimension >= 1", outC, inC, k, k)
	}
	if len(w) != outC*inC*k*k {
		return fmt.Errorf("%d weights for shape [%d %d %d %d] (%d)", len(w), outC, inC, k, k, outC*inC*k*k)
	}
	var m float64
	for i, v := range w {
		f := float64(v)
		if !finite(f) {
			return fmt.Errorf("weight %d = %v is not finite", i, v)
		}
		m = math.Max(m, math.Abs(f))
	}
	if m == 0 {
		m = 1 // all zero: any scale draws white tiles
	}

	// Grow the figure for large layers so that tiles keep about 0.22 inch.
	figW := max(Width, min(14*vg.Inch, 2.2*vg.Inch+vg.Length(inC)*0.22*vg.Inch))
	figH := max(Height, min(14*vg.Inch, 1.3*vg.Inch+vg.Length(outC)*0.22*vg.Inch))
	return render(path, figW, figH, func(c draw.Canvas) error {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		pad := vg.Points(8)
		titleSt := sans(titleSize)
		titleSt.XAlign, titleSt.YAlign = draw.XCenter, draw.YTop
		top := c.Max.Y - pad
		if title != "" {
			c.FillText(titleSt, vg.Point{X: c.Center().X, Y: top}, title)
			top -= titleSt.Height(title) + pad
		}
		// Label fonts shrink with the number of tiles.
		lblSize := math.Max(6, math.Min(labelSize-1, 110/float64(max(outC, inC))))
		lbl := sans(lblSize)
		lblH := lbl.Height("0")
		axisLbl := sans(labelSize)

		// Areas: axis titles and labels on the left and top, colour bar on
		// the right.
		barW, barGap := vg.Points(12), vg.Points(10)
		barTicks := sans(tickSize)
		barLblW := barTicks.Width(formatWeight(-m)) + vg.Points(6)
		rowLblW := lbl.Width("out " + strconv.Itoa(outC-1))
		gridL := c.Min.X + pad + axisLbl.Height("X") + vg.Points(4) + rowLblW + vg.Points(4)
		gridR := c.Max.X - pad - barLblW - barW - barGap
		gridT := top - axisLbl.Height("X") - vg.Points(4) - lblH - vg.Points(4)
		gridB := c.Min.Y + pad
		cell := min((gridR-gridL)/vg.Length(inC), (gridT-gridB)/vg.Length(outC))
		gap := cell * 0.12
		tile := cell - gap
		px := tile / vg.Length(k)
		// Centre the grid in its area.
		gw, gh := cell*vg.Length(inC), cell*vg.Length(outC)
		x0 := gridL + (gridR-gridL-gw)/2
		y0 := gridT - (gridT-gridB-gh)/2 // top edge of the grid

		frame := draw.LineStyle{Color: color.Gray{0xa0}, Width: vg.Points(0.5)}
		for o := range outC {
			for i := range inC {
				tx := x0 + vg.Length(i)*cell + gap/2
				ty := y0 - vg.Length(o)*cell - gap/2 // tile top
				base := (o*inC + i) * k * k
				for r := range k {
					for q := range k {
						col := blueWhiteRed(float64(w[base+r*k+q]) / m)
						ax, ay := tx+vg.Length(q)*px, ty-vg.Length(r)*px
						// Overlap neighbours by a hair to avoid anti-aliasing seams.
						e := vg.Points(0.15)
						c.FillPolygon(col, []vg.Point{
							{X: ax - e, Y: ay - px - e}, {X: ax + px + e, Y: ay - px - e},
							{X: ax + px + e, Y: ay + e}, {X: ax - e, Y: ay + e},
						})
					}
				}
				c.StrokeLines(frame, []vg.Point{
					{X: tx, Y: ty - tile}, {X: tx + tile, Y: ty - tile},
					{X: tx + tile, Y: ty}, {X: tx, Y: ty}, {X: tx, Y: ty - tile},
				})
			}
		}
		// Row and column labels, thinned out when tiles are small.
		stride := int(math.Ceil(float64(lblH*1.3) / float64(cell)))
		rl := lbl
		rl.XAlign, rl.YAlign = draw.XRight, draw.YCenter
		for o := 0; o < outC; o += stride {
			c.FillText(rl, vg.Point{X: x0 - vg.Points(4), Y: y0 - vg.Length(o)*cell - cell/2}, "out "+strconv.Itoa(o))
		}
		cl := lbl
		cl.XAlign, cl.YAlign = draw.XCenter, draw.YBottom
		colStride := int(math.Ceil(float64(lbl.Width("in 00")*1.15) / float64(cell)))
		for i := 0; i < inC; i += colStride {
			c.FillText(cl, vg.Point{X: x0 + vg.Length(i)*cell + cell/2, Y: y0 + vg.Points(3)}, "in "+strconv.Itoa(i))
		}
		// Axis titles.
		at := axisLbl
		at.XAlign, at.YAlign = draw.XCenter, draw.YBottom
		c.FillText(at, vg.Point{X: x0 + gw/2, Y: y0 + vg.Points(5) + lblH}, "input channel")
		at.Rotation = math.Pi / 2
		at.XAlign, at.YAlign = draw.XCenter, draw.YBottom
		c.FillText(at, vg.Point{X: x0 - vg.Points(12) - rowLblW, Y: y0 - gh/2}, "output channel")

		// Colour bar, as tall as the grid (at least 1.5 inches).
		bh := max(gh, min(1.5*vg.Inch, gridT-gridB))
		bx := x0 + gw + barGap
		by := y0 - gh/2 + bh/2 // top
		const steps = 128
		for s := range steps {
			v := 1 - 2*(float64(s)+0.5)/steps
			y1 := by - vg.Length(s)*bh/steps
			c.FillPolygon(blueWhiteRed(v), []vg.Point{
				{X: bx, Y: y1 - bh/steps - vg.Points(0.2)}, {X: bx + barW, Y: y1 - bh/steps - vg.Points(0.2)},
				{X: bx + barW, Y: y1}, {X: bx, Y: y1},
			})
		}
		c.StrokeLines(frame, []vg.Point{
			{X: bx, Y: by - bh}, {X: bx + barW, Y: by - bh}, {X: bx + barW, Y: by}, {X: bx, Y: by}, {X: bx, Y: by - bh},
		})
		tk := barTicks
		tk.XAlign, tk.YAlign = draw.XLeft, draw.YCenter
		for _, t := range []struct {
			frac float64
			v    float64
		}{{0, m}, {0.5, 0}, {1, -m}} {
			y := by - vg.Length(t.frac)*bh
			c.StrokeLine2(frame, bx+barW, y, bx+barW+vg.Points(3), y)
			c.FillText(tk, vg.Point{X: bx + barW + vg.Points(5), Y: y}, formatWeight(t.v))
		}
		return nil
	})
}

// formatWeight formats a colour-bar value with 3 significant digits.
func formatWeight(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
