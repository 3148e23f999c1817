package plots

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Scatter2D draws 2-D points (a t-SNE embedding) coloured by class in a
// 7 × 4.8 inch figure, with a legend of the classes to the right of a square
// plot area; axes are labelled "dimension 1" and "dimension 2" and have equal
// scales. Points are drawn in the given order (so no class is hidden under
// another wholesale) as small dots whose size shrinks with the number of
// points; 10,000 points take well under a second. classNames names the
// classes (nil gives 0 .. max label). It is an error for pts to be empty, for
// labels to differ in length, for a label to be negative or have no name, or
// for a coordinate to be non-finite.
func Scatter2D(path, title string, pts [][2]float64, labels []int, classNames []string) error {
	if err := scatter2D(path, title, pts, labels, classNames); err != nil {
		return fmt.Errorf("plots: scatter %s: %w", path, err)
	}
	return nil
}

func scatter2D(path, title string, pts [][2]float64, labels []int, classNames []string) error {
	if len(pts) == 0 {
		return errors.New("no points")
	}
	if len(labels) != len(pts) {
		return fmt.Errorf("%d points but %d labels", len(pts), len(labels))
	}
	maxLabel := 0
	for i, l := range labels {
		if l < 0 || (classNames != nil && l >= len(classNames)) {
			return fmt.Errorf("label %d = %d has no class name (%d names)", i, l, len(classNames))
		}
		maxLabel = max(maxLabel, l)
	}
	names := classNamesOrDefault(classNames, maxLabel+1)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, p := range pts {
		if !finite(p[0]) || !finite(p[1]) {
			return fmt.Errorf("point %d = %v is not finite", i, p)
		}
		xmin, xmax = math.Min(xmin, p[0]), math.Max(xmax, p[0])
		ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
	}
	// Equal scales: a square data range around the points.
	cx, cy := (xmin+xmax)/2, (ymin+ymax)/2
	half := math.Max(xmax-xmin, ymax-ymin)/2*1.04 + 1e-9
	p := newPlot(title, "dimension 1", "dimension 2")
	p.X.Min, p.X.Max = cx-half, cx+half
	p.Y.Min, p.Y.Max = cy-half, cy+half
	p.X.Padding, p.Y.Padding = 0, 0

	// Dot radius: 2.2 pt for a few hundred points, down to 0.9 pt for 10,000+.
	r := math.Max(0.9, math.Min(2.2, 2.2*math.Sqrt(500/float64(len(pts)))))
	p.Add(dots2D{pts: pts, labels: labels, radius: vg.Points(r)})

	leg := plot.NewLegend()
	leg.TextStyle = sans(legendSize)
	leg.ThumbnailWidth = vg.Points(12)
	leg.Padding = vg.Points(3)
	present := make([]bool, len(names))
	for _, l := range labels {
		present[l] = true
	}
	for c, name := range names {
		if present[c] {
			leg.Add(name, dotThumb{color: ClassColor(c), radius: vg.Points(4)})
		}
	}
	return render(path, 7*vg.Inch, 4.8*vg.Inch, func(c draw.Canvas) error {
		drawWithSideLegend(c, p, leg, true)
		return nil
	})
}

// dots2D is the plotter of Scatter2D's points.
type dots2D struct {
	pts    [][2]float64
	labels []int
	radius vg.Length
}

// Plot implements plot.Plotter.
func (d dots2D) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	// Outline-free filled circles; one path per point keeps the drawing
	// order. A slightly translucent fill shows density where points pile up.
	for i, pt := range d.pts {
		col := ClassColor(d.labels[i])
		col.A = 0xe0
		col.R, col.G, col.B = premul(col.R, col.A), premul(col.G, col.A), premul(col.B, col.A)
		c.SetColor(col)
		var path vg.Path
		x, y := tx(pt[0]), ty(pt[1])
		path.Move(vg.Point{X: x + d.radius, Y: y})
		path.Arc(vg.Point{X: x, Y: y}, d.radius, 0, 2*math.Pi)
		path.Close()
		c.Fill(path)
	}
}

// premul premultiplies a colour channel by alpha, as color.RGBA requires.
func premul(v, a uint8) uint8 { return uint8(uint16(v) * uint16(a) / 0xff) }
