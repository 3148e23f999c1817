package model

import (
	"context"
	"fmt"
	"math"
	"time"

	"mnistgpu/dataset"
	"mnistgpu/kernels"
)

// TrainConfig holds the training hyper-parameters that are not part of the
// architecture.
type TrainConfig struct {
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	Optimizer   string  `json:"optimizer"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	Loss        string  `json:"loss"`
	Seed        uint64  `json:"seed"`
}

// DefaultTrainConfig is the study's default: 10 epochs of SGD with momentum
// 0.9 at DefaultLR, batch 64, cross-entropy.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 10, BatchSize: 64, LR: DefaultLR(OptMomentum), Optimizer: OptMomentum, Momentum: 0.9, Loss: "ce", Seed: 1}
}

// Validate checks the hyper-parameters and names the flag at fault.
func (c TrainConfig) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("--epochs %d: must be at least 1", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("--batch-size %d: must be at least 1", c.BatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("--lr %g: must be a positive finite number", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1): // also rejects NaN
		return fmt.Errorf("--momentum %g: must be at least 0 and less than 1", c.Momentum)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("--weight-decay %g: must be a finite number, not negative", c.WeightDecay)
	}
	if _, err := ParseOptimizer(c.Optimizer); err != nil {
		return err
	}
	_, err := ParseLoss(c.Loss)
	return err
}

// Resident is a labelled image set copied to the device once, as uint8,
// with index buffers for the batch order.
type Resident struct {
	N, D   int
	X, Y   kernels.Buffer // [N*D] pixels and [N] labels, uint8
	idx    kernels.Buffer // [N] int32 identity order, for evaluation
	perm   kernels.Buffer // [N] int32 training order of the current epoch
	mem    arena
	labels []uint8 // host copy of the labels, for metrics
}

// Labels are the set's labels in order.
func (r *Resident) Labels() []uint8 { return r.labels }

// Upload copies s to dev.
func Upload(dev kernels.Device, s *dataset.Set) (*Resident, error) {
	n := s.Len()
	if n == 0 {
		return &Resident{}, nil
	}
	d := s.Images.Rows * s.Images.Cols
	r := &Resident{N: n, D: d, labels: s.Labels, mem: arena{dev: dev}}
	r.X, r.Y = r.mem.alloc(kernels.U8, n*d), r.mem.alloc(kernels.U8, n)
	r.idx, r.perm = r.mem.alloc(kernels.I32, n), r.mem.alloc(kernels.I32, n)
	if err := r.mem.err; err != nil {
		r.mem.free()
		return nil, fmt.Errorf("data set on %s: %w", dev.Name(), err)
	}
	ident := make([]int32, n)
	for i := range ident {
		ident[i] = int32(i)
	}
	for _, e := range []error{dev.Upload(r.X, s.Images.Pixels[:n*d]), dev.Upload(r.Y, s.Labels[:n]), dev.Upload(r.idx, ident)} {
		if e != nil {
			r.mem.free()
			return nil, fmt.Errorf("upload data set: %w", e)
		}
	}
	return r, nil
}

// Free releases the device copy (dev is the device Upload copied to).
func (r *Resident) Free(dev kernels.Device) { r.mem.free() }

// EpochStats is one epoch's record in history.csv.
type EpochStats struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_acc"`
	// Seconds is the training time of the epoch (validation excluded).
	Seconds float64 `json:"seconds"`
	// ImagesPerSec is training images per second.
	ImagesPerSec float64 `json:"images_per_sec"`
}

// Trainer trains one network on one device. It is not safe for concurrent use.
type Trainer struct {
	dev  kernels.Device
	net  *Network
	cfg  TrainConfig
	loss kernels.Loss
	opt  *optimizer

	labels           kernels.Buffer // [MaxBatch] int32 labels of the batch
	lossSum, correct kernels.Buffer // device accumulators, read once per epoch
	// views caches the batches' views of each index buffer, so a training
	// step allocates nothing.
	views map[kernels.Buffer][]kernels.Buffer
	mem   arena // labels, lossSum, correct
	host  [1]float32
	st    stepState // the step counter and the captured step (step.go)
}

