package open

import (
	"strings"
	"testing"

	"mnistgpu/kernels/cuda"
)

func TestOpen(t *testing.T) {
	_, cudaErr := cuda.Open(0, cuda.Options{})
	if cudaErr == nil {
		t.Skip("a GPU is present: this test checks the fallback")
	}
	cases := []struct {
		want     string
		wantName string // the device's name starts with this
		note     string // the note contains this
		err      string // the error contains this
	}{
		{"cpu", "cpu", "", ""},
		{"auto", "cpu", "no GPU used", ""},
		{"cuda", "", "", "--device cuda"},
		{"tpu", "", "", "want auto, cpu or cuda"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			dev, note, err := Device(c.want, 0, 1)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want an error containing %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			if !strings.HasPrefix(dev.Name(), c.wantName) || !strings.Contains(note, c.note) || (c.note == "" && note != "") {
				t.Fatalf("device %q, note %q", dev.Name(), note)
			}
		})
	}
}
