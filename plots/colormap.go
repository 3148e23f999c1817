package plots

import (
	"image/color"
	"math"
)

// blues returns ColorBrewer's sequential "Blues" map at t in [0, 1] (white
// to dark blue).
func blues(t float64) color.RGBA {
	stops := [...]color.RGBA{
		{0xf7, 0xfb, 0xff, 0xff}, {0xde, 0xeb, 0xf7, 0xff}, {0xc6, 0xdb, 0xef, 0xff},
		{0x9e, 0xca, 0xe1, 0xff}, {0x6b, 0xae, 0xd6, 0xff}, {0x42, 0x92, 0xc6, 0xff},
		{0x21, 0x71, 0xb5, 0xff}, {0x08, 0x51, 0x9c, 0xff}, {0x08, 0x30, 0x6b, 0xff},
	}
	return interpolate(stops[:], t)
}

// blueWhiteRed returns ColorBrewer's diverging "RdBu" map, reversed, at t in
// [-1, 1]: dark blue at -1, white at 0, dark red at +1.
func blueWhiteRed(t float64) color.RGBA {
	stops := [...]color.RGBA{
		{0x05, 0x30, 0x61, 0xff}, {0x21, 0x66, 0xac, 0xff}, {0x43, 0x93, 0xc3, 0xff},
		{0x92, 0xc5, 0xde, 0xff}, {0xd1, 0xe5, 0xf0, 0xff}, {0xf7, 0xf7, 0xf7, 0xff},
		{0xfd, 0xdb, 0xc7, 0xff}, {0xf4, 0xa5, 0x82, 0xff}, {0xd6, 0x60, 0x4d, 0xff},
		{0xb2, 0x18, 0x2b, 0xff}, {0x67, 0x00, 0x1f, 0xff},
	}
	return interpolate(stops[:], (t+1)/2)
}

// interpolate returns the colour at t in [0, 1] of the piecewise-linear map
// through stops (t is clamped; NaN gives the first stop).
func interpolate(stops []color.RGBA, t float64) color.RGBA {
	if !(t > 0) {
		return stops[0]
	}
	if t >= 1 {
		return stops[len(stops)-1]
	}
	f := t * float64(len(stops)-1)
	i := int(f)
	f -= float64(i)
	a, b := stops[i], stops[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// luminance returns the relative luminance of c in [0, 1] (Rec. 709
// weights on linearised sRGB).
func luminance(c color.RGBA) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// textColorOn returns black or white, whichever contrasts more with bg.
func textColorOn(bg color.RGBA) color.Color {
	// Contrast ratios against black and white are equal at L ≈ 0.179.
	if luminance(bg) > 0.179 {
		return color.Black
	}
	return color.White
}
