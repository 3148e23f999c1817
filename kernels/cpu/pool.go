package cpu

// A pool is a fixed set of worker goroutines, created once by New, that run
// the chunks of a parallel op. It allocates nothing per call: a task is a
// pointer to a preallocated struct (stored in the Device or in a plan) that
// implements task, and chunks travel by value through per-worker channels.
//
// Chunk 0 of every op runs on the calling goroutine, so a one-thread pool has
// no helper goroutines and an op with a single chunk costs no hand-off.
type pool struct {
	threads int
	work    []chan chunk  // work[w-1] feeds helper w (1 <= w < threads)
	done    chan struct{} // one token per finished helper chunk
}

// task is the body of a parallel op. run processes items [lo, hi) of the op
// as chunk number w (0 <= w < threads); w selects per-thread scratch.
type task interface {
	run(w, lo, hi int)
}

// chunk is one piece of a parallel op handed to a helper goroutine.
type chunk struct {
	t      task
	w      int
	lo, hi int
}

// newPool starts threads-1 helper goroutines.
func newPool(threads int) *pool {
	p := &pool{
		threads: threads,
		work:    make([]chan chunk, threads-1),
		done:    make(chan struct{}, threads),
	}
	for i := range p.work {
		p.work[i] = make(chan chunk, 1)
		go p.helper(p.work[i])
	}
	return p
}

// helper runs chunks until its channel is closed.
func (p *pool) helper(in <-chan chunk) {
	for c := range in {
		c.t.run(c.w, c.lo, c.hi)
		p.done <- struct{}{}
	}
}

// close stops the helper goroutines.
func (p *pool) close() {
	for _, c := range p.work {
		close(c)
	}
	p.work = nil
	p.threads = 1
}

// parallel runs t over the items [0, total), split into at most p.threads
// contiguous chunks of at least grain items (grain >= 1), and returns when
// all chunks are done. The split is deterministic: chunk w always covers the
// same items for the same (total, grain, threads), so per-thread partial sums
// reduce in the same order every time.
func (p *pool) parallel(t task, total, grain int) {
	if total <= 0 {
		return
	}
	nc := p.chunks(total, grain)
	if nc == 1 {
		t.run(0, 0, total)
		return
	}
	for w := 1; w < nc; w++ {
		p.work[w-1] <- chunk{t: t, w: w, lo: w * total / nc, hi: (w + 1) * total / nc}
	}
	t.run(0, 0, total/nc)
	for w := 1; w < nc; w++ {
		<-p.done
	}
}

// chunks is the number of chunks parallel uses for total items.
func (p *pool) chunks(total, grain int) int {
	if grain < 1 {
		grain = 1
	}
	nc := total / grain
	if nc > p.threads {
		nc = p.threads
	}
	if nc < 1 {
		nc = 1
	}
	return nc
}
