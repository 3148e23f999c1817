// Package runs is one training run and what is read back from it: Train
// leaves a self-describing run folder (config.json, history.csv,
// metrics.json, predictions.csv, model.safetensors, train.log, figures/),
// Read loads one, Evaluate and PredictFiles reuse a checkpoint, and Execute
// makes a list of runs on parallel workers, skipping finished ones. The
// sweep and report packages are built on it.
package runs

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"mnistgpu/dataset"
	"mnistgpu/eval"
	"mnistgpu/internal/atomicfile"
	"mnistgpu/internal/buildinfo"
	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
)

// DataConfig says where the data comes from and how it is split.
type DataConfig struct {
	// Dir is the folder holding the IDX files, as found by dataset.Locate.
	Dir string `json:"dir"`
	// ValSplit is the fraction of the training set held out for validation.
	ValSplit float64 `json:"val_split"`
	// TrainRatio, when positive, pools train and test and re-splits them.
	TrainRatio float64 `json:"train_ratio"`
	// Subset, when positive, keeps only the first Subset training images.
	Subset int `json:"subset"`
}

// RunConfig is everything needed to rerun a training run; it is written to
// config.json.
type Config struct {
	Arch  model.Arch        `json:"arch"`
	Train model.TrainConfig `json:"train"`
	Data  DataConfig        `json:"data"`
	// Device is the device asked for (auto, cpu, cuda) and DeviceName the
	// one that ran.
	Device     string `json:"device"`
	DeviceName string `json:"device_name"`
	// KernelPath is the CPU device's inner loops ("avx2-fma", "neon",
	// "noasm", "go"; see KernelPath), empty on other devices: results
	// depend on it within tolerance.
	KernelPath string `json:"kernel_path,omitempty"`
	// Figures turns on the figures in figures/.
	Figures bool `json:"figures"`
	// TSNEPoints test images are embedded by t-SNE (after epoch 1 and after
	// training), from TSNELayer: "logits" or "penultimate".
	TSNEPoints int    `json:"tsne_points"`
	TSNELayer  string `json:"tsne_layer"`
	// Command is the command line that produced the run.
	Command string `json:"command"`
	// Build is the binary that ran: version, VCS revision and Go release.
	Build buildinfo.Info `json:"build"`
	// Libraries are the driver's and libraries' versions of a device that
	// names them (the GPU: cuda_driver, nvrtc, cublas, cudnn).
	Libraries map[string]string `json:"libraries,omitempty"`
}

// versioned is a device that names its driver and library versions.
type versioned interface{ Versions() map[string]string }

// Data is a loaded and split data set.
type Data struct {
	Dir              string
	Train, Val, Test *dataset.Set
}

// LoadData finds, reads and splits the data as c says.
func LoadData(c DataConfig, seed uint64) (*Data, error) {
	dir, _, err := dataset.Locate(c.Dir)
	if err != nil {
		return nil, err
	}
	train, test, err := dataset.Load(dir)
	if err != nil {
		return nil, err
	}
	return splitData(dir, train, test, c, seed)
}

// splitData splits the standard sets read from dir as c says.
func splitData(dir string, train, test *dataset.Set, c DataConfig, seed uint64) (*Data, error) {
	sp, err := dataset.MakeSplits(train, test, c.ValSplit, c.TrainRatio, c.Subset, seed)
	if err != nil {
		return nil, err
	}
	return &Data{Dir: dir, Train: sp.Train, Val: sp.Val, Test: sp.Test}, nil
}

// Result is what a run leaves besides its files.
type Result struct {
	Dir     string
	History []model.EpochStats
	Metrics Metrics
	// Seconds is the wall time of the whole run, training and evaluation.
	Seconds float64
	// Diverged, when not empty, says in which epoch the loss stopped being
	// finite and the likely cause; training stopped there.
	Diverged string
}

