// Package progress shows the overall progress of a batch of training runs
// (a sweep, the report): runs done of the total, what each running run is
// doing, the time elapsed and an estimate of the time left.
//
// On a terminal a Tracker keeps one status line at the bottom, redrawn in
// place, and the log lines written through it scroll above it. Elsewhere
// (a log file, CI) it writes a plain line each time a run finishes.
//
// The estimate counts work in epochs: a run of E epochs is E+1 units, the
// extra one for its test pass and figures. The time left is the time
// elapsed per unit done so far times the units left, which also holds for
// runs that train in parallel.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Tracker follows a batch of runs. Its methods may be called from several
// goroutines. The zero value is not usable; call New.
type Tracker struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	now   func() time.Time
	start time.Time
	// lastDraw is when the status line was last drawn (terminal only).
	lastDraw time.Time
	// drawn says a status line is on screen, to be cleared before output.
	drawn bool

	runs     map[string]*run
	active   []string // running runs, in start order
	total    int
	finished int
	units    float64 // all work, in units
	doneUnit float64 // work done, in units
}

type run struct {
	epochs int
	// epochsDone are the epochs finished; stage is what the run does now.
	epochsDone int
	stage      string
	units      float64 // units of this run counted in doneUnit so far
}

// redrawEvery is the shortest time between two redraws of the status
// line for in-run updates; starts, ends and log lines redraw at once.
const redrawEvery = 200 * time.Millisecond

// maxStatus is the longest status line, in runes, so that it fits an
// ordinary terminal without wrapping (a wrapped line cannot be redrawn in
// place).
const maxStatus = 110

// New returns a Tracker writing to w; tty says whether w is a terminal
// that can redraw a line in place.
func New(w io.Writer, tty bool) *Tracker {
	return newAt(w, tty, time.Now)
}

// newAt is New with a clock, for tests.
func newAt(w io.Writer, tty bool, now func() time.Time) *Tracker {
	return &Tracker{w: w, tty: tty, now: now, start: now(), runs: map[string]*run{}}
}

// Add announces a run to come, of epochs epochs, before any run starts.
// The clock starts at New, so add every run right after it.
func (t *Tracker) Add(name string, epochs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.runs[name]; ok {
		return
	}
	t.runs[name] = &run{epochs: epochs, stage: "waiting"}
	t.total++
	t.units += float64(epochs + 1)
}

// Start marks a run as running.
func (t *Tracker) Start(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(name)
	r.stage = "starting"
	t.active = append(t.active, name)
	t.draw(true)
}

// Update records that a run has finished epochsDone epochs and is now
// doing stage (for example "epoch 3/10" or "t-SNE 250/1000").
func (t *Tracker) Update(name string, epochsDone int, stage string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(name)
	r.epochsDone, r.stage = min(epochsDone, r.epochs), stage
	t.count(r, float64(r.epochsDone))
	t.draw(false)
}

// Done marks a run as finished, trained or failed, and on a non-terminal
// writes one line of overall progress.
func (t *Tracker) Done(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(name)
	t.count(r, float64(r.epochs+1))
	r.stage = "done"
	for i, a := range t.active {
		if a == name {
			t.active = append(t.active[:i], t.active[i+1:]...)
			break
		}
	}
	t.finished++
	if t.tty {
		t.draw(true)
		return
	}
	fmt.Fprintln(t.w, t.line(false))
}

// Write passes log output through to the writer, keeping the status line
// below it on a terminal. Write whole lines.
func (t *Tracker) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
	n, err := t.w.Write(p)
	if len(p) > 0 && p[len(p)-1] == '\n' {
		t.draw(true)
	}
	return n, err
}

// Close removes the status line from a terminal.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
}

// get returns the run called name, adding it if it was not announced.
func (t *Tracker) get(name string) *run {
	r, ok := t.runs[name]
	if !ok {
		r = &run{}
		t.runs[name] = r
		t.total++
		t.units++
	}
	return r
}

// count sets the units of r that are done.
func (t *Tracker) count(r *run, units float64) {
	if units > r.units {
		t.doneUnit += units - r.units
		r.units = units
	}
}

// ETA estimates the time left: the time per unit of work so far times the
// units left. ok is false before any work is done.
func (t *Tracker) ETA() (left time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.eta()
}

func (t *Tracker) eta() (time.Duration, bool) {
	if !(t.doneUnit > 0) {
		return 0, false
	}
	el := t.now().Sub(t.start)
	left := float64(el) / t.doneUnit * (t.units - t.doneUnit)
	return time.Duration(max(left, 0)), true
}

// line is the progress line: "runs 3/12 done, 1m12s elapsed, ETA 3m10s",
// with the running runs and their stages when withActive is set.
func (t *Tracker) line(withActive bool) string {
	eta := "ETA --"
	if left, ok := t.eta(); ok {
		eta = "ETA " + Duration(left)
	}
	s := fmt.Sprintf("runs %d/%d done, %s elapsed, %s", t.finished, t.total, Duration(t.now().Sub(t.start)), eta)
	if !withActive || len(t.active) == 0 {
		return s
	}
	var parts []string
	for _, name := range t.active {
		parts = append(parts, name+" "+t.runs[name].stage)
	}
	s += " | " + strings.Join(parts, ", ")
	if r := []rune(s); len(r) > maxStatus {
		s = string(r[:maxStatus-1]) + "…"
	}
	return s
}

// draw redraws the status line on a terminal; unless force, at most every
// redrawEvery.
func (t *Tracker) draw(force bool) {
	if !t.tty {
		return
	}
	now := t.now()
	if !force && now.Sub(t.lastDraw) < redrawEvery {
		return
	}
	t.lastDraw = now
	fmt.Fprint(t.w, "\r\033[K"+t.line(true))
	t.drawn = true
}

// clear removes the status line from the terminal.
func (t *Tracker) clear() {
	if t.drawn {
		fmt.Fprint(t.w, "\r\033[K")
		t.drawn = false
	}
}

// Duration formats d as "45s", "3m10s" or "1h02m".
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
}
