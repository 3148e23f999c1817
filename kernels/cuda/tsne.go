package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"mnistgpu/kernels"
)

var _ kernels.TSNEDevice = (*Device)(nil)

// maxKNNPoints and maxKNNNeighbors bound TSNENeighbors: a block holds one
// point's distances to all points in shared memory (TSNE_KNN_MAXN in
// tsne.cu) and gathers at most one neighbour per thread.
const maxKNNPoints, maxKNNNeighbors = 10240, blockSize

// maxTSNEPoints bounds a device t-SNE: the exact gradient is O(n²) per
// iteration, and the kernels index with int.
const maxTSNEPoints = 1 << 20

// tsnePlan is a t-SNE problem on the GPU (kernels.TSNEPlan): P in
// compressed rows, positions, updates, gains and the scratch of the four
// kernels of tsne.cu, all allocated by NewTSNE.
type tsnePlan struct {
	d *Device
	n int
	// tiles is the number of BLOCK-point tiles; slices is S, the number of
	// slices of the other points each tile is paired with (per points each),
	// chosen so that tiles·slices blocks fill the GPU.
	tiles, slices, per int

	rowStart, col, val             *buffer
	y, upd, gains, grad, attr, rep *buffer
	zpart, cepart, stats           *buffer // doubles, 2 F32 elements each
	owned                          []kernels.Buffer
	hasCE                          bool
	statsHost                      [2]float64
	closed                         bool
}

// NewTSNE uploads a t-SNE problem (kernels.TSNEDevice). It checks P's
// structure, so that no kernel can read outside its buffers.
func (d *Device) NewTSNE(p kernels.TSNEProblem) (kernels.TSNEPlan, error) {
	if err := checkTSNEProblem(p); err != nil {
		return nil, fmt.Errorf("cuda: NewTSNE: %w", err)
	}
	n := p.N
	pl := &tsnePlan{d: d, n: n, tiles: ceilDiv(n, blockSize)}
	// Aim at 8 blocks (2048 threads, a full H100 multiprocessor) per
	// multiprocessor; a slice is at least one tile.
	want := 8 * max(1, d.gpu.SMs)
	s := max(1, min(ceilDiv(want, pl.tiles), pl.tiles))
	pl.per = ceilDiv(pl.tiles, s) * blockSize
	pl.slices = ceilDiv(n, pl.per)

	alloc := func(dt kernels.DType, count int) (*buffer, error) {
		b, err := d.Alloc(dt, count)
		if err != nil {
			return nil, err
		}
		pl.owned = append(pl.owned, b)
		return b.(*buffer), nil
	}
	nnz := len(p.Col)
	var err error
	for _, a := range []struct {
		dst   **buffer
		dt    kernels.DType
		count int
	}{
		{&pl.rowStart, kernels.I32, n + 1},
		{&pl.col, kernels.I32, nnz},
		{&pl.val, kernels.F32, nnz},
		{&pl.y, kernels.F32, 2 * n},
		{&pl.upd, kernels.F32, 2 * n},
		{&pl.gains, kernels.F32, 2 * n},
		{&pl.grad, kernels.F32, 2 * n},
		{&pl.attr, kernels.F32, 2 * n},
		{&pl.rep, kernels.F32, 2 * n * pl.slices},
		{&pl.zpart, kernels.F32, 2 * pl.tiles * pl.slices},
		{&pl.cepart, kernels.F32, 2 * pl.tiles},
		{&pl.stats, kernels.F32, 2 * 2},
	} {
		if *a.dst, err = alloc(a.dt, a.count); err != nil {
			pl.Close()
			return nil, fmt.Errorf("cuda: NewTSNE: %w", err)
		}
	}
	for _, u := range []struct {
		dst *buffer
		src any
	}{{pl.rowStart, p.RowStart}, {pl.col, p.Col}, {pl.val, p.Val}, {pl.y, p.Y}} {
		if err := d.Upload(u.dst, u.src); err != nil {
			pl.Close()
			return nil, fmt.Errorf("cuda: NewTSNE: %w", err)
		}
	}
	if err := d.Fill(pl.gains, 1); err != nil {
		pl.Close()
		return nil, fmt.Errorf("cuda: NewTSNE: %w", err)
	}
	return pl, nil
}