// NewTrainer prepares a network for training with cfg.
func NewTrainer(net *Network, cfg TrainConfig) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Optimizer, _ = ParseOptimizer(cfg.Optimizer) // lower case, as newOptimizer expects
	dev := net.Device()
	t := &Trainer{dev: dev, net: net, cfg: cfg, views: map[kernels.Buffer][]kernels.Buffer{}, mem: arena{dev: dev}}
	t.loss, _ = ParseLoss(cfg.Loss)
	t.labels = t.mem.alloc(kernels.I32, net.MaxBatch())
	t.lossSum, t.correct = t.mem.alloc(kernels.F32, 1), t.mem.alloc(kernels.F32, 1)
	if t.mem.err != nil {
		t.Close()
		return nil, fmt.Errorf("trainer buffers: %w", t.mem.err)
	}
	var err error
	if t.opt, err = newOptimizer(dev, net, cfg.Optimizer, cfg.LR, cfg.Momentum, cfg.WeightDecay); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Network is the network being trained.
func (t *Trainer) Network() *Network { return t.net }

// Steps is the number of optimizer steps taken so far. With the seed it
// keys the dropout masks (and Adam's bias correction), so it is the
// per-step state a resumed run must restore.
func (t *Trainer) Steps() int { return t.opt.t }

// SetSteps sets the step counter, as a resumed run continues from a
// checkpoint. A device that keeps the counter in its own memory must be
// told here too.
func (t *Trainer) SetSteps(n int) {
	t.opt.t = n
	t.resyncCounter()
}

// Close frees the trainer's buffers (not the network's).
func (t *Trainer) Close() {
	t.st.close(t)
	if t.opt != nil {
		t.opt.close()
	}
	t.mem.free()
}

// batchViews returns the views of index buffer idx (n entries) that make
// the batches, made once per buffer.
func (t *Trainer) batchViews(idx kernels.Buffer, n int) []kernels.Buffer {
	if v, ok := t.views[idx]; ok {
		return v
	}
	b := t.net.MaxBatch()
	var v []kernels.Buffer
	for off := 0; off < n; off += b {
		v = append(v, t.dev.View(idx, off, min(b, n-off)))
	}
	t.views[idx] = v
	return v
}

// gather puts the samples of r that idx lists into the network's input and
// the trainer's label buffer, and returns their number.
func (t *Trainer) gather(r *Resident, idx kernels.Buffer) (int, error) {
	n := idx.Len()
	if err := t.dev.GatherImages(n, r.D, r.X, idx, t.net.Input(), dataset.Mean, dataset.Std); err != nil {
		return 0, err
	}
	return n, t.dev.GatherLabels(n, r.Y, idx, t.labels)
}

// Epoch trains one epoch over r in the order dataset.Permutation gives for
// (seed, epoch), calling progress (if not nil) after each step is issued.
// The host reads the device only once, at the end, for the loss and
// accuracy summed on the device.
func (t *Trainer) Epoch(r *Resident, epoch int, progress func(done, total int)) (EpochStats, error) {
	return t.EpochContext(context.Background(), r, epoch, progress)
}

// EpochContext is Epoch that stops between two steps once ctx is done and
// returns ctx's error; the network is then part-way through the epoch.
func (t *Trainer) EpochContext(ctx context.Context, r *Resident, epoch int, progress func(done, total int)) (EpochStats, error) {
	st := EpochStats{Epoch: epoch}
	if r.N == 0 {
		return st, fmt.Errorf("training set is empty")
	}
	start := time.Now()
	perm := dataset.Permutation(r.N, t.cfg.Seed, epoch)
	if err := t.dev.Upload(r.perm, perm); err != nil {
		return st, fmt.Errorf("upload batch order: %w", err)
	}
	if err := t.resetAccumulators(); err != nil {
		return st, err
	}
	views := t.batchViews(r.perm, r.N)
	for i, idx := range views {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := t.step(r, idx); err != nil {
			return st, err
		}
		if progress != nil {
			progress(i+1, len(views))
		}
	}
	loss, correct, err := t.readAccumulators()
	if err != nil {
		return st, err
	}
	st.Seconds = time.Since(start).Seconds()
	st.TrainLoss, st.TrainAcc = loss/float64(r.N), correct/float64(r.N)
	st.ImagesPerSec = float64(r.N) / st.Seconds
	return st, nil
}

// step is one training step on the samples idx lists (a batch view of
// r's permutation): gather, forward, loss, backward, update, as the list
// of calls in issueStep (step.go), replayed from a captured graph when the
// device can. It allocates nothing and never waits for the device.
func (t *Trainer) step(r *Resident, idx kernels.Buffer) error {
	n, err := t.startStep(r, idx)
	if err != nil {
		return err
	}
	if g := t.stepGraph(r, n); g != nil {
		err = t.launchStep(g)
	} else {
		err = t.issueDirect(r, n)
	}
	if err != nil {
		return err
	}
	t.endStep()
	return nil
}

