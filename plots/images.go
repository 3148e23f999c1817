package plots

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Thumb is one image of an ImageGrid.
type Thumb struct {
	// Pix holds the grayscale pixels row by row (0 black, 255 white), as
	// MNIST stores them: width*height bytes.
	Pix []uint8
	// Caption is written under the image, e.g. "pred 3 / true 5".
	Caption string
	// Wrong draws the caption and a frame around the image in red, to mark
	// a misclassified sample.
	Wrong bool
}

// ImageGrid draws images (each width × height pixels, 28 × 28 for MNIST) in
// a grid of cols columns (cols <= 0 means 8) under title, each with its
// caption, in a PNG or SVG figure. Pixels are enlarged by the largest whole
// factor that fits, without smoothing. The figure is max(6, 0.8·cols+0.2)
// inches wide and as tall as the rows need; a grid with fewer images than
// cols keeps the tile size and is centred. With no images it writes a
// 6 × 2 inch figure saying "no images". Captions shrink (down to 6 points)
// to fit their tile. It is an error for width or height to be < 1 or for an
// image to have other than width*height pixels.
func ImageGrid(path, title string, images []Thumb, width, height, cols int) error {
	if err := imageGrid(path, title, images, width, height, cols); err != nil {
		return fmt.Errorf("plots: image grid %s: %w", path, err)
	}
	return nil
}

// dots converts a length in device dots at DPI to a vg.Length.
func dots(d float64) vg.Length { return vg.Length(d) * vg.Inch / DPI }

func imageGrid(path, title string, images []Thumb, width, height, cols int) error {
	if width < 1 || height < 1 {
		return fmt.Errorf("image size %d×%d, want at least 1×1", width, height)
	}
	for i, im := range images {
		if len(im.Pix) != width*height {
			return fmt.Errorf("image %d has %d pixels, want %d×%d = %d", i, len(im.Pix), width, height, width*height)
		}
	}
	if cols <= 0 {
		cols = 8
	}
	titleSt := sans(titleSize)
	titleSt.XAlign, titleSt.YAlign = draw.XCenter, draw.YTop
	if len(images) == 0 {
		return render(path, 6*vg.Inch, 2*vg.Inch, func(c draw.Canvas) error {
			c.SetColor(color.White)
			c.Fill(c.Rectangle.Path())
			c.FillText(titleSt, vg.Point{X: c.Center().X, Y: c.Max.Y - vg.Points(8)}, title)
			st := sans(labelSize)
			st.Color = color.Gray{0x60}
			st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
			c.FillText(st, c.Center(), "no images")
			return nil
		})
	}

	// Layout in whole device dots, so that enlarged pixels stay sharp.
	figW := math.Max(6, 0.8*float64(cols)+0.2) * DPI
	margin := 0.1 * DPI
	cellW := math.Floor((figW - 2*margin) / float64(cols))
	scale := math.Floor(cellW * 0.85 / float64(width))
	scale = math.Max(1, math.Min(scale, math.Floor(1.5*DPI/float64(max(width, height)))))
	tileW, tileH := scale*float64(width), scale*float64(height)
	if tileW > cellW { // very wide images: shrink by whole pixels is impossible
		return fmt.Errorf("images %d pixels wide do not fit %d columns", width, cols)
	}

	// Caption font: at most 9 points, shrunk to fit the widest caption.
	capSize := 9.0
	var widest vg.Length
	for _, im := range images {
		widest = max(widest, sans(capSize).Width(im.Caption))
	}
	if limit := dots(cellW * 0.88); widest > limit {
		capSize = math.Max(6, capSize*float64(limit/widest))
	}
	capSt := sans(capSize)
	capSt.XAlign, capSt.YAlign = draw.XCenter, draw.YTop
	capH := math.Ceil(float64(capSt.FontExtents().Height) * 1.35 / 72 * DPI)
	hasCaption := false
	for _, im := range images {
		hasCaption = hasCaption || im.Caption != ""
	}
	if !hasCaption {
		capH = 0
	}

	titleH := 0.0
	if title != "" {
		titleH = math.Ceil(float64(titleSt.FontExtents().Height)*1.6/72*DPI) + margin
	}
	rows := (len(images) + cols - 1) / cols
	rowH := tileH + capH + math.Round(0.08*DPI)
	figH := titleH + float64(rows)*rowH + margin
	used := min(cols, len(images)) // columns actually used, centred
	left := math.Floor((figW - float64(used)*cellW) / 2)

	return render(path, dots(figW), dots(figH), func(c draw.Canvas) error {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		top := c.Max.Y
		if title != "" {
			c.FillText(titleSt, vg.Point{X: c.Center().X, Y: top - dots(margin)}, title)
		}
		frame := draw.LineStyle{Color: wrongColor(), Width: dots(math.Max(2, scale/2))}
		for i, im := range images {
			r, k := i/cols, i%cols
			x0 := left + float64(k)*cellW + math.Floor((cellW-tileW)/2)
			yTop := titleH + float64(r)*rowH // from the top, in dots
			rect := vg.Rectangle{
				Min: vg.Point{X: c.Min.X + dots(x0), Y: top - dots(yTop+tileH)},
				Max: vg.Point{X: c.Min.X + dots(x0+tileW), Y: top - dots(yTop)},
			}
			c.DrawImage(rect, enlarge(im.Pix, width, height, int(scale)))
			st := capSt
			if im.Wrong {
				st.Color = wrongColor()
				d := frame.Width / 2
				c.StrokeLines(frame, []vg.Point{
					{X: rect.Min.X - d, Y: rect.Min.Y - d}, {X: rect.Max.X + d, Y: rect.Min.Y - d},
					{X: rect.Max.X + d, Y: rect.Max.Y + d}, {X: rect.Min.X - d, Y: rect.Max.Y + d},
					{X: rect.Min.X - d, Y: rect.Min.Y - d},
				})
			}
			if im.Caption != "" {
				c.FillText(st, vg.Point{X: (rect.Min.X + rect.Max.X) / 2, Y: rect.Min.Y - dots(0.25*capH)}, im.Caption)
			}
		}
		return nil
	})
}

// enlarge returns the width × height grayscale image pix with every pixel
// repeated as a scale × scale block.
func enlarge(pix []uint8, width, height, scale int) image.Image {
	img := image.NewGray(image.Rect(0, 0, width*scale, height*scale))
	for y := range height * scale {
		row := pix[(y/scale)*width : (y/scale+1)*width]
		out := img.Pix[y*img.Stride : y*img.Stride+width*scale]
		for x := range out {
			out[x] = row[x/scale]
		}
	}
	return img
}