// Metrics is metrics.json: the test set's metrics plus the run's summary.
type Metrics struct {
	eval.Report
	// TestLoss is null in JSON when the run diverged to NaN.
	TestLoss Num `json:"test_loss"`
	// TrainSeconds is the training time summed over epochs.
	TrainSeconds float64 `json:"train_seconds"`
	Params       int     `json:"params"`
	Device       string  `json:"device"`
	// AUC holds the ROC areas: per class, micro and macro.
	AUC *AUC `json:"auc,omitempty"`
	// Status is StatusFinished or StatusDiverged (empty in runs written
	// before it was recorded), and Why the divergence message.
	Status string `json:"status,omitempty"`
	Why    string `json:"diverged,omitempty"`
	// StepPath is how the full-batch training steps ran (model.PathGraph or
	// model.PathFused), StepPathWhy why a graph was not used when one was
	// wanted, and KernelsPerStep the kernels of one step on a device that
	// counts them (the GPU).
	StepPath       string `json:"step_path,omitempty"`
	StepPathWhy    string `json:"step_path_why,omitempty"`
	KernelsPerStep int    `json:"kernels_per_step,omitempty"`
}

// summary is the one line a run or an evaluation ends with.
func (m Metrics) summary(dir string) string {
	return fmt.Sprintf("test accuracy %.4f  weighted recall %.4f  weighted F1 %.4f  macro F1 %.4f  (%s)",
		m.Accuracy, m.WeightedRecall, m.WeightedF1, m.MacroF1, dir)
}

// AUC holds the areas under the one-vs-rest ROC curves.
type AUC struct {
	PerClass []Num `json:"per_class"`
	Micro    Num   `json:"micro"`
	// Macro is the mean of the per-class AUCs that are defined.
	Macro Num `json:"macro"`
}

// Logger receives a run's progress.
type Logger struct {
	// Out gets one line per epoch and the final summary.
	Out io.Writer
	// Bar, when set, draws an in-place progress bar on Out during an epoch
	// on the CPU device, and the t-SNE's progress. On a GPU the steps of an
	// epoch are only issued, not done, when the bar would advance, so there
	// the epoch's line alone shows progress: never a bar that finishes
	// before the work.
	Bar bool
	// Progress, when set, is told before each epoch and at each stage after
	// training how many epochs are done and what the run is doing, e.g.
	// (2, "epoch 3/10") or (10, "t-SNE after 10 epochs 250/1000").
	Progress func(epochsDone int, stage string)
}

// stage reports a stage to Progress, when set.
func (l Logger) stage(epochsDone int, stage string) {
	if l.Progress != nil {
		l.Progress(epochsDone, stage)
	}
}

// CheckOutDir creates dir (and parents) and checks that a file can be
// written in it, so a bad --out fails before any training.
func CheckOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot write there: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// Train runs cfg on dev with data and writes the run folder dir, replacing
// any run there. It is Run without resume or interruption.
func Train(cfg Config, dev kernels.Device, data *Data, dir string, log Logger) (*Result, error) {
	return Run(cfg, dev, data, dir, Options{Log: log, Overwrite: true})
}

// Options say how Run trains.
type Options struct {
	Log Logger
	// Context, when done, stops the run between two training steps; the
	// folder keeps the last finished epoch's resumable checkpoint and Run
	// returns an error that wraps the context's.
	Context context.Context
	// Resume continues from dir's resumable checkpoint (ResumeFile) when
	// there is one, which must be of the same configuration; without one
	// the run starts over in dir, replacing what an earlier attempt left.
	Resume bool
	// Overwrite replaces the files of a run that dir holds.
	Overwrite bool
}

// ResumeFile is the resumable checkpoint in a run folder, rewritten after
// each epoch and removed when the run is finished.
const ResumeFile = "resume.safetensors"

// Run status in metrics.json.
const (
	StatusFinished = "finished"
	StatusDiverged = "diverged"
)

