package cpu

import "testing"

// nopTask does nothing, to time a hand-off.
type nopTask struct{ n [64]int }

func (t *nopTask) run(w, lo, hi int) { t.n[w] += hi - lo }

// BenchmarkPoolHandoff times parallel() with two trivial chunks: the cost of
// waking a helper and waiting for it.
func BenchmarkPoolHandoff(b *testing.B) {
	d := New(0)
	defer d.Close()
	t := &nopTask{}
	for b.Loop() {
		d.pool.parallel(t, 2, 1)
	}
}
