package eval

import (
	"context"
	"fmt"
	"math"

	"mnistgpu/kernels"
)

// MaxDevicePoints is the largest number of points TSNEOn embeds on a
// device: the device computes the exact O(n²) repulsion, which at 10,000
// points is 10⁸ pairs an iteration. Above it TSNEOn runs TSNE (Barnes-Hut,
// on the CPU).
const MaxDevicePoints = 10000

// TSNEOn embeds the rows of X as TSNE does, running the gradient descent on
// dev when dev implements kernels.TSNEDevice (the CUDA device does) and X
// has at most MaxDevicePoints rows; otherwise (dev nil, the CPU device, more
// points) it calls TSNE.
//
// On a device, the k nearest neighbours are found on the device (distances
// in float32, so near-ties may resolve differently from TSNE's); the rest
// up to the first iteration is TSNE's, on the CPU: the checks, the
// perplexity calibration, the sparse symmetric P and the initial layout
// (same seed, same PCA). The iterations follow TSNE's schedule (early
// exaggeration, momentum 0.5 then 0.8, gains, learning rate) with the exact
// gradient in float32 (Options.Theta is ignored), and copy nothing back but
// the KL divergence when Options.Progress is called and the positions at
// the end. Progress is called at the same iterations as TSNE's, with Q
// normalised exactly. TSNEOn returns ctx.Err() if ctx is cancelled (checked
// between iterations). A device error is returned, not replaced by the CPU.
func TSNEOn(ctx context.Context, dev kernels.Device, X [][]float32, opts Options) ([][2]float64, error) {
	td, ok := dev.(kernels.TSNEDevice)
	if !ok || len(X) > MaxDevicePoints {
		return TSNE(ctx, X, opts)
	}
	nn := func(ctx context.Context, X [][]float32, k, _ int) ([]int32, []float64, error) {
		n, d := len(X), len(X[0])
		flat := make([]float32, 0, n*d)
		for _, row := range X {
			flat = append(flat, row...)
		}
		nbr := make([]int32, n*k)
		d32 := make([]float32, n*k)
		if err := td.TSNENeighbors(flat, n, d, k, nbr, d32); err != nil {
			return nil, nil, fmt.Errorf("on %s: %w", dev.Name(), err)
		}
		dist2 := make([]float64, n*k)
		for m, v := range d32 {
			dist2[m] = float64(v)
		}
		return nbr, dist2, nil
	}
	o, P, y, err := prepare(ctx, X, opts, nn)
	if err != nil {
		return nil, err
	}
	n := len(X)
	prob := kernels.TSNEProblem{
		N:        n,
		RowStart: P.rowStart,
		Col:      P.col,
		Val:      make([]float32, len(P.val)),
		Y:        make([]float32, 2*n),
	}
	var plogp float64
	for m, v := range P.val {
		prob.Val[m] = float32(v)
		plogp += v * math.Log(v)
	}
	for m, v := range y {
		prob.Y[m] = float32(v)
	}
	plan, err := td.NewTSNE(prob)
	if err != nil {
		return nil, fmt.Errorf("eval: tsne on %s: %w", dev.Name(), err)
	}
	defer plan.Close()
	rate := float32(o.LearningRate)
	for it := range o.Iterations {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("eval: tsne: iteration %d: %w", it, err)
		}
		exag, momentum := float32(1), float32(0.8)
		if it < o.EarlyIterations {
			exag, momentum = float32(o.EarlyExaggeration), 0.5
		}
		report := o.Progress != nil && ((it+1)%progressEvery == 0 || it == o.Iterations-1)
		if err := plan.Step(exag, momentum, rate, report); err != nil {
			return nil, fmt.Errorf("eval: tsne: iteration %d: %w", it, err)
		}
		if report {
			ce, err := plan.CrossEntropy()
			if err != nil {
				return nil, fmt.Errorf("eval: tsne: iteration %d: %w", it, err)
			}
			o.Progress(it+1, plogp+ce)
		}
	}
	if err := plan.Positions(prob.Y); err != nil {
		return nil, fmt.Errorf("eval: tsne: positions: %w", err)
	}
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{float64(prob.Y[2*i]), float64(prob.Y[2*i+1])}
		if math.IsNaN(out[i][0]+out[i][1]) || math.IsInf(out[i][0]+out[i][1], 0) {
			return nil, fmt.Errorf("eval: tsne on %s: point %d ended at %v", dev.Name(), i, out[i])
		}
	}
	return out, nil
}
