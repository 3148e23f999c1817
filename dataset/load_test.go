package dataset

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeFiles returns the four files of a small data set: nTrain and nTest
// images of rows x cols, gzip-compressed when compress is set. Image i's
// pixels are seq(rows*cols, i) and its label is i%10.
func fakeFiles(t testing.TB, nTrain, nTest, rows, cols int, compress bool) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	add := func(imagesName, labelsName string, n int) {
		var px, labels []byte
		for i := range n {
			px = append(px, seq(rows*cols, byte(i))...)
			labels = append(labels, byte(i%10))
		}
		im := idxImages(ImagesMagic, uint32(n), uint32(rows), uint32(cols), px)
		lb := idxLabels(LabelsMagic, uint32(n), labels)
		if compress {
			files[imagesName+".gz"], files[labelsName+".gz"] = gz(t, im), gz(t, lb)
		} else {
			files[imagesName], files[labelsName] = im, lb
		}
	}
	add(TrainImagesFile, TrainLabelsFile, nTrain)
	add(TestImagesFile, TestLabelsFile, nTest)
	return files
}

// writeFiles writes files into dir.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		writeFile(t, dir, name, b)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name               string
		files              func(t *testing.T) map[string][]byte
		wantErr            string
		nTrain, nTest      int
		wantRows, wantCols int
	}{
		{"raw", func(t *testing.T) map[string][]byte { return fakeFiles(t, 12, 5, 3, 4, false) },
			"", 12, 5, 3, 4},
		{"gzip", func(t *testing.T) map[string][]byte { return fakeFiles(t, 12, 5, 28, 28, true) },
			"", 12, 5, 28, 28},
		{"mixed gzip and raw", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, true)
			raw := fakeFiles(t, 12, 5, 3, 4, false)
			delete(f, TestLabelsFile+".gz")
			f[TestLabelsFile] = raw[TestLabelsFile]
			return f
		}, "", 12, 5, 3, 4},
		{"gzip preferred over raw", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, true)
			for name, b := range fakeFiles(t, 7, 2, 3, 4, false) {
				f[name] = b // a different data set under the raw names
			}
			return f
		}, "", 12, 5, 3, 4},
		{"missing file", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, true)
			delete(f, TrainLabelsFile+".gz")
			return f
		}, "missing train-labels-idx1-ubyte[.gz]", 0, 0, 0, 0},
		{"count mismatch", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, false)
			f[TestLabelsFile] = fakeFiles(t, 12, 6, 3, 4, false)[TestLabelsFile]
			return f
		}, "t10k-images-idx3-ubyte holds 5 images but ", 0, 0, 0, 0},
		{"image size mismatch", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, false)
			g := fakeFiles(t, 12, 5, 4, 3, false)
			f[TestImagesFile] = g[TestImagesFile]
			return f
		}, "training images are 3x4 but test images are 4x3", 0, 0, 0, 0},
		{"empty set", func(t *testing.T) map[string][]byte { return fakeFiles(t, 12, 0, 3, 4, false) },
			"t10k-images-idx3-ubyte: holds no images", 0, 0, 0, 0},
		{"bad file inside", func(t *testing.T) map[string][]byte {
			f := fakeFiles(t, 12, 5, 3, 4, true)
			b := f[TrainImagesFile+".gz"]
			f[TrainImagesFile+".gz"] = b[:len(b)/2]
			return f
		}, "train-images-idx3-ubyte.gz: truncated or corrupt gzip data", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files(t))
			train, test, err := Load(dir)
			checkErr(t, err, tt.wantErr, dir)
			if tt.wantErr != "" {
				if train != nil || test != nil {
					t.Errorf("Load returned sets along with the error")
				}
				return
			}
			for _, c := range []struct {
				what string
				s    *Set
				n    int
			}{{"train", train, tt.nTrain}, {"test", test, tt.nTest}} {
				if c.s.Len() != c.n || c.s.Images.N != c.n {
					t.Errorf("%s: %d images, %d labels; want %d", c.what, c.s.Images.N, c.s.Len(), c.n)
				}
				if c.s.Images.Rows != tt.wantRows || c.s.Images.Cols != tt.wantCols {
					t.Errorf("%s: images are %dx%d, want %dx%d", c.what, c.s.Images.Rows, c.s.Images.Cols, tt.wantRows, tt.wantCols)
				}
				for i := range c.n {
					if got, want := c.s.Image(i), seq(tt.wantRows*tt.wantCols, byte(i)); !bytes.Equal(got, want) {
						t.Fatalf("%s: image %d = %v, want %v", c.what, i, got, want)
					}
					if c.s.Labels[i] != byte(i%10) {
						t.Fatalf("%s: label %d = %d, want %d", c.what, i, c.s.Labels[i], i%10)
					}
				}
			}
		})
	}
}

