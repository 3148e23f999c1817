package plots

import (
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkPNG decodes path and checks its size (its width when w > 0, its
// height when h > 0 too) and that it shows
// at least minColors distinct colours.
func checkPNG(t *testing.T, path string, w, h, minColors int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	if w > 0 && (b.Dx() != w || (h > 0 && b.Dy() != h)) {
		t.Errorf("%s is %d×%d, want %d×%d", filepath.Base(path), b.Dx(), b.Dy(), w, h)
	}
	colors := map[[4]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			colors[[4]uint32{r >> 8, g >> 8, bl >> 8, a >> 8}] = true
		}
	}
	if len(colors) < minColors {
		t.Errorf("%s has %d distinct colours, want >= %d (blank?)", filepath.Base(path), len(colors), minColors)
	}
	return img
}

// px converts inches to pixels at DPI.
func px(in float64) int { return int(in*DPI + 0.5) }

func TestFiguresWritePNG(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 1))
	conf := make([][]int, 10)
	for i := range conf {
		conf[i] = make([]int, 10)
		for j := range conf[i] {
			conf[i][j] = r.IntN(20)
		}
		conf[i][i] = 900 + r.IntN(200)
	}
	digit := make([]uint8, 28*28)
	for y := 6; y < 22; y++ {
		digit[y*28+14] = 255
		digit[y*28+13] = 180
	}
	var thumbs []Thumb
	for i := range 20 {
		thumbs = append(thumbs, Thumb{Pix: digit, Caption: "pred 3 / true 5", Wrong: i%3 == 0})
	}
	weights := make([]float32, 4*4*3*3)
	for i := range weights {
		weights[i] = float32(r.NormFloat64())
	}
	var curves []ROCCurve
	for c := range 10 {
		curves = append(curves, ROCCurve{Name: string(rune('0' + c)), FPR: []float64{0, 0, 0.1, 1}, TPR: []float64{0, 0.5 + 0.04*float64(c), 1, 1}, AUC: 0.97})
	}
	curves = append(curves, ROCCurve{Name: "micro-average", FPR: []float64{0, 0.05, 1}, TPR: []float64{0, 0.9, 1}, AUC: 0.98, Average: true})
	curves = append(curves, ROCCurve{Name: "no positives", FPR: []float64{0, 1}, TPR: []float64{math.NaN(), math.NaN()}, AUC: math.NaN()})
	pts := make([][2]float64, 10000)
	labels := make([]int, len(pts))
	for i := range pts {
		labels[i] = i % 10
		a := float64(labels[i]) * 2 * math.Pi / 10
		pts[i] = [2]float64{10*math.Cos(a) + r.NormFloat64(), 10*math.Sin(a) + r.NormFloat64()}
	}

	tests := []struct {
		name      string
		draw      func(path string) error
		w, h      int // h == 0: only the width is fixed
		minColors int
	}{
		{"curves", func(p string) error {
			return Curves(p, "Loss", "loss", []float64{1, 2, 3, 4, 5},
				[]Series{{"training", []float64{0.9, 0.5, 0.3, 0.25, 0.2}}, {"validation", []float64{0.8, 0.5, math.NaN(), 0.3, 0.31}}})
		}, px(6), px(4.5), 4},
		{"curves many epochs", func(p string) error {
			x := make([]float64, 100)
			y := make([]float64, 100)
			for i := range x {
				x[i], y[i] = float64(i+1), 1-math.Exp(-float64(i)/20)
			}
			return Curves(p, "Accuracy", "accuracy", x, []Series{{"training", y}})
		}, px(6), px(4.5), 3},
		{"confusion", func(p string) error { return ConfusionMatrix(p, "Confusion", conf, nil) }, px(6), px(5.5), 5},
		{"confusion named", func(p string) error {
			return ConfusionMatrix(p, "Confusion", [][]int{{5, 1}, {0, 7}}, []string{"cat", "dog"})
		}, px(6), px(5.5), 4},
		{"image grid", func(p string) error { return ImageGrid(p, "Wrong predictions", thumbs, 28, 28, 8) }, px(6.6), 0, 4},
		{"image grid few", func(p string) error { return ImageGrid(p, "Few", thumbs[:3], 28, 28, 8) }, px(6.6), 0, 4},
		{"image grid none", func(p string) error { return ImageGrid(p, "None", nil, 28, 28, 8) }, px(6), px(2), 3},
		{"filters", func(p string) error { return Filters(p, "conv2", weights, 4, 4, 3) }, px(6), px(4.5), 10},
		{"filters zero", func(p string) error { return Filters(p, "zero", make([]float32, 9), 1, 1, 3) }, px(6), px(4.5), 3},
		{"roc", func(p string) error { return ROC(p, "ROC", curves) }, px(11), px(4.8), 10},
		{"scatter 10k", func(p string) error { return Scatter2D(p, "t-SNE", pts, labels, nil) }, px(7), px(4.8), 10},
		{"bars", func(p string) error {
			return Bars(p, "Batch size", "accuracy", []string{"32", "64", "128"}, []float64{0.93, 0.95, 0.94}, []float64{0.01, 0.005, 0})
		}, px(6), px(4.5), 4},
		{"bars negative long names", func(p string) error {
			return Bars(p, "Deltas", "change", []string{"without batch normalisation", "without dropout", "sigmoid"}, []float64{-0.01, 0.002, -0.04}, nil)
		}, px(6), px(4.5), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := tc.draw(path); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path, tc.w, tc.h, tc.minColors)
		})
	}
	// No temporary files left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestImageGridLayout(t *testing.T) {
	dir := t.TempDir()
	pix := make([]uint8, 28*28)
	for i := range pix {
		pix[i] = uint8(i)
	}
	tests := []struct {
		name string
		n    int
		cols int
	}{
		{"one row", 8, 8},
		{"partial last row", 13, 8},
		{"64 images", 64, 8},
		{"default cols", 10, 0},
		{"wide", 20, 16},
	}
	prevHeight := map[int]int{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			thumbs := make([]Thumb, tc.n)
			for i := range thumbs {
				thumbs[i] = Thumb{Pix: pix, Caption: "pred 1 / true 1"}
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := ImageGrid(path, tc.name, thumbs, 28, 28, tc.cols); err != nil {
				t.Fatal(err)
			}
			cols := tc.cols
			if cols == 0 {
				cols = 8
			}
			img := checkPNG(t, path, 0, 0, 10)
			if want := px(math.Max(6, 0.8*float64(cols)+0.2)); img.Bounds().Dx() != want {
				t.Errorf("width %d, want %d", img.Bounds().Dx(), want)
			}
			rows := (tc.n + cols - 1) / cols
			prevHeight[rows] = img.Bounds().Dy()
		})
	}
	if prevHeight[8] <= prevHeight[2] || prevHeight[2] <= prevHeight[1] {
		t.Errorf("heights by rows %v do not grow with the rows", prevHeight)
	}
}

