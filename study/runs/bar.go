package runs

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bar draws an in-place progress bar for one epoch on a terminal, redrawn at
// most ten times a second.
type bar struct {
	w            io.Writer
	epoch, total int
	start, last  time.Time
}

func newBar(w io.Writer, epoch, epochs int) *bar {
	now := time.Now()
	return &bar{w: w, epoch: epoch, total: epochs, start: now, last: now}
}

func (b *bar) update(done, total int) {
	now := time.Now()
	if done != total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	fill := width * done / total
	el := now.Sub(b.start).Seconds()
	eta := 0.0
	if done > 0 {
		eta = el / float64(done) * float64(total-done)
	}
	fmt.Fprintf(b.w, "\repoch %d/%d [%s%s] %d/%d  %.0fs left", b.epoch, b.total,
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, eta)
}
