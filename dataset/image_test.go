package dataset

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bar draws a vertical bar (a "1") in an image of size w×h.
func bar(w, h int, ink, bg uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = bg
	}
	for y := h / 5; y < h*4/5; y++ {
		for x := w/2 - w/20 - 1; x <= w/2+w/20; x++ {
			img.SetGray(x, y, color.Gray{Y: ink})
		}
	}
	return img
}

func TestFromImage(t *testing.T) {
	cases := []struct {
		name     string
		img      image.Image
		inverted bool
	}{
		{"dark background", bar(100, 80, 255, 0), false},
		{"light background", bar(60, 60, 0, 255), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := FromImage(c.img)
			if p.Inverted != c.inverted || len(p.Pixels) != 784 {
				t.Fatalf("inverted %v (want %v), %d pixels", p.Inverted, c.inverted, len(p.Pixels))
			}
			// The digit is 20 pixels tall, centred: ink in the middle column, none in the corners.
			if p.Pixels[14*28+14] < 128 {
				t.Errorf("no ink at the centre: %d", p.Pixels[14*28+14])
			}
			if p.Pixels[0] != 0 || p.Pixels[27*28+27] != 0 {
				t.Errorf("ink in the corners")
			}
			rows := 0
			for y := 0; y < 28; y++ {
				if p.Pixels[y*28+14] > 64 {
					rows++
				}
			}
			if rows < 18 || rows > 21 {
				t.Errorf("digit is %d rows tall, want about 20", rows)
			}
		})
	}
}

func TestFromFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "one.png")
	f, _ := os.Create(good)
	png.Encode(f, bar(40, 40, 0, 255))
	f.Close()
	p, err := FromFile(good)
	if err != nil || !p.Inverted || !strings.Contains(strings.Join(p.Notes, ";"), "png 40x40") {
		t.Fatalf("FromFile: %v %+v", err, p)
	}
	bad := filepath.Join(dir, "text.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := FromFile(bad); err == nil || !strings.Contains(err.Error(), "not a PNG") {
		t.Fatalf("want a not-an-image error, got %v", err)
	}
}
