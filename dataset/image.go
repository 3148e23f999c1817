package dataset

import (
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // decoders for FromFile
	_ "image/jpeg" // decoders for FromFile
	_ "image/png"  // decoders for FromFile
	"io"
	"os"

	"golang.org/x/image/draw"
)

// Prepared is an image converted to MNIST's form, with notes on what was done.
type Prepared struct {
	// Pixels are 28×28 grayscale values, white digit on black.
	Pixels []uint8
	// Inverted is set when the input had a light background and was inverted.
	Inverted bool
	// Notes say what was done to the image, in words.
	Notes []string
}

// MaxImagePixels bounds the width×height of an image FromFile accepts
// (64 megapixels, a 256 MB RGBA decode): the size is read from the header
// before any pixel is allocated, so a huge or lying header fails cleanly.
const MaxImagePixels = 64 << 20

// FromFile decodes a PNG, JPEG or GIF image and prepares it as FromImage does.
// An image larger than MaxImagePixels is refused before it is decoded.
func FromFile(path string) (*Prepared, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := decode(f, MaxImagePixels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// decode reads an image's header, refuses it when it is empty or has more
// than maxPixels pixels, then decodes and prepares it.
func decode(r io.ReadSeeker, maxPixels int) (*Prepared, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("not a PNG, JPEG or GIF image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s image of %dx%d pixels is empty", format, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxPixels/cfg.Height {
		return nil, fmt.Errorf("%s image of %dx%d pixels is larger than the %d pixels predict accepts: scale it down",
			format, cfg.Width, cfg.Height, maxPixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, format, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("not a PNG, JPEG or GIF image: %w", err)
	}
	if b := img.Bounds(); b.Empty() || b.Dx() > cfg.Width || b.Dy() > cfg.Height {
		return nil, fmt.Errorf("%s image decodes to %dx%d pixels, not the %dx%d its header says",
			format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	p := FromImage(img)
	p.Notes = append([]string{fmt.Sprintf("%s %dx%d", format, img.Bounds().Dx(), img.Bounds().Dy())}, p.Notes...)
	return p, nil
}

// FromImage converts any image to MNIST's form the way the data set was
// made: grayscale; inverted when the background (the border's mean) is
// light; the ink's bounding box scaled so its longer side is 20 pixels; and
// placed in a 28×28 frame with its centre of mass at the centre.
func FromImage(img image.Image) *Prepared {
	b := img.Bounds()
	gray := image.NewGray(b)
	draw.Draw(gray, b, img, b.Min, draw.Src)
	p := &Prepared{}
	// Background: the mean of the border pixels.
	var sum, n float64
	for x := b.Min.X; x < b.Max.X; x++ {
		sum += float64(gray.GrayAt(x, b.Min.Y).Y) + float64(gray.GrayAt(x, b.Max.Y-1).Y)
		n += 2
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		sum += float64(gray.GrayAt(b.Min.X, y).Y) + float64(gray.GrayAt(b.Max.X-1, y).Y)
		n += 2
	}
	if sum/n > 127 {
		p.Inverted = true
		for i := range gray.Pix {
			gray.Pix[i] = 255 - gray.Pix[i]
		}
		p.Notes = append(p.Notes, "inverted (light background)")
	}
	// The ink's bounding box.
	x0, y0, x1, y1 := b.Max.X, b.Max.Y, b.Min.X, b.Min.Y
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if gray.GrayAt(x, y).Y > 64 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
			}
		}
	}
	out := image.NewGray(image.Rect(0, 0, 28, 28))
	if x0 >= x1 {
		p.Notes = append(p.Notes, "no ink found: the image is blank")
		p.Pixels = out.Pix
		return p
	}
	w, h := x1-x0, y1-y0
	scale := 20.0 / float64(max(w, h))
	sw, sh := max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))
	small := image.NewGray(image.Rect(0, 0, sw, sh))
	draw.CatmullRom.Scale(small, small.Bounds(), gray, image.Rect(x0, y0, x1, y1), draw.Src, nil)
	// Centre of mass of the scaled digit, placed at (14, 14).
	var mx, my, mass float64
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			v := float64(small.GrayAt(x, y).Y)
			mx, my, mass = mx+v*float64(x), my+v*float64(y), mass+v
		}
	}
	ox, oy := (28-sw)/2, (28-sh)/2
	if mass > 0 {
		ox, oy = int(14-mx/mass+0.5), int(14-my/mass+0.5)
		ox, oy = max(0, min(28-sw, ox)), max(0, min(28-sh, oy))
	}
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			out.SetGray(ox+x, oy+y, color.Gray{Y: small.GrayAt(x, y).Y})
		}
	}
	if w != 28 || h != 28 || b.Dx() != 28 || b.Dy() != 28 {
		p.Notes = append(p.Notes, fmt.Sprintf("resized to 28x28 (digit scaled to %dx%d, centred by mass)", sw, sh))
	}
	p.Pixels = out.Pix
	return p
}