func (t *Trainer) resetAccumulators() error {
	if err := t.dev.Fill(t.lossSum, 0); err != nil {
		return err
	}
	return t.dev.Fill(t.correct, 0)
}

func (t *Trainer) readAccumulators() (loss, correct float64, err error) {
	if err = t.dev.Download(t.host[:], t.lossSum); err != nil {
		return 0, 0, fmt.Errorf("read loss: %w", err)
	}
	loss = float64(t.host[0])
	if err = t.dev.Download(t.host[:], t.correct); err != nil {
		return 0, 0, fmt.Errorf("read accuracy: %w", err)
	}
	return loss, float64(t.host[0]), nil
}

// Evaluate returns the mean loss and the accuracy of the network on r in
// inference mode (batch norm on running averages, no dropout).
func (t *Trainer) Evaluate(r *Resident) (loss, acc float64, err error) {
	if r.N == 0 {
		return 0, 0, nil
	}
	if err := t.resetAccumulators(); err != nil {
		return 0, 0, err
	}
	classes := t.net.Classes()
	for _, idx := range t.batchViews(r.idx, r.N) {
		n, err := t.gather(r, idx)
		if err != nil {
			return 0, 0, err
		}
		if err := t.net.Forward(n, false); err != nil {
			return 0, 0, err
		}
		if err := t.dev.LossForward(t.loss, n, classes, t.net.Logits(), t.labels, nil, t.lossSum, t.correct); err != nil {
			return 0, 0, fmt.Errorf("loss: %w", err)
		}
	}
	l, c, err := t.readAccumulators()
	if err != nil {
		return 0, 0, err
	}
	return l / float64(r.N), c / float64(r.N), nil
}

// Outputs are a network's outputs on a whole set, in the set's order.
type Outputs struct {
	N, Classes int
	// Logits are [N*Classes] and Probs their row-wise softmax.
	Logits, Probs []float32
	// Features are the inputs of the last layer, [N*FeatureDim], when asked for.
	Features   []float32
	FeatureDim int
}

// Predict runs the network in inference mode over r and returns its logits,
// probabilities and, when features is true, the last layer's inputs.
func (t *Trainer) Predict(r *Resident, features bool) (*Outputs, error) {
	return Predict(t.net, r, features)
}

// Predict runs net in inference mode over r, in r's order.
func Predict(net *Network, r *Resident, features bool) (*Outputs, error) {
	dev := net.Device()
	classes := net.Classes()
	feat, fdim := net.Features()
	out := &Outputs{N: r.N, Classes: classes, FeatureDim: fdim}
	if r.N == 0 {
		return out, nil
	}
	mem := arena{dev: dev}
	defer mem.free()
	logits, probs := mem.alloc(kernels.F32, r.N*classes), mem.alloc(kernels.F32, r.N*classes)
	var feats kernels.Buffer
	if features {
		feats = mem.alloc(kernels.F32, r.N*fdim)
	}
	if mem.err != nil {
		return nil, fmt.Errorf("predict: %w", mem.err)
	}
	bs := net.MaxBatch()
	for off := 0; off < r.N; off += bs {
		n := min(bs, r.N-off)
		idx := dev.View(r.idx, off, n)
		if err := dev.GatherImages(n, r.D, r.X, idx, net.Input(), dataset.Mean, dataset.Std); err != nil {
			return nil, err
		}
		if err := net.Forward(n, false); err != nil {
			return nil, err
		}
		if err := dev.Copy(dev.View(logits, off*classes, n*classes), dev.View(net.Logits(), 0, n*classes)); err != nil {
			return nil, err
		}
		if features {
			if err := dev.Copy(dev.View(feats, off*fdim, n*fdim), dev.View(feat, 0, n*fdim)); err != nil {
				return nil, err
			}
		}
	}
	if err := dev.Softmax(r.N, classes, logits, probs); err != nil {
		return nil, err
	}
	out.Logits = make([]float32, r.N*classes)
	out.Probs = make([]float32, r.N*classes)
	if err := dev.Download(out.Logits, logits); err != nil {
		return nil, err
	}
	if err := dev.Download(out.Probs, probs); err != nil {
		return nil, err
	}
	if features {
		out.Features = make([]float32, r.N*fdim)
		if err := dev.Download(out.Features, feats); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Argmax returns the predicted class of each row (ties to the lowest index).
func (o *Outputs) Argmax() []int {
	pred := make([]int, o.N)
	for i := range pred {
		row := o.Logits[i*o.Classes : (i+1)*o.Classes]
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		pred[i] = best
	}
	return pred
}
