package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestETA(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	tr := newAt(&bytes.Buffer{}, false, c.now)
	tr.Add("a", 3) // 4 units
	tr.Add("b", 3) // 4 units
	if _, ok := tr.ETA(); ok {
		t.Fatal("an ETA before any work")
	}
	tr.Start("a")
	c.advance(10 * time.Second)
	tr.Update("a", 2, "epoch 3/3")
	steps := []struct {
		name string
		do   func()
		want time.Duration
	}{
		// 2 of 8 units in 10 s: 5 s a unit, 6 units left.
		{"two epochs", func() {}, 30 * time.Second},
		// An update that does not finish an epoch changes nothing.
		{"same epoch", func() { tr.Update("a", 2, "t-SNE 50/1000") }, 30 * time.Second},
		// Epochs counted once: a repeated or lower count does not add.
		{"no double count", func() { tr.Update("a", 1, "x") }, 30 * time.Second},
		// a done at 20 s: 4 of 8 units, 5 s a unit.
		{"run done", func() { c.advance(10 * time.Second); tr.Done("a") }, 20 * time.Second},
		// b's three epochs and its end, 8 of 8 units.
		{"all done", func() { tr.Start("b"); c.advance(20 * time.Second); tr.Update("b", 3, "figures"); tr.Done("b") }, 0},
	}
	for _, s := range steps {
		s.do()
		got, ok := tr.ETA()
		if !ok || !(got == s.want) {
			t.Errorf("%s: ETA %v (%v), want %v", s.name, got, ok, s.want)
		}
	}
}

func TestPlainLines(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	tr := newAt(&buf, false, c.now)
	for _, n := range []string{"lr=0.1_r1", "lr=0.2_r1", "lr=0.3_r1"} {
		tr.Add(n, 1)
	}
	tr.Start("lr=0.1_r1")
	fmt.Fprintf(tr, "  lr=0.1_r1: epoch 1/1 ...\n")
	c.advance(90 * time.Second)
	tr.Update("lr=0.1_r1", 1, "t-SNE 50/1000")
	tr.Done("lr=0.1_r1")
	tr.Start("lr=0.2_r1")
	c.advance(3 * time.Minute)
	tr.Done("lr=0.2_r1")
	tr.Close()
	want := "  lr=0.1_r1: epoch 1/1 ...\n" +
		"runs 1/3 done, 1m30s elapsed, ETA 3m00s\n" +
		"runs 2/3 done, 4m30s elapsed, ETA 2m15s\n"
	if got := buf.String(); got != want {
		t.Errorf("plain output\n%q\nwant\n%q", got, want)
	}
}

func TestTerminal(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	tr := newAt(&buf, true, c.now)
	tr.Add("bs=32_r1", 2)
	tr.Add("bs=64_r1", 2)
	tr.Start("bs=32_r1")
	c.advance(6 * time.Second)
	tr.Update("bs=32_r1", 1, "epoch 2/2")
	const clr = "\r\033[K"
	status := clr + "runs 0/2 done, 6s elapsed, ETA 30s | bs=32_r1 epoch 2/2"
	if !strings.HasSuffix(buf.String(), status) {
		t.Fatalf("status line: got %q, want it to end in %q", buf.String(), status)
	}
	// Updates within redrawEvery are not drawn; the next one after is.
	buf.Reset()
	c.advance(redrawEvery / 2)
	tr.Update("bs=32_r1", 1, "skipped")
	if buf.Len() != 0 {
		t.Errorf("redrawn after %v: %q", redrawEvery/2, buf.String())
	}
	c.advance(redrawEvery)
	tr.Update("bs=32_r1", 1, "drawn")
	if !strings.HasSuffix(buf.String(), "| bs=32_r1 drawn") {
		t.Errorf("not redrawn after %v: %q", redrawEvery, buf.String())
	}
	// A log line clears the status line, prints, and redraws it.
	buf.Reset()
	fmt.Fprint(tr, "a log line\n")
	if got := buf.String(); !strings.HasPrefix(got, clr+"a log line\n"+clr+"runs 0/2 done") {
		t.Errorf("log line through the tracker: %q", got)
	}
	// Close leaves no status line behind.
	buf.Reset()
	tr.Close()
	if got := buf.String(); got != clr {
		t.Errorf("Close wrote %q, want %q", got, clr)
	}
	// A long status line is cut to fit.
	tr.Start(strings.Repeat("x", 200))
	last := buf.String()[strings.LastIndex(buf.String(), clr)+len(clr):]
	if n := len([]rune(last)); n != maxStatus || !strings.HasSuffix(last, "…") {
		t.Errorf("long status line: %d runes %q", n, last)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1400 * time.Millisecond, "1s"},
		{59 * time.Second, "59s"},
		{60 * time.Second, "1m00s"},
		{190 * time.Second, "3m10s"},
		{3599 * time.Second, "59m59s"},
		{3600 * time.Second, "1h00m"},
		{26*time.Hour + 3*time.Minute, "26h03m"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