// checkTSNEProblem checks the lengths and the compressed-row structure.
func checkTSNEProblem(p kernels.TSNEProblem) error {
	n := p.N
	switch {
	case n < 2 || n > maxTSNEPoints:
		return fmt.Errorf("%d points, want 2 to %d", n, maxTSNEPoints)
	case len(p.Y) != 2*n:
		return fmt.Errorf("%d positions for %d points, want %d", len(p.Y), n, 2*n)
	case len(p.RowStart) != n+1:
		return fmt.Errorf("%d row offsets for %d points, want %d", len(p.RowStart), n, n+1)
	case len(p.Col) != len(p.Val):
		return fmt.Errorf("%d columns but %d values", len(p.Col), len(p.Val))
	case p.RowStart[0] != 0 || int(p.RowStart[n]) != len(p.Col):
		return fmt.Errorf("row offsets run from %d to %d, want 0 to %d", p.RowStart[0], p.RowStart[n], len(p.Col))
	}
	for i := range n {
		if p.RowStart[i+1] < p.RowStart[i] {
			return fmt.Errorf("row offsets decrease at row %d", i)
		}
	}
	for m, j := range p.Col {
		if j < 0 || int(j) >= n {
			return fmt.Errorf("column %d at entry %d, want 0 to %d", j, m, n-1)
		}
	}
	return nil
}

var errTSNEClosed = errors.New("cuda: t-SNE plan is closed")

// Step runs one iteration: four launches, no copy, no wait.
func (pl *tsnePlan) Step(exaggeration, momentum, rate float32, withCE bool) error {
	if pl.closed {
		return errTSNEClosed
	}
	d := pl.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	ce := 0
	if withCE {
		ce = 1
	}
	n, blocks := pl.n, pl.tiles*pl.slices
	if err := d.launch(kTSNEAttract, pl.tiles, argPtr(pl.rowStart), argPtr(pl.col), argPtr(pl.val), argPtr(pl.y),
		argPtr(pl.attr), argPtr(pl.cepart), argInt(n), argInt(ce)); err != nil {
		return fmt.Errorf("cuda: t-SNE step: %w", err)
	}
	if err := d.launch(kTSNERepulse, blocks, argPtr(pl.y), argPtr(pl.rep), argPtr(pl.zpart),
		argInt(n), argInt(pl.slices), argInt(pl.per)); err != nil {
		return fmt.Errorf("cuda: t-SNE step: %w", err)
	}
	if err := d.launch(kTSNEReduce, 1, argPtr(pl.zpart), argInt(blocks), argPtr(pl.cepart), argInt(pl.tiles),
		argPtr(pl.stats), argInt(ce)); err != nil {
		return fmt.Errorf("cuda: t-SNE step: %w", err)
	}
	if err := d.launch(kTSNEUpdate, d.grid(2*n), argPtr(pl.y), argPtr(pl.upd), argPtr(pl.gains), argPtr(pl.grad),
		argPtr(pl.attr), argPtr(pl.rep), argPtr(pl.stats), argInt(n), argInt(pl.slices),
		argF32(exaggeration), argF32(momentum), argF32(rate)); err != nil {
		return fmt.Errorf("cuda: t-SNE step: %w", err)
	}
	pl.hasCE = withCE
	return nil
}

// CrossEntropy downloads the value kept by the last Step with withCE.
func (pl *tsnePlan) CrossEntropy() (float64, error) {
	if pl.closed {
		return 0, errTSNEClosed
	}
	if !pl.hasCE {
		return 0, errors.New("cuda: t-SNE: the last step did not compute the cross-entropy")
	}
	d := pl.d
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	h := &pl.statsHost
	st := d.cu.cuMemcpyDtoHAsync(unsafe.Pointer(&h[0]), pl.stats.ptr, 16, d.stream)
	if st != 0 {
		return 0, d.cu.err("cuMemcpyDtoHAsync_v2", st)
	}
	st = d.cu.cuStreamSynchronize(d.stream)
	runtime.KeepAlive(h)
	if err := d.cu.err("cuStreamSynchronize", st); err != nil {
		return 0, err
	}
	return h[1], nil
}

