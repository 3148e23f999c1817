package eval

import (
	"math"
)

// optimizer runs the t-SNE gradient descent on the flat positions y
// (y[2i], y[2i+1] is point i).
type optimizer struct {
	o       Options
	n       int
	P       sparseP
	plogp   float64 // Σ P_ij log P_ij
	y       []float64
	upd     []float64
	gains   []float64
	attr    []float64 // Σ_j P_ij q_ij (y_i - y_j)
	rep     []float64 // Σ_j q_ij² (y_i - y_j)
	chunkZ  []float64 // Σ q_ij per chunk of points
	chunkKL []float64 // Σ P_ij log(1+d²_ij) per chunk of rows
	tree    quadtree
}

// newOptimizer prepares the descent from the initial positions y.
func newOptimizer(P sparseP, y []float64, o Options) *optimizer {
	n := len(y) / 2
	op := &optimizer{
		o: o, n: n, P: P, y: y,
		upd:     make([]float64, 2*n),
		gains:   make([]float64, 2*n),
		attr:    make([]float64, 2*n),
		rep:     make([]float64, 2*n),
		chunkZ:  make([]float64, chunks(n)),
		chunkKL: make([]float64, chunks(n)),
	}
	for i := range op.gains {
		op.gains[i] = 1
	}
	for _, v := range P.val {
		op.plogp += v * math.Log(v)
	}
	return op
}

// close releases the optimizer's buffers.
func (op *optimizer) close() { *op = optimizer{} }

// step performs iteration it (0-based) and, if withKL, returns KL(P||Q) at
// the positions before the step.
func (op *optimizer) step(it int, withKL bool) float64 {
	o := op.o
	exag, momentum := 1.0, 0.8
	if it < o.EarlyIterations {
		exag, momentum = o.EarlyExaggeration, 0.5
	}
	z, pl := op.forces(withKL)
	y, upd, gains := op.y, op.upd, op.gains
	lr := o.LearningRate
	for m := range y {
		g := 4 * (exag*op.attr[m] - op.rep[m]/z)
		if upd[m]*g < 0 {
			gains[m] += 0.2
		} else {
			gains[m] *= 0.8
		}
		if gains[m] < minGain {
			gains[m] = minGain
		}
		upd[m] = momentum*upd[m] - lr*gains[m]*g
		y[m] += upd[m]
	}
	if !withKL {
		return 0
	}
	return op.plogp + math.Log(z) + pl
}

// forces fills attr and rep for the current positions and returns the
// normalisation Z = Σ_{i≠j} q_ij and, if withKL, Σ P_ij log(1+d²_ij).
func (op *optimizer) forces(withKL bool) (z, pl float64) {
	n, y := op.n, op.y
	exact := op.o.Theta < 0
	if !exact {
		op.tree.build(y, op.o.Theta)
	}
	P := op.P
	parallelFor(op.o.Threads, chunks(n), func(c int) {
		lo, hi := c*chunkSize, min(n, (c+1)*chunkSize)
		// Attraction over the sparse rows lo..hi.
		var kl float64
		for i := lo; i < hi; i++ {
			xi, yi := y[2*i], y[2*i+1]
			var fx, fy float64
			for m := P.rowStart[i]; m < P.rowStart[i+1]; m++ {
				j := P.col[m]
				dx, dy := xi-y[2*j], yi-y[2*j+1]
				d2 := dx*dx + dy*dy
				pq := P.val[m] / (1 + d2)
				fx += pq * dx
				fy += pq * dy
				if withKL {
					kl += P.val[m] * math.Log1p(d2)
				}
			}
			op.attr[2*i], op.attr[2*i+1] = fx, fy
		}
		op.chunkKL[c] = kl
		// Repulsion.
		if exact {
			op.chunkZ[c] = repulseExact(y, op.rep, lo, hi)
		} else {
			op.chunkZ[c] = op.tree.repulse(op.rep, lo, hi)
		}
	})
	for c := range op.chunkZ {
		z += op.chunkZ[c]
		pl += op.chunkKL[c]
	}
	return math.Max(z, machineEps), pl
}

// repulseExact sets rep for points lo..hi by summing over all other points
// and returns their Σ q_ij.
func repulseExact(y, rep []float64, lo, hi int) float64 {
	n := len(y) / 2
	var z float64
	for i := lo; i < hi; i++ {
		xi, yi := y[2*i], y[2*i+1]
		var fx, fy float64
		for j := range n {
			if j == i {
				continue
			}
			dx, dy := xi-y[2*j], yi-y[2*j+1]
			q := 1 / (1 + dx*dx + dy*dy)
			z += q
			fx += q * q * dx
			fy += q * q * dy
		}
		rep[2*i], rep[2*i+1] = fx, fy
	}
	return z
}

// quadtree is a Barnes-Hut quadtree over the 2-D positions, rebuilt each
// iteration into the same buffers.
type quadtree struct {
	nodes  []qnode
	perm   []int32   // point indices in tree order
	px, py []float64 // positions in tree order
}