func TestSVG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loss.svg")
	if err := Curves(path, "Loss", "loss", []float64{1, 2, 3}, []Series{{"training", []float64{1, 0.5, 0.25}}}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "grid.SVG")
	if err := ImageGrid(img, "grid", []Thumb{{Pix: make([]uint8, 4), Caption: "x"}}, 2, 2, 4); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, img} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(f)
		root := ""
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", p, err)
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		f.Close()
		if root != "svg" {
			t.Errorf("%s: root element %q, want svg", p, root)
		}
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.png")
	nan := math.NaN()
	tests := []struct {
		name string
		draw func() error
	}{
		{"curves no x", func() error { return Curves(p, "", "", nil, []Series{{"a", nil}}) }},
		{"curves no series", func() error { return Curves(p, "", "", []float64{1}, nil) }},
		{"curves length", func() error { return Curves(p, "", "", []float64{1, 2}, []Series{{"a", []float64{1}}}) }},
		{"curves NaN x", func() error { return Curves(p, "", "", []float64{nan}, []Series{{"a", []float64{1}}}) }},
		{"confusion empty", func() error { return ConfusionMatrix(p, "", nil, nil) }},
		{"confusion ragged", func() error { return ConfusionMatrix(p, "", [][]int{{1, 2}, {3}}, nil) }},
		{"confusion negative", func() error { return ConfusionMatrix(p, "", [][]int{{1, -2}, {3, 4}}, nil) }},
		{"confusion names", func() error { return ConfusionMatrix(p, "", [][]int{{1, 2}, {3, 4}}, []string{"a"}) }},
		{"grid pixels", func() error { return ImageGrid(p, "", []Thumb{{Pix: make([]uint8, 10)}}, 28, 28, 8) }},
		{"grid size", func() error { return ImageGrid(p, "", nil, 0, 28, 8) }},
		{"filters length", func() error { return Filters(p, "", make([]float32, 10), 1, 1, 3) }},
		{"filters shape", func() error { return Filters(p, "", nil, 0, 1, 3) }},
		{"filters NaN", func() error { return Filters(p, "", []float32{float32(nan)}, 1, 1, 1) }},
		{"roc none", func() error { return ROC(p, "", nil) }},
		{"roc length", func() error { return ROC(p, "", []ROCCurve{{FPR: []float64{0, 1}, TPR: []float64{0}}}) }},
		{"scatter empty", func() error { return Scatter2D(p, "", nil, nil, nil) }},
		{"scatter labels", func() error { return Scatter2D(p, "", [][2]float64{{0, 0}}, nil, nil) }},
		{"scatter negative label", func() error { return Scatter2D(p, "", [][2]float64{{0, 0}}, []int{-1}, nil) }},
		{"scatter unnamed label", func() error { return Scatter2D(p, "", [][2]float64{{0, 0}}, []int{2}, []string{"a", "b"}) }},
		{"scatter NaN", func() error { return Scatter2D(p, "", [][2]float64{{nan, 0}}, []int{0}, nil) }},
		{"bars empty", func() error { return Bars(p, "", "", nil, nil, nil) }},
		{"bars means", func() error { return Bars(p, "", "", []string{"a"}, nil, nil) }},
		{"bars stds", func() error { return Bars(p, "", "", []string{"a"}, []float64{1}, []float64{1, 2}) }},
		{"bars negative std", func() error { return Bars(p, "", "", []string{"a"}, []float64{1}, []float64{-1}) }},
		{"bars NaN", func() error { return Bars(p, "", "", []string{"a"}, []float64{nan}, nil) }},
		{"unknown extension", func() error {
			return Curves(filepath.Join(dir, "x.jpg"), "", "", []float64{1}, []Series{{"a", []float64{1}}})
		}},
		{"missing folder", func() error {
			return Curves(filepath.Join(dir, "no", "x.png"), "", "", []float64{1}, []Series{{"a", []float64{1}}})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.draw()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "plots: ") {
				t.Errorf("error %q lacks the package context", err)
			}
		})
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a failed call left %s behind", p)
	}
}

