package runs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"mnistgpu/dataset"
	"mnistgpu/eval"
	"mnistgpu/kernels"
	"mnistgpu/model"
	"mnistgpu/plots"
)

// Figure file names inside a run's figures/ folder.
const (
	FigLoss       = "loss.png"
	FigAccuracy   = "accuracy.png"
	FigConfusion  = "confusion.png"
	FigCorrect    = "correct.png"
	FigWrong      = "wrong.png"
	FigFilters    = "filters.png" // CNN only
	FigROC        = "roc.png"
	FigTSNEEpoch1 = "tsne_epoch1.png"
	FigTSNEFinal  = "tsne_final.png"
)

// GridImages is how many images each prediction grid shows, in gridCols
// columns.
const GridImages, gridCols = 32, 8

// figureSet makes a run's figures. The t-SNE after the first epoch needs
// the activations at that point, so it keeps them until the end.
type figureSet struct {
	cfg    Config
	dir    string
	data   *Data
	epoch1 [][]float32 // t-SNE input after epoch 1
	// stage, when set, is told what is being drawn.
	stage func(string)
}

func newFigureSet(cfg Config, dir string, data *Data) *figureSet {
	return &figureSet{cfg: cfg, dir: filepath.Join(dir, "figures"), data: data}
}

// tsneInput takes the first TSNEPoints test rows of the chosen layer.
func (f *figureSet) tsneInput(out *model.Outputs) [][]float32 {
	v, w := out.Logits, out.Classes
	if f.cfg.TSNELayer == "penultimate" {
		v, w = out.Features, out.FeatureDim
	}
	n := min(f.cfg.TSNEPoints, out.N)
	x := make([][]float32, n)
	for i := range x {
		x[i] = v[i*w : (i+1)*w]
	}
	return x
}

func (f *figureSet) afterFirstEpoch(tr *model.Trainer, test *model.Resident) error {
	if !f.cfg.Figures {
		return nil
	}
	out, err := tr.Predict(test, f.cfg.TSNELayer == "penultimate")
	if err != nil {
		return fmt.Errorf("activations after epoch 1: %w", err)
	}
	f.epoch1 = f.tsneInput(out)
	return nil
}

