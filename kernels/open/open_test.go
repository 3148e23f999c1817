package open

import (
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	if Probe().OK() {
		t.Skip("a GPU is present: this test checks the fallback")
	}
	cases := []struct {
		want     string
		wantName string // the device's name starts with this
		note     string // the note starts with this
		err      string // the error contains this
	}{
		{"cpu", "cpu", "", ""},
		{"auto", "cpu", "no GPU: ", ""},
		{"cuda", "", "", "--device cuda: "},
		{"tpu", "", "", "want auto, cpu or cuda"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			dev, note, err := Device(c.want, 0, 1)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want an error containing %q, got %v", c.err, err)
				}
				if msg := err.Error(); strings.Contains(msg, "\n") || !(len(msg) <= 150) {
					t.Fatalf("error is not one short line: %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			if !strings.HasPrefix(dev.Name(), c.wantName) || !strings.HasPrefix(note, c.note) || (c.note == "" && note != "") {
				t.Fatalf("device %q, note %q", dev.Name(), note)
			}
			if note != "" && (strings.Contains(note, "\n") || !(len(note) <= 150) ||
				!strings.HasSuffix(note, " (mnistgpu devices for details); running on cpu")) {
				t.Fatalf("note is not one short line pointing to mnistgpu devices: %q", note)
			}
		})
	}
}

// TestProbe checks that a failed probe says why, with the full report.
func TestProbe(t *testing.T) {
	s := Probe()
	if s.OK() {
		if len(s.GPUs) == 0 {
			t.Fatal("OK without GPUs")
		}
		return
	}
	if s.Problem == "" || s.String() == "" || len(s.GPUs) != 0 {
		t.Fatalf("failed probe %+v", s)
	}
}
