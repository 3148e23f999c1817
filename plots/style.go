package plots

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"mnistgpu/internal/atomicfile"
)

// DPI is the resolution of PNG figures, in dots per inch.
const DPI = 150

// Default figure size: Curves and Bars are Width × Height; the other figures
// document their own size.
const (
	Width  = 6 * vg.Inch
	Height = 4.5 * vg.Inch
)

// Font sizes, chosen to stay legible at DPI in a figure a few inches wide.
const (
	titleSize  = 13
	labelSize  = 11
	tickSize   = 9.5
	legendSize = 9.5
)

// ClassColor returns the colour of class (or series) i: matplotlib's tab10
// palette, repeating after 10. ROC, Scatter2D, Curves and Bars all use it, so
// a class has the same colour in every figure.
func ClassColor(i int) color.RGBA {
	tab10 := [10]color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, // blue
		{0xff, 0x7f, 0x0e, 0xff}, // orange
		{0x2c, 0xa0, 0x2c, 0xff}, // green
		{0xd6, 0x27, 0x28, 0xff}, // red
		{0x94, 0x67, 0xbd, 0xff}, // purple
		{0x8c, 0x56, 0x4b, 0xff}, // brown
		{0xe3, 0x77, 0xc2, 0xff}, // pink
		{0x7f, 0x7f, 0x7f, 0xff}, // grey
		{0xbc, 0xbd, 0x22, 0xff}, // olive
		{0x17, 0xbe, 0xcf, 0xff}, // cyan
	}
	return tab10[((i%10)+10)%10]
}

// wrongColor is the colour of the captions of misclassified images (tab10
// red).
func wrongColor() color.RGBA { return ClassColor(3) }

// sans returns the plot font (Liberation Sans) at size points.
func sans(size float64) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(size)),
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a plot with the package's fonts, title and axis labels.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = sans(titleSize)
	p.Title.TextStyle.XAlign = draw.XCenter
	p.Title.TextStyle.YAlign = draw.YTop
	p.Title.Padding = vg.Points(8)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		st := sans(labelSize)
		st.XAlign, st.YAlign = ax.Label.TextStyle.XAlign, ax.Label.TextStyle.YAlign
		ax.Label.TextStyle = st
		tk := sans(tickSize)
		tk.XAlign, tk.YAlign = ax.Tick.Label.XAlign, ax.Tick.Label.YAlign
		ax.Tick.Label = tk
		ax.Tick.Length = vg.Points(4)
		ax.Label.Padding = vg.Points(4)
	}
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.TextStyle = sans(legendSize)
	p.Legend.ThumbnailWidth = vg.Points(22)
	p.Legend.Padding = vg.Points(2.5)
	return p
}

// newCanvas returns the canvas for path: SVG for ".svg", PNG at DPI for
// ".png" or no extension.
func newCanvas(path string, w, h vg.Length) (vg.CanvasWriterTo, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		return vgsvg.New(w, h), nil
	case ".png", "":
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))}, nil
	default:
		return nil, fmt.Errorf("unsupported file type %q (want .png or .svg)", ext)
	}
}

// render draws a w × h figure with fn and writes it to path.
func render(path string, w, h vg.Length, fn func(c draw.Canvas) error) error {
	cv, err := newCanvas(path, w, h)
	if err != nil {
		return err
	}
	if err := fn(draw.New(cv)); err != nil {
		return err
	}
	return writeFile(path, cv)
}

// writeFile writes wt to path through a temporary file renamed into place,
// so that readers never see a partial figure.
func writeFile(path string, wt io.WriterTo) error {
	if path == "" {
		return errors.New("empty output path")
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// lineThumb draws a legend thumbnail as a line segment.
type lineThumb struct{ style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(t.style, c.Min.X, y, c.Max.X, y)
}

// dotThumb draws a legend thumbnail as a filled circle.
type dotThumb struct {
	color  color.Color
	radius vg.Length
	glyph  draw.GlyphDrawer
}

// Thumbnail implements plot.Thumbnailer.
func (t dotThumb) Thumbnail(c *draw.Canvas) {
	g := t.glyph
	if g == nil {
		g = draw.CircleGlyph{}
	}
	c.DrawGlyph(draw.GlyphStyle{Color: t.color, Radius: t.radius, Shape: g}, c.Center())
}

// drawWithSideLegend draws p on the left of c and the legend l to its
// right, vertically centred on the plot's data area. If square is true the
// data area is made square.
func drawWithSideLegend(c draw.Canvas, p *plot.Plot, l plot.Legend, square bool) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	gap := vg.Points(10)
	lw, lh := legendExtent(l)
	lw += gap
	left := draw.Crop(c, 0, -lw, 0, 0)
	if square {
		left = squareData(p, left)
	}
	p.Draw(left)
	drawLegendAt(c, l, p.DataCanvas(left), left.Max.X+gap, lw, lh)
}

// drawLegendAt draws l (lw by lh) on c with its left edge at x, centred
// vertically on the data area da.
func drawLegendAt(c draw.Canvas, l plot.Legend, da draw.Canvas, x, lw, lh vg.Length) {
	top := (da.Min.Y+da.Max.Y)/2 + lh/2
	lc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: x, Y: top - lh},
		Max: vg.Point{X: x + lw, Y: top},
	}}
	l.Top, l.Left = true, true
	l.Draw(lc)
}

// legendExtent returns the width of l's thumbnails and texts and the
// height of its entries.
func legendExtent(l plot.Legend) (w, h vg.Length) {
	var c draw.Canvas
	r := l.Rectangle(c)
	return r.Max.X - r.Min.X, r.Max.Y - r.Min.Y
}

// squareData shrinks c horizontally or vertically so that p's data area in
// it is square, keeping it centred.
func squareData(p *plot.Plot, c draw.Canvas) draw.Canvas {
	da := p.DataCanvas(c)
	w, h := da.Max.X-da.Min.X, da.Max.Y-da.Min.Y
	switch {
	case w > h:
		d := w - h
		return draw.Crop(c, d/2, -d/2, 0, 0)
	case h > w:
		d := h - w
		return draw.Crop(c, 0, 0, d/2, -d/2)
	}
	return c
}

// classNamesOrDefault returns names, or "0", "1", ... n-1 if names is nil.
func classNamesOrDefault(names []string, n int) []string {
	if names != nil {
		return names
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// padRange widens [lo, hi] by frac of its width on each side (or by a unit
// around a single value).
func padRange(lo, hi, frac float64) (float64, float64) {
	if hi <= lo {
		d := math.Max(math.Abs(lo)*0.05, 0.5)
		return lo - d, hi + d
	}
	d := (hi - lo) * frac
	return lo - d, hi + d
}

// niceTicks labels about 3 to 8 round values (steps of 1, 2 or 5 times a
// power of ten) and puts an unlabelled minor tick halfway between them.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || !finite(lo) || !finite(hi) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 7
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow * 10
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw*(1-1e-9) {
			step = m * pow
			break
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if m := v + step/2; m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	if first := math.Ceil(lo/step-1e-9)*step - step/2; first >= lo {
		ticks = append(ticks, plot.Tick{Value: first})
	}
	return ticks
}