// Run trains cfg on dev with data and writes the run folder dir. The
// folder is made only once every buffer is allocated, so a run that fails
// before training leaves none. After each epoch history.csv, train.log and
// a resumable checkpoint are written; a failed, interrupted or diverged run
// keeps its train.log. A run whose loss stops being finite ends there: it
// is evaluated and written as usual with status "diverged", and the
// Result's Diverged says why.
func Run(cfg Config, dev kernels.Device, data *Data, dir string, o Options) (res *Result, err error) {
	start := time.Now()
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted before training: %w", err)
	}
	cfg.DeviceName = dev.Name()
	cfg.Build = buildinfo.Read()
	if v, ok := dev.(versioned); ok {
		cfg.Libraries = v.Versions()
	}
	cfg.KernelPath = KernelPath(dev)
	cfg.Data.Dir = data.Dir
	var notes []string
	batch := cfg.Train.BatchSize
	if n := data.Train.Len(); n > 0 && batch > n {
		batch = n
		notes = append(notes, fmt.Sprintf("note: --batch-size %d is more than the %d training images: each step takes all of them", cfg.Train.BatchSize, n))
	}
	if err := CheckMemory(cfg, dev, data, batch); err != nil {
		return nil, err
	}
	var resume *model.Resume
	if o.Resume && FileExists(filepath.Join(dir, ResumeFile)) {
		if resume, err = readResume(dir, cfg); err != nil {
			return nil, err
		}
	}
	net, err := model.Build(dev, cfg.Arch, batch, cfg.Train.Seed)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	tr, err := model.NewTrainer(net, cfg.Train)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if resume != nil {
		if err := tr.Restore(resume); err != nil {
			return nil, err
		}
	}
	var sets [3]*model.Resident
	for i, s := range []*dataset.Set{data.Train, data.Val, data.Test} {
		if sets[i], err = model.Upload(dev, s); err != nil {
			return nil, err
		}
		defer sets[i].Free(dev)
	}
	train, val, test := sets[0], sets[1], sets[2]

	// Everything is allocated: only now is the folder made.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted before training: %w", err)
	}
	if err := prepareDir(dir, o.Overwrite || o.Resume, resume != nil); err != nil {
		return nil, err
	}
	if o.Log.Out == nil {
		o.Log.Out = io.Discard
	}
	tl := &trainLog{path: filepath.Join(dir, "train.log")}
	if resume != nil {
		tl.buf.Write(readLog(tl.path))
	}
	out := io.MultiWriter(o.Log.Out, &tl.buf)
	epoch := 0
	defer func() {
		var ie *InterruptedError
		if err != nil && !errors.As(err, &ie) { // an interruption said so itself
			fmt.Fprintf(&tl.buf, "failed in epoch %d: %v\n", epoch, err)
		}
		if werr := tl.write(); werr != nil && err == nil {
			err = werr
		}
	}()
	if err := WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return nil, err
	}
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	fmt.Fprintf(out, "%s on %s: %d train, %d validation, %d test images, %d parameters\n",
		cfg.Arch.Task, dev.Name(), train.N, val.N, test.N, net.NumParams())

	fig := newFigureSet(cfg, dir, data)
	fig.stage = func(s string) {
		o.Log.stage(cfg.Train.Epochs, s)
		if o.Log.Bar {
			fmt.Fprint(o.Log.Out, "\r\033[K"+s)
		}
	}
	res = &Result{Dir: dir}
	_, stepsDone := dev.(*cpu.Device) // the CPU device runs each op as it is issued
	first := 1
	if resume != nil {
		res.History = resume.State.History
		first = resume.State.Epoch + 1
		fig.epoch1 = unflatten(resume.State.Extra[extraTSNE], resume.State.Meta[extraTSNE+"_dim"])
		fmt.Fprintf(out, "resumed after epoch %d of %d (step %d)\n", resume.State.Epoch, cfg.Train.Epochs, tr.Steps())
	}
	for e := first; e <= cfg.Train.Epochs; e++ {
		epoch = e
		o.Log.stage(e-1, fmt.Sprintf("epoch %d/%d", e, cfg.Train.Epochs))
		var progress func(done, total int)
		if o.Log.Bar && stepsDone {
			progress = newBar(o.Log.Out, e, cfg.Train.Epochs).update
		}
		st, err := tr.EpochContext(ctx, train, e, progress)
		if ctxErr := ctx.Err(); ctxErr != nil {
			if o.Log.Bar && stepsDone {
				fmt.Fprint(o.Log.Out, "\r\033[K")
			}
			fmt.Fprintf(&tl.buf, "interrupted in epoch %d; %d epochs saved\n", e, e-1)
			return nil, &InterruptedError{Epoch: e, Saved: e - 1, Err: ctxErr}
		}
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", e, err)
		}
		if st.ValLoss, st.ValAcc, err = tr.Evaluate(val); err != nil {
			return nil, fmt.Errorf("epoch %d validation: %w", e, err)
		}
		res.History = append(res.History, st)
		if o.Log.Bar && stepsDone {
			fmt.Fprint(o.Log.Out, "\r\033[K")
		}
		fmt.Fprintf(out, "epoch %2d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.2fs  %.0f img/s\n",
			e, cfg.Train.Epochs, st.TrainLoss, st.TrainAcc, st.ValLoss, st.ValAcc, st.Seconds, st.ImagesPerSec)
		if st.Diverged() {
			res.Diverged = model.DivergedMessage(st, cfg.Train)
			fmt.Fprintf(out, "stopped: %s\n", res.Diverged)
		}
		if err := writeHistory(filepath.Join(dir, "history.csv"), res.History, res.Diverged != ""); err != nil {
			return nil, err
		}
		if res.Diverged != "" {
			break
		}
		if e == 1 {
			if err := fig.afterFirstEpoch(tr, test); err != nil {
				return nil, err
			}
		}
		if err := tl.write(); err != nil {
			return nil, err
		}
		if err := saveResume(tr, dir, cfg, res.History, fig); err != nil {
			return nil, err
		}
	}
	epoch = len(res.History)
	o.Log.stage(cfg.Train.Epochs, "test")
	if err := model.SaveCheckpoint(filepath.Join(dir, "model.safetensors"), net, cfg.Arch, tr.Steps(), checkpointMeta(cfg)); err != nil {
		return nil, err
	}
	tested, err := Test(tr, test, cfg.Figures, cfg.Figures && cfg.TSNELayer == "penultimate")
	if err != nil {
		return nil, err
	}
	m := &tested.Metrics
	for _, st := range res.History {
		m.TrainSeconds += st.Seconds
	}
	m.Params, m.Device = net.NumParams(), dev.Name()
	m.StepPath, m.StepPathWhy = tr.Path()
	m.KernelsPerStep = tr.KernelsPerStep()
	m.Status = StatusFinished
	if res.Diverged != "" {
		m.Status, m.Why = StatusDiverged, res.Diverged
	}
	res.Metrics = *m
	if err := WritePredictions(filepath.Join(dir, "predictions.csv"), test.Labels(), tested.Out); err != nil {
		return nil, err
	}
	if err := WriteJSON(filepath.Join(dir, "metrics.json"), m); err != nil {
		return nil, err
	}
	if cfg.Figures {
		fmt.Fprintf(out, "writing figures to %s (t-SNE of %d test images after epoch 1 and after training)\n",
			filepath.Join(dir, "figures"), min(cfg.TSNEPoints, test.N))
	}
	if err := fig.final(net, res.History, tested); err != nil {
		return nil, err
	}
	if o.Log.Bar && cfg.Figures {
		fmt.Fprint(o.Log.Out, "\r\033[K")
	}
	if err := removeResume(dir); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	fmt.Fprintln(out, m.summary(dir))
	return res, nil
}