func TestLoadCountMismatchNamesBothFiles(t *testing.T) {
	dir := t.TempDir()
	f := fakeFiles(t, 12, 5, 3, 4, true)
	f[TrainLabelsFile+".gz"] = fakeFiles(t, 11, 5, 3, 4, true)[TrainLabelsFile+".gz"]
	writeFiles(t, dir, f)
	_, _, err := Load(dir)
	want := filepath.Join(dir, TrainImagesFile+".gz") + " holds 12 images but " +
		filepath.Join(dir, TrainLabelsFile+".gz") + " holds 11 labels"
	checkErr(t, err, want, "")
}

func TestSetLenImage(t *testing.T) {
	var nilSet *Set
	if nilSet.Len() != 0 {
		t.Errorf("nil Set: Len = %d, want 0", nilSet.Len())
	}
	s := &Set{
		Images: &Images{N: 3, Rows: 1, Cols: 2, Pixels: []uint8{1, 2, 3, 4, 5, 6}},
		Labels: []uint8{7, 8, 9},
	}
	tests := []struct {
		i    int
		want []uint8
	}{{0, []uint8{1, 2}}, {1, []uint8{3, 4}}, {2, []uint8{5, 6}}}
	for _, tt := range tests {
		if got := s.Image(tt.i); !bytes.Equal(got, tt.want) {
			t.Errorf("Image(%d) = %v, want %v", tt.i, got, tt.want)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	// Appending to an image must not overwrite the next one.
	_ = append(s.Image(0), 99)
	if s.Images.Pixels[2] != 3 {
		t.Errorf("append to Image(0) overwrote image 1")
	}
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name     string
		flag     string // "good", "bad" (no files) or "" (not given)
		env      string // likewise
		defaults bool   // whether ./data/mnist holds the files
		wantHow  string // "" when an error is expected
		wantErr  []string
	}{
		{name: "flag", flag: "good", env: "good", defaults: true, wantHow: "--data"},
		{name: "env", env: "good", defaults: true, wantHow: "$MNISTGPU_DATA"},
		{name: "default", defaults: true, wantHow: "default"},
		{name: "bad flag does not fall back", flag: "bad", env: "good", defaults: true,
			wantErr: []string{"no MNIST data in --data ", ": missing train-images, train-labels, t10k-images, t10k-labels; run `mnistgpu data "}},
		{name: "bad env does not fall back", env: "bad", defaults: true,
			wantErr: []string{"no MNIST data in $MNISTGPU_DATA=", "missing train-images", "run `mnistgpu data $MNISTGPU_DATA`"}},
		{name: "nothing", wantErr: []string{
			"no MNIST data in ./data/mnist (no --data or $MNISTGPU_DATA): no such directory; run `mnistgpu data` or pass --data DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := fakeFiles(t, 3, 2, 2, 2, true)
			dirFor := func(kind, name string) string {
				switch kind {
				case "":
					return ""
				case "good":
					d := filepath.Join(root, name)
					if err := os.MkdirAll(d, 0o755); err != nil {
						t.Fatal(err)
					}
					writeFiles(t, d, files)
					return d
				}
				d := filepath.Join(root, name)
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				return d
			}
			flagDir := dirFor(tt.flag, "flag")
			t.Setenv(EnvVar, dirFor(tt.env, "env"))
			cwd := filepath.Join(root, "cwd")
			if err := os.MkdirAll(cwd, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.defaults {
				d := filepath.Join(cwd, DefaultDir)
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				writeFiles(t, d, files)
			}
			t.Chdir(cwd)

			dir, how, err := Locate(flagDir)
			if tt.wantHow == "" {
				if err == nil {
					t.Fatalf("Locate = %q, %q; want an error", dir, how)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantDir := map[string]string{"--data": flagDir, "$MNISTGPU_DATA": filepath.Join(root, "env"), "default": DefaultDir}[tt.wantHow]
			if how != tt.wantHow || dir != wantDir {
				t.Errorf("Locate = %q, %q; want %q, %q", dir, how, wantDir, tt.wantHow)
			}
			if _, _, err := Load(dir); err != nil {
				t.Errorf("Load(%q): %v", dir, err)
			}
		})
	}
}
