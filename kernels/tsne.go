package kernels

// TSNEDevice is implemented by devices that can find t-SNE's nearest
// neighbours and run its gradient descent (the exact O(n²) gradient, every
// iteration on the device). The caller (eval) builds the
// perplexity-calibrated joint probabilities P from the neighbours, makes
// the initial layout, and keeps the schedule (early exaggeration, momentum,
// learning rate); the device keeps the positions, the update and the gains.
type TSNEDevice interface {
	// NewTSNE uploads a problem and allocates everything its steps need,
	// so that Step allocates nothing and copies nothing to or from the host.
	NewTSNE(p TSNEProblem) (TSNEPlan, error)
	// TSNENeighbors writes, for each of the n points of x (n×d,
	// row-major), its k nearest other points by Euclidean distance into
	// nbr[i*k:(i+1)*k], nearest first, equal distances by the lower index,
	// and their squared distances (computed in float32) into dist2. A
	// device may limit n and k and says so in its error.
	TSNENeighbors(x []float32, n, d, k int, nbr []int32, dist2 []float32) error
}

// TSNEProblem is the input of a device t-SNE: N points, their sparse
// symmetric joint probabilities in compressed-row form (row i holds
// Val[RowStart[i]:RowStart[i+1]] at columns Col[RowStart[i]:RowStart[i+1]],
// summing to 1 over the whole matrix, no diagonal), and the initial 2-D
// positions, point i at Y[2i], Y[2i+1].
type TSNEProblem struct {
	N        int
	RowStart []int32
	Col      []int32
	Val      []float32
	Y        []float32
}

// TSNEPlan is a t-SNE problem resident on a device. Its gradient, with
// q_ij = 1/(1+|y_i−y_j|²) and Z = Σ_{k≠l} q_kl, is
//
//	g_i = 4 Σ_j (exaggeration·P_ij − q_ij/Z) q_ij (y_i − y_j)
//
// and each coordinate m is updated as eval.TSNE does (delta-bar-delta gains
// with floor 0.01: gain += 0.2 when the update and the gradient disagree in
// sign, gain ×= 0.8 otherwise; update = momentum·update − rate·gain·g;
// y += update). Updates start at 0 and gains at 1.
type TSNEPlan interface {
	// Step performs one iteration. With withCE it also keeps, for
	// CrossEntropy, Σ_ij P_ij log(1+d²_ij) + log Z at the positions before
	// the step.
	Step(exaggeration, momentum, rate float32, withCE bool) error
	// CrossEntropy returns −Σ P_ij log(q_ij/Z) (the KL divergence plus
	// Σ P log P) kept by the last Step with withCE. It waits for the device.
	CrossEntropy() (float64, error)
	// Gradient copies the gradient used by the last Step (2N values) into
	// dst. It waits for the device.
	Gradient(dst []float32) error
	// Positions copies the current positions (2N values) into dst. It
	// waits for the device.
	Positions(dst []float32) error
	// Close releases the plan's device memory.
	Close() error
}