// checkpointMeta records in a checkpoint how its test set was made, so
// `mnistgpu eval` rebuilds the same split.
func checkpointMeta(cfg Config) map[string]string {
	d, _ := json.Marshal(cfg.Data)
	return map[string]string{"data": string(d), "seed": strconv.FormatUint(cfg.Train.Seed, 10),
		"batch_size": strconv.Itoa(cfg.Train.BatchSize)}
}

// TestResult is what Test measures on the test set.
type TestResult struct {
	Metrics Metrics
	Out     *model.Outputs
	// ROC is nil when it was not asked for or the outputs are not finite
	// (a diverged run).
	ROC *eval.ROCResult
}

// Test evaluates the trained network on the test set and computes the
// metrics, and the ROC curves and areas when withROC is set; the outputs
// carry the last layer's inputs when features is set.
func Test(tr *model.Trainer, test *model.Resident, withROC, features bool) (*TestResult, error) {
	loss, _, err := tr.Evaluate(test)
	if err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	res := &TestResult{Metrics: Metrics{TestLoss: Num(loss)}}
	if res.Out, err = tr.Predict(test, features); err != nil {
		return nil, fmt.Errorf("test predictions: %w", err)
	}
	out := res.Out
	yTrue := labelsInt(test.Labels())
	if res.Metrics.Report, err = eval.Evaluate(yTrue, out.Argmax(), out.Classes); err != nil {
		return nil, err
	}
	if withROC && allFinite(out.Probs) {
		roc, err := eval.ROC(yTrue, rows(out.Probs, out.Classes), out.Classes)
		if err != nil {
			return nil, err
		}
		res.ROC, res.Metrics.AUC = &roc, aucOf(roc)
	}
	return res, nil
}