// Gradient downloads the gradient of the last Step.
func (pl *tsnePlan) Gradient(dst []float32) error { return pl.download("Gradient", dst, pl.grad) }

// Positions downloads the current positions.
func (pl *tsnePlan) Positions(dst []float32) error { return pl.download("Positions", dst, pl.y) }

func (pl *tsnePlan) download(op string, dst []float32, src *buffer) error {
	if pl.closed {
		return errTSNEClosed
	}
	if len(dst) < 2*pl.n {
		return fmt.Errorf("cuda: t-SNE %s: %d values, need %d", op, len(dst), 2*pl.n)
	}
	return pl.d.Download(dst[:2*pl.n], src)
}

// Close frees the plan's buffers (it waits for queued work).
func (pl *tsnePlan) Close() error {
	if pl.closed {
		return nil
	}
	pl.closed = true
	for _, b := range pl.owned {
		pl.d.Free(b)
	}
	pl.owned = nil
	return nil
}

// TSNENeighbors finds each point's k nearest other points on the GPU
// (kernels.TSNEDevice): one block per point, the squared distances in
// float32, a radix select in shared memory. It uploads x, waits, and
// downloads the result.
func (d *Device) TSNENeighbors(x []float32, n, dim, k int, nbr []int32, dist2 []float32) error {
	switch {
	case n < 2 || n > maxKNNPoints:
		return fmt.Errorf("cuda: TSNENeighbors: %d points, want 2 to %d", n, maxKNNPoints)
	case dim < 1 || len(x) != n*dim:
		return fmt.Errorf("cuda: TSNENeighbors: %d values for %d points of %d features", len(x), n, dim)
	case k < 1 || k >= n || k > maxKNNNeighbors:
		return fmt.Errorf("cuda: TSNENeighbors: k = %d, want 1 to min(n-1, %d)", k, maxKNNNeighbors)
	case len(nbr) < n*k || len(dist2) < n*k:
		return fmt.Errorf("cuda: TSNENeighbors: room for %d neighbours and %d distances, need %d", len(nbr), len(dist2), n*k)
	}
	var bufs []kernels.Buffer
	defer func() {
		for _, b := range bufs {
			d.Free(b)
		}
	}()
	alloc := func(dt kernels.DType, count int) (*buffer, error) {
		b, err := d.Alloc(dt, count)
		if err != nil {
			return nil, fmt.Errorf("cuda: TSNENeighbors: %w", err)
		}
		bufs = append(bufs, b)
		return b.(*buffer), nil
	}
	xb, err := alloc(kernels.F32, n*dim)
	if err != nil {
		return err
	}
	nb, err := alloc(kernels.I32, n*k)
	if err != nil {
		return err
	}
	db, err := alloc(kernels.F32, n*k)
	if err != nil {
		return err
	}
	if err := d.Upload(xb, x); err != nil {
		return fmt.Errorf("cuda: TSNENeighbors: %w", err)
	}
	if err := func() error {
		if err := d.enter(); err != nil {
			return err
		}
		defer d.leave()
		return d.launch(kTSNEKNN, n, argPtr(xb), argInt(n), argInt(dim), argInt(k), argPtr(nb), argPtr(db))
	}(); err != nil {
		return fmt.Errorf("cuda: TSNENeighbors: %w", err)
	}
	if err := d.Download(nbr[:n*k], nb); err != nil {
		return fmt.Errorf("cuda: TSNENeighbors: %w", err)
	}
	if err := d.Download(dist2[:n*k], db); err != nil {
		return fmt.Errorf("cuda: TSNENeighbors: %w", err)
	}
	return nil
}
