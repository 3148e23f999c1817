package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzIDX feeds arbitrary bytes, raw and gzip-compressed, to ReadImages and
// ReadLabels: neither may panic or allocate past what the file holds, an
// error is one line naming the file, and what is accepted is consistent.
func FuzzIDX(f *testing.F) {
	f.Add(idxImages(ImagesMagic, 2, 2, 3, make([]byte, 12)), false)
	f.Add(idxImages(ImagesMagic, 1, 28, 28, make([]byte, 28*28)), true)
	f.Add(idxImages(ImagesMagic, 0xffffffff, 0xffff, 0xffff, nil), false)
	f.Add(idxImages(ImagesMagic, 3, 1, 1, []byte{1, 2}), false)
	f.Add(idxLabels(LabelsMagic, 3, []byte{0, 9, 4}), false)
	f.Add(idxLabels(LabelsMagic, 3, []byte{0, 10, 4}), true)
	f.Add(idxLabels(LabelsMagic, 0x7fffffff, []byte{1}), false)
	f.Add([]byte{0x1f, 0x8b, 0, 0}, false)
	f.Add([]byte{}, false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = gz(t, data)
		}
		path := filepath.Join(dir, "f.idx")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		im, err := ReadImages(path)
		if err != nil {
			checkErrLine(t, path, err)
		} else if im.N < 0 || im.Rows <= 0 || im.Cols <= 0 || len(im.Pixels) != im.N*im.Size() {
			t.Fatalf("accepted %d images of %dx%d with %d pixel bytes", im.N, im.Rows, im.Cols, len(im.Pixels))
		}
		labels, err := ReadLabels(path)
		if err != nil {
			checkErrLine(t, path, err)
			return
		}
		for i, l := range labels {
			if l >= NumClasses {
				t.Fatalf("accepted label %d at %d", l, i)
			}
		}
	})
}

// checkErrLine fails unless err is one line that names path.
func checkErrLine(t *testing.T, path string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
		t.Fatalf("error is not one line naming %s: %q", path, msg)
	}
}