// allFinite reports whether no value is NaN or infinite (a diverged run's
// outputs are NaN, which ROC and t-SNE cannot use).
func allFinite(v []float32) bool {
	for _, x := range v {
		if !Finite(float64(x)) {
			return false
		}
	}
	return true
}

func labelsInt(l []uint8) []int {
	y := make([]int, len(l))
	for i, v := range l {
		y[i] = int(v)
	}
	return y
}

func rows(v []float32, w int) [][]float32 {
	r := make([][]float32, len(v)/w)
	for i := range r {
		r[i] = v[i*w : (i+1)*w]
	}
	return r
}

// WritePredictions writes predictions.csv: one row per test image with its
// index, true label, predicted label and class probabilities.
func WritePredictions(path string, labels []uint8, out *model.Outputs) error {
	pred := out.Argmax()
	return atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"index", "label", "pred"}
		for c := 0; c < out.Classes; c++ {
			head = append(head, "p"+strconv.Itoa(c))
		}
		cw.Write(head)
		rec := make([]string, len(head))
		for i := 0; i < out.N; i++ {
			rec[0], rec[1], rec[2] = strconv.Itoa(i), strconv.Itoa(int(labels[i])), strconv.Itoa(pred[i])
			for c := 0; c < out.Classes; c++ {
				rec[3+c] = strconv.FormatFloat(float64(out.Probs[i*out.Classes+c]), 'g', 6, 32)
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	})
}

// writeHistory writes history.csv; its status column is "ok", or
// "diverged" on the last epoch of a run that diverged there.
func writeHistory(path string, h []model.EpochStats, diverged bool) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_sec", "status"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
		for i, s := range h {
			status := "ok"
			if diverged && i == len(h)-1 {
				status = StatusDiverged
			}
			cw.Write([]string{strconv.Itoa(s.Epoch), f(s.TrainLoss), f(s.TrainAcc), f(s.ValLoss), f(s.ValAcc), f(s.Seconds), f(s.ImagesPerSec), status})
		}
		cw.Flush()
		return cw.Error()
	})
}

// WriteJSON writes v to path as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// Num is a float64 that encodes NaN (an undefined value such as the AUC of
// a class with no positives) as JSON null.
type Num float64

// MarshalJSON writes null for NaN and infinities.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

func aucOf(r eval.ROCResult) *AUC {
	a := &AUC{Micro: Num(r.Micro.AUC), Macro: Num(r.MacroAUC)}
	for _, c := range r.PerClass {
		a.PerClass = append(a.PerClass, Num(c.AUC))
	}
	return a
}