func TestThinCollinear(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want int
	}{
		{"vertical run", []float64{0, 0, 0, 0, 1}, []float64{0, 0.2, 0.5, 1, 1}, 3},
		{"diagonal", []float64{0, 0.25, 0.5, 1}, []float64{0, 0.25, 0.5, 1}, 2},
		{"staircase", []float64{0, 0, 0.5, 0.5, 1}, []float64{0, 0.5, 0.5, 1, 1}, 5},
		{"NaN dropped", []float64{0, math.NaN(), 1}, []float64{0, 0.5, 1}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := thinCollinear(tc.x, tc.y); len(got) != tc.want {
				t.Errorf("got %d points %v, want %d", len(got), got, tc.want)
			}
		})
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi   float64
		wantStep float64
	}{
		{0, 1, 0.2},
		{0.82, 0.96, 0.02},
		{-80, 80, 50},
		{0.15, 0.62, 0.1},
	}
	for _, tc := range tests {
		var major []float64
		for _, tk := range (niceTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				major = append(major, tk.Value)
			}
		}
		if len(major) < 3 || len(major) > 9 {
			t.Errorf("[%v, %v]: %d labelled ticks %v", tc.lo, tc.hi, len(major), major)
			continue
		}
		if step := major[1] - major[0]; !(math.Abs(step-tc.wantStep) <= 1e-9) {
			t.Errorf("[%v, %v]: step %v, want %v", tc.lo, tc.hi, step, tc.wantStep)
		}
	}
}

func TestClassColorDistinct(t *testing.T) {
	seen := map[[3]uint8]bool{}
	for i := range 10 {
		c := ClassColor(i)
		seen[[3]uint8{c.R, c.G, c.B}] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d distinct colours among 10 classes", len(seen))
	}
	if ClassColor(13) != ClassColor(3) || ClassColor(-1) != ClassColor(9) {
		t.Error("ClassColor does not wrap around")
	}
}

// TestCurvesAllNaN checks that a diverged run's curves still give a figure.
func TestCurvesAllNaN(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nan.png")
	nan := math.NaN()
	if err := Curves(p, "loss", "loss", []float64{1, 2}, []Series{{"training", []float64{nan, nan}}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
}
