package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxImages returns an IDX image file with the given header and payload.
func idxImages(magic, n, rows, cols uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	b = binary.BigEndian.AppendUint32(b, rows)
	b = binary.BigEndian.AppendUint32(b, cols)
	return append(b, payload...)
}

// idxLabels returns an IDX label file with the given header and payload.
func idxLabels(magic, n uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, payload...)
}

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// seq returns n bytes 0, 1, 2, ... (mod 256) starting at start.
func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkErr fails t unless err matches want: nil when want is empty, else an
// error naming path, on one line, containing want.
func checkErr(t *testing.T, err error, want, path string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	if path != "" && !strings.Contains(msg, path) {
		t.Errorf("error %q does not name the file %s", msg, path)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q spans several lines", msg)
	}
}

func TestReadImages(t *testing.T) {
	good := idxImages(ImagesMagic, 3, 2, 4, seq(24, 7))
	goodGz := gz(t, good)
	badCRC := slices.Clone(goodGz)
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 in the gzip trailer
	tests := []struct {
		name    string
		file    string // file name; detection must not depend on it
		data    []byte
		wantErr string
	}{
		{"raw", "images", good, ""},
		{"gzip", "images", goodGz, ""},
		{"raw named .gz", "images.gz", good, ""},
		{"gzip named raw", "images-idx3-ubyte", goodGz, ""},
		{"empty file", "images", nil, "empty file"},
		{"empty gzip stream", "images.gz", gz(t, nil), "empty file"},
		{"short header", "images", good[:10], "truncated: holds 10 bytes, less than the 16-byte IDX header"},
		{"truncated gzip", "images.gz", goodGz[:len(goodGz)/2], "truncated or corrupt gzip data"},
		{"gzip magic only", "images.gz", []byte{0x1f, 0x8b}, "truncated or corrupt gzip data"},
		{"gzip bad checksum", "images.gz", badCRC, "truncated or corrupt gzip data"},
		{"wrong magic", "images", idxImages(LabelsMagic, 3, 2, 4, seq(24, 0)),
			"wrong magic number 0x00000801, want 0x00000803 (an IDX image file)"},
		{"garbage magic", "images", idxImages(0x12345678, 3, 2, 4, seq(24, 0)), "wrong magic number 0x12345678"},
		{"zero rows", "images", idxImages(ImagesMagic, 3, 0, 4, nil), "image size 0x4: rows and columns must be positive"},
		{"zero cols", "images", idxImages(ImagesMagic, 3, 2, 0, nil), "image size 2x0: rows and columns must be positive"},
		{"short payload", "images", good[:len(good)-1], "truncated: holds 23 of the 24 pixel bytes of 3 images of 2x4"},
		{"short payload gzip", "images.gz", gz(t, good[:20]), "truncated: holds 4 of the 24 pixel bytes"},
		{"extra bytes", "images", append(slices.Clone(good), 1, 2), "2 extra bytes after the 24 payload bytes"},
		{"extra bytes gzip", "images.gz", gz(t, append(slices.Clone(good), 9)), "1 extra bytes"},
		{"huge header", "images", idxImages(ImagesMagic, 1<<31, 1<<16, 1<<16, nil), "damaged header?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), tt.file, tt.data)
			im, err := ReadImages(p)
			checkErr(t, err, tt.wantErr, p)
			if tt.wantErr != "" {
				return
			}
			if im.N != 3 || im.Rows != 2 || im.Cols != 4 || im.Size() != 8 {
				t.Errorf("got %d images of %dx%d (size %d), want 3 of 2x4", im.N, im.Rows, im.Cols, im.Size())
			}
			if !bytes.Equal(im.Pixels, seq(24, 7)) {
				t.Errorf("pixels = %v, want %v", im.Pixels, seq(24, 7))
			}
		})
	}
}

func TestReadImagesMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope")
	_, err := ReadImages(p)
	checkErr(t, err, "no such file", p)
	_, err = ReadLabels(p)
	checkErr(t, err, "no such file", p)
}

func TestReadImagesZeroCount(t *testing.T) {
	p := writeFile(t, t.TempDir(), "images", idxImages(ImagesMagic, 0, 28, 28, nil))
	im, err := ReadImages(p)
	if err != nil {
		t.Fatal(err)
	}
	if im.N != 0 || len(im.Pixels) != 0 || im.Rows != 28 {
		t.Errorf("got %+v, want 0 images of 28x28", im)
	}
}

func TestReadLabels(t *testing.T) {
	good := idxLabels(LabelsMagic, 5, []byte{0, 9, 3, 7, 1})
	goodGz := gz(t, good)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"raw", good, ""},
		{"gzip", goodGz, ""},
		{"empty file", nil, "empty file"},
		{"short header", good[:5], "truncated: holds 5 bytes, less than the 8-byte IDX header"},
		{"truncated gzip", goodGz[:len(goodGz)/2], "truncated or corrupt gzip data"},
		{"wrong magic", idxLabels(ImagesMagic, 5, []byte{0, 9, 3, 7, 1}),
			"wrong magic number 0x00000803, want 0x00000801 (an IDX label file)"},
		{"short payload", good[:len(good)-2], "truncated: holds 3 of 5 labels"},
		{"extra bytes", append(slices.Clone(good), 4), "1 extra bytes after the 5 payload bytes"},
		{"label 10", idxLabels(LabelsMagic, 5, []byte{0, 9, 10, 7, 1}), "label 10 at index 2 is out of range 0-9"},
		{"label 255", idxLabels(LabelsMagic, 5, []byte{0, 9, 1, 7, 255}), "label 255 at index 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "labels", tt.data)
			labels, err := ReadLabels(p)
			checkErr(t, err, tt.wantErr, p)
			if tt.wantErr == "" && !bytes.Equal(labels, []byte{0, 9, 3, 7, 1}) {
				t.Errorf("labels = %v, want [0 9 3 7 1]", labels)
			}
		})
	}
}

// TestReadPayloadGrows checks a payload larger than the up-front buffer.
func TestReadPayloadGrows(t *testing.T) {
	want := seq(initialCap+12345, 3)
	got, err := readPayload(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, not the %d written", len(got), len(want))
	}
}