// final writes every figure of the run; out are the trained network's test
// outputs (with features when the t-SNE layer is the penultimate one).
func (f *figureSet) final(net *model.Network, hist []model.EpochStats, tested *TestResult) error {
	if !f.cfg.Figures {
		return nil
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	task := TaskTitle(f.cfg.Arch.Task)
	if err := CurveFigures(filepath.Join(f.dir, FigLoss), filepath.Join(f.dir, FigAccuracy), task, hist); err != nil {
		return err
	}
	return f.testFigures(net, tested, fmt.Sprintf("after %d epochs", len(hist)))
}

// testFigures writes the figures made from the test set: confusion matrix,
// prediction grids, filters, ROC and t-SNE (also the one after epoch 1 when
// its activations were kept).
func (f *figureSet) testFigures(net *model.Network, tested *TestResult, when string) error {
	m, out := tested.Metrics, tested.Out
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	task := TaskTitle(f.cfg.Arch.Task)
	p := func(name string) string { return filepath.Join(f.dir, name) }
	labels := labelsInt(f.data.Test.Labels)
	if err := plots.ConfusionMatrix(p(FigConfusion), task+": confusion matrix (test set)", m.Confusion, classNames(out.Classes)); err != nil {
		return err
	}
	if err := PredictionGrids(p(FigCorrect), p(FigWrong), task, f.data.Test, out.Argmax()); err != nil {
		return err
	}
	if f.cfg.Arch.Task == model.TaskCNN {
		if err := FiltersFigure(p(FigFilters), task, net); err != nil {
			return err
		}
	}
	if tested.ROC == nil {
		// A diverged run: its outputs are NaN, so there is no ROC curve and
		// no embedding to draw. The report marks such runs.
		return nil
	}
	if err := ROCFigure(p(FigROC), task, *tested.ROC); err != nil {
		return err
	}
	layer := "logits"
	if f.cfg.TSNELayer == "penultimate" {
		layer = "inputs of the last layer"
	}
	type job struct {
		x    [][]float32
		path string
		when string
	}
	jobs := []job{{f.tsneInput(out), p(FigTSNEFinal), when}}
	if f.epoch1 != nil {
		jobs = append(jobs, job{f.epoch1, p(FigTSNEEpoch1), "after epoch 1"})
	}
	for _, j := range jobs {
		title := fmt.Sprintf("%s: t-SNE of the %s %s (%d test images)", task, layer, j.when, len(j.x))
		if err := tsneFigure(j.path, title, j.x, labels[:len(j.x)], f.cfg.Train.Seed, net.Device(), f.tsneProgress("t-SNE "+j.when)); err != nil {
			return err
		}
	}
	return nil
}

// TaskTitle is the study's name of a task.
func TaskTitle(task string) string {
	if task == model.TaskCNN {
		return "Task 2 (CNN)"
	}
	return "Task 1 (MLP)"
}

func classNames(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}

// CurveFigures draws the training and validation loss and accuracy per epoch.
func CurveFigures(lossPath, accPath, task string, hist []model.EpochStats) error {
	x := make([]float64, len(hist))
	var tl, vl, ta, va []float64
	for i, h := range hist {
		x[i] = float64(h.Epoch)
		tl, vl = append(tl, h.TrainLoss), append(vl, h.ValLoss)
		ta, va = append(ta, h.TrainAcc), append(va, h.ValAcc)
	}
	if err := plots.Curves(lossPath, task+": loss", "loss", x, []plots.Series{{Name: "training", Y: tl}, {Name: "validation", Y: vl}}); err != nil {
		return err
	}
	return plots.Curves(accPath, task+": accuracy", "accuracy", x, []plots.Series{{Name: "training", Y: ta}, {Name: "validation", Y: va}})
}

// PredictionGrids draws the first test images the network got right and
// the first it got wrong, captioned with the predicted and true labels.
func PredictionGrids(correctPath, wrongPath, task string, test *dataset.Set, pred []int) error {
	var right, wrong []plots.Thumb
	labels := test.Labels
	for i := 0; i < len(pred) && (len(right) < GridImages || len(wrong) < GridImages); i++ {
		th := plots.Thumb{Pix: test.Image(i), Caption: fmt.Sprintf("pred %d / true %d", pred[i], labels[i]), Wrong: pred[i] != int(labels[i])}
		if th.Wrong && len(wrong) < GridImages {
			wrong = append(wrong, th)
		} else if !th.Wrong && len(right) < GridImages {
			right = append(right, th)
		}
	}
	if err := plots.ImageGrid(correctPath, task+": correct predictions", right, 28, 28, gridCols); err != nil {
		return err
	}
	return plots.ImageGrid(wrongPath, task+": wrong predictions", wrong, 28, 28, gridCols)
}

// FiltersFigure draws the weights of the network's last conv layer.
func FiltersFigure(path, task string, net *model.Network) error {
	var last *model.Param
	for _, p := range net.Params() {
		if len(p.Shape) == 4 {
			last = p
		}
	}
	if last == nil {
		return fmt.Errorf("filters: the %s has no conv layer", task)
	}
	w := make([]float32, last.Len())
	if err := net.Device().Download(w, last.W); err != nil {
		return fmt.Errorf("filters: %w", err)
	}
	if !allFinite(w) {
		return nil // a diverged run's weights are NaN: nothing to draw
	}
	title := fmt.Sprintf("%s: learned filters of %s", task, last.Name[:len(last.Name)-len(".weight")])
	return plots.Filters(path, title, w, last.Shape[0], last.Shape[1], last.Shape[2])
}

// ROCFigure draws the one-vs-rest ROC curves of every class with the micro
// and macro averages.
func ROCFigure(path, task string, roc eval.ROCResult) error {
	var curves []plots.ROCCurve
	for c, cv := range roc.PerClass {
		curves = append(curves, plots.ROCCurve{Name: strconv.Itoa(c), FPR: cv.FPR, TPR: cv.TPR, AUC: cv.AUC})
	}
	curves = append(curves,
		plots.ROCCurve{Name: "micro average", FPR: roc.Micro.FPR, TPR: roc.Micro.TPR, AUC: roc.Micro.AUC, Average: true},
		plots.ROCCurve{Name: "macro average", FPR: roc.Macro.FPR, TPR: roc.Macro.TPR, AUC: roc.Macro.AUC, Average: true})
	return plots.ROC(path, task+": ROC curves (test set, one vs rest)", curves)
}

// tsneIterations is the t-SNE's number of iterations (eval's default).
const tsneIterations = 1000

// tsneProgress reports a t-SNE's iterations to f.stage as "what 250/1000";
// nil when nobody listens.
func (f *figureSet) tsneProgress(what string) func(iter, total int) {
	if f.stage == nil {
		return nil
	}
	return func(iter, total int) { f.stage(fmt.Sprintf("%s %d/%d", what, iter, total)) }
}

// tsneFigure embeds x with t-SNE (on dev when it is a GPU, eval.TSNEOn,
// else on the CPU) and draws it coloured by label, telling progress (when
// not nil) the iterations
// done of the total every 50 iterations.
func tsneFigure(path, title string, x [][]float32, labels []int, seed uint64, dev kernels.Device, progress func(iter, total int)) error {
	if len(x) < 2 {
		return fmt.Errorf("t-SNE: need at least 2 points, have %d", len(x))
	}
	o := eval.Options{Seed: seed, Iterations: tsneIterations}
	if progress != nil {
		o.Progress = func(iter int, _ float64) { progress(iter, o.Iterations) }
	}
	y, err := eval.TSNEOn(context.Background(), dev, x, o)
	if err != nil {
		return fmt.Errorf("t-SNE: %w", err)
	}
	return plots.Scatter2D(path, title, y, labels, classNames(10))
}