// qnode is a quadtree cell. Leaves have child == 0 (the root is never a
// child) and hold the points perm[start:end].
type qnode struct {
	cx, cy     float64 // centre of mass
	cnt        float64 // number of points
	crit       float64 // (side/theta)²: summarise when d² > crit
	child      int32   // index of the first child; children are contiguous
	nchild     int32
	start, end int32
}

const (
	// leafSize is the largest number of points left in a leaf; their
	// interactions are summed exactly.
	leafSize = 8
	// maxDepth stops subdivision of coincident points.
	maxDepth = 48
)

// build rebuilds the tree for positions y.
func (t *quadtree) build(y []float64, theta float64) {
	n := len(y) / 2
	if cap(t.perm) < n {
		t.perm = make([]int32, n)
		t.px = make([]float64, n)
		t.py = make([]float64, n)
	}
	t.perm, t.px, t.py = t.perm[:n], t.px[:n], t.py[:n]
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i := range n {
		t.perm[i] = int32(i)
		minX, maxX = math.Min(minX, y[2*i]), math.Max(maxX, y[2*i])
		minY, maxY = math.Min(minY, y[2*i+1]), math.Max(maxY, y[2*i+1])
	}
	side := math.Max(maxX-minX, maxY-minY)
	side = side*(1+1e-9) + 1e-300
	t.nodes = append(t.nodes[:0], qnode{})
	invTheta2 := 1 / (theta * theta)
	t.fill(0, y, 0, int32(n), minX, minY, side, 0, invTheta2)
	for m, i := range t.perm {
		t.px[m], t.py[m] = y[2*i], y[2*i+1]
	}
}

// fill sets node k to the cell [x0, x0+side) × [y0, y0+side) holding
// perm[start:end] and builds its subtree.
func (t *quadtree) fill(k int, y []float64, start, end int32, x0, y0, side float64, depth int, invTheta2 float64) {
	var sx, sy float64
	for _, i := range t.perm[start:end] {
		sx += y[2*i]
		sy += y[2*i+1]
	}
	cnt := float64(end - start)
	t.nodes[k] = qnode{
		cx: sx / cnt, cy: sy / cnt, cnt: cnt,
		crit:  side * side * invTheta2,
		start: start, end: end,
	}
	if end-start <= leafSize || depth >= maxDepth {
		return
	}
	h := side / 2
	mx, my := x0+h, y0+h
	// Partition into x < mx | x >= mx, then each half by y.
	p := t.perm[start:end]
	sxSplit := partition(p, func(i int32) bool { return y[2*i] < mx })
	sl := partition(p[:sxSplit], func(i int32) bool { return y[2*i+1] < my })
	sr := partition(p[sxSplit:], func(i int32) bool { return y[2*i+1] < my })
	bounds := [5]int32{start, start + int32(sl), start + int32(sxSplit), start + int32(sxSplit+sr), end}
	origins := [4][2]float64{{x0, y0}, {x0, my}, {mx, y0}, {mx, my}}
	first := int32(len(t.nodes))
	var kids [4]int
	nk := 0
	for q := range 4 {
		if bounds[q+1] > bounds[q] {
			kids[nk] = q
			nk++
			t.nodes = append(t.nodes, qnode{})
		}
	}
	t.nodes[k].child, t.nodes[k].nchild = first, int32(nk)
	for c := range nk {
		q := kids[c]
		t.fill(int(first)+c, y, bounds[q], bounds[q+1], origins[q][0], origins[q][1], h, depth+1, invTheta2)
	}
}

// partition reorders p so that the elements satisfying left come first and
// returns their number. It is not stable, but deterministic.
func partition(p []int32, left func(int32) bool) int {
	i, j := 0, len(p)
	for i < j {
		if left(p[i]) {
			i++
			continue
		}
		j--
		p[i], p[j] = p[j], p[i]
	}
	return i
}

// repulse sets rep for the points at tree positions lo..hi (written at their
// original indices) and returns their Σ q_ij.
func (t *quadtree) repulse(rep []float64, lo, hi int) float64 {
	nodes, px, py := t.nodes, t.px, t.py
	stack := make([]int32, 0, 4*maxDepth+4)
	var z float64
	for m := lo; m < hi; m++ {
		xi, yi := px[m], py[m]
		var fx, fy, zi float64
		stack = append(stack[:0], 0)
		for len(stack) > 0 {
			nd := &nodes[stack[len(stack)-1]]
			stack = stack[:len(stack)-1]
			dx, dy := xi-nd.cx, yi-nd.cy
			d2 := dx*dx + dy*dy
			if nd.crit < d2 {
				q := 1 / (1 + d2)
				cq := nd.cnt * q
				zi += cq
				cq *= q
				fx += cq * dx
				fy += cq * dy
				continue
			}
			if nd.child == 0 {
				for s := nd.start; s < nd.end; s++ {
					if int(s) == m {
						continue
					}
					dx, dy := xi-px[s], yi-py[s]
					q := 1 / (1 + dx*dx + dy*dy)
					zi += q
					q *= q
					fx += q * dx
					fy += q * dy
				}
				continue
			}
			for c := nd.child; c < nd.child+nd.nchild; c++ {
				stack = append(stack, c)
			}
		}
		i := t.perm[m]
		rep[2*i], rep[2*i+1] = fx, fy
		z += zi
	}
	return z
}
