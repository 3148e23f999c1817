package dataset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// fuzzMaxPixels is the size bound the fuzz target decodes under: small, so
// that an input whose header claims a large image must be refused before
// its pixels are allocated.
const fuzzMaxPixels = 256 * 256

// FuzzImage feeds arbitrary bytes to the decoder and preprocessing that
// `predict` uses: no panic, images over the size bound refused from their
// header, and whatever is accepted comes out as 28×28 pixels.
func FuzzImage(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, bar(40, 40, 0, 255))
	f.Add(bytes.Clone(b.Bytes()))
	b.Reset()
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	f.Add(bytes.Clone(b.Bytes()))
	b.Reset()
	jpeg.Encode(&b, bar(28, 28, 255, 0), nil)
	f.Add(bytes.Clone(b.Bytes()))
	b.Reset()
	pal := image.NewPaletted(image.Rect(0, 0, 9, 13), color.Palette{color.Black, color.White})
	pal.Pix[50] = 1
	gif.Encode(&b, pal, nil)
	f.Add(bytes.Clone(b.Bytes()))
	b.Reset()
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 300, 300))) // over fuzzMaxPixels
	f.Add(bytes.Clone(b.Bytes()))
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decode(bytes.NewReader(data), fuzzMaxPixels)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > fuzzMaxPixels {
			t.Fatalf("accepted an image whose header says %dx%d (%v)", cfg.Width, cfg.Height, err)
		}
		if len(p.Pixels) != 28*28 {
			t.Fatalf("prepared %d pixels, want 784", len(p.Pixels))
		}
	})
}

// TestFromFileTooLarge checks that a header claiming more than
// MaxImagePixels is refused without decoding (a 1-row PNG of 2^27 columns
// would need 512 MB of RGBA).
func TestFromFileTooLarge(t *testing.T) {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)))
	raw := b.Bytes()
	// Rewrite the IHDR width (bytes 16-19) to 1<<27 and the chunk's CRC
	// (over type and data, bytes 12-28) to match.
	raw[16], raw[17], raw[18], raw[19] = 0x08, 0, 0, 0
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	_, err := decode(bytes.NewReader(raw), MaxImagePixels)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want a too-large error, got %v", err)
	}
}
