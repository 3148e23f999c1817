package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"mnistgpu/dataset"
	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// trainFlags are the flags of `train`; `sweep` reuses them by name.
func trainFlags() []cli.Flag {
	d := model.DefaultTrainConfig()
	return []cli.Flag{
		&cli.IntFlag{Name: "epochs", Value: d.Epochs, Usage: "passes over the training set"},
		&cli.IntFlag{Name: "batch-size", Value: d.BatchSize, Usage: "images per training step"},
		&cli.Float64Flag{Name: "lr", Usage: "learning rate (default 0.02 for momentum, 0.1 for sgd, 0.001 for adam)"},
		&cli.StringFlag{Name: "optimizer", Value: d.Optimizer, Usage: "sgd, momentum (SGD with --momentum) or adam"},
		&cli.Float64Flag{Name: "momentum", Value: d.Momentum, Usage: "momentum of --optimizer momentum"},
		&cli.Float64Flag{Name: "weight-decay", Usage: "L2 weight decay added to the gradients"},
		&cli.StringFlag{Name: "loss", Value: d.Loss, Usage: "ce (softmax cross-entropy), nll (log-softmax + NLL) or mse (softmax vs one-hot)"},
		&cli.Uint64Flag{Name: "seed", Value: d.Seed, Usage: "seed of the initialisation, splits, batch order and dropout"},
		&cli.StringFlag{Name: "activation", Value: "relu", Usage: "relu, sigmoid or tanh"},
		&cli.Float64Flag{Name: "dropout", Usage: "drop probability after each hidden block (default 0.3 for mlp, 0 for cnn)"},
		&cli.StringFlag{Name: "hidden", Value: "128,64", Usage: "mlp: hidden layer widths"},
		&cli.StringFlag{Name: "channels", Value: "4,4", Usage: "cnn: output channels of each conv block"},
		&cli.IntFlag{Name: "kernel", Value: 3, Usage: "cnn: conv kernel size (odd)"},
		&cli.BoolFlag{Name: "batchnorm", Value: true, Usage: "cnn: batch norm after each conv (--batchnorm=false to drop it)"},
		&cli.StringFlag{Name: "data", Usage: "folder with the MNIST IDX files (default $MNISTGPU_DATA, then ./data/mnist)"},
		&cli.Float64Flag{Name: "val-split", Value: 0.1, Usage: "fraction of the training set held out for validation"},
		&cli.Float64Flag{Name: "train-ratio", Usage: "pool train and test (70,000 images) and re-split at this train fraction (default: the standard 60,000/10,000)"},
		&cli.IntFlag{Name: "subset", Usage: "train on the first N training images only (quick experiments)", DefaultText: "all"},
		&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (GPU if usable, else CPU), cpu or cuda"},
		&cli.IntFlag{Name: "gpu", Usage: "which GPU to use (after CUDA_VISIBLE_DEVICES)"},
		&cli.IntFlag{Name: "threads", Usage: "CPU threads (default: all cores)"},
		&cli.BoolFlag{Name: "no-figures", Usage: "skip the figures and t-SNE"},
		&cli.IntFlag{Name: "tsne-points", Value: 5000, Usage: "test images embedded by t-SNE (1 to 10000)"},
		&cli.StringFlag{Name: "tsne-layer", Value: "logits", Usage: "t-SNE of the last layer's outputs (logits) or inputs (penultimate)"},
	}
}

// runFlags are the flags of `train` that say where the run folder is.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Usage: "run folder; a folder that holds a run is refused (default <task>-<timestamp> under $MNISTGPU_RUNS, else under ./runs)"},
		&cli.BoolFlag{Name: "overwrite", Usage: "replace the run that --out holds"},
		&cli.StringFlag{Name: "resume", Usage: "continue the killed or interrupted run in `DIR` with the flags it was started with"},
	}
}

func trainCommand() *cli.Command {
	desc := "Writes DIR/config.json, history.csv (per epoch), metrics.json (test accuracy,\n" +
		"precision, recall, F1), predictions.csv, model.safetensors, train.log and figures/.\n" +
		"After each epoch it keeps DIR/" + runs.ResumeFile + ", from which --resume DIR continues a run\n" +
		"that was killed or interrupted (removed when the run is finished).\n\n" +
		"Examples:\n" +
		"   mnistgpu train cnn\n" +
		"   mnistgpu train mlp --epochs 3 --hidden 128,64,32 --activation tanh\n" +
		"   mnistgpu train cnn --batchnorm=false --batch-size 32 --out runs/cnn-nobn\n" +
		"   mnistgpu train --resume runs/cnn-nobn\n\n" + exitCodesHelp
	sub := func(task, usage string) *cli.Command {
		return &cli.Command{
			Name:        task,
			Usage:       usage,
			Description: desc,
			Flags:       append(trainFlags(), runFlags()...),
			Action:      func(c *cli.Context) error { return trainAction(c, task) },
		}
	}
	return &cli.Command{
		Name:        "train",
		Usage:       "train task 1 (mlp) or task 2 (cnn) and write a run folder",
		ArgsUsage:   "mlp|cnn",
		Description: desc + "\n\nSee `mnistgpu train mlp --help` for the flags.",
		Flags:       append(trainFlags(), runFlags()...),
		Subcommands: []*cli.Command{
			sub(model.TaskMLP, "task 1: the multilayer perceptron (784-128-64-10, ReLU, dropout 0.3)"),
			sub(model.TaskCNN, "task 2: the CNN (conv 3x3 4ch, batch norm, ReLU, max-pool; twice; then linear)"),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &exitError{msg: fmt.Sprintf("train: unknown task %q: want mlp or cnn", c.Args().First()), code: exitUsage}
			}
			if c.IsSet("resume") {
				return resumeAction(c, "")
			}
			return &exitError{msg: "train: name the task: mlp or cnn (e.g. mnistgpu train cnn), or --resume DIR", code: exitUsage}
		},
	}
}

func trainAction(c *cli.Context, task string) error {
	if c.NArg() > 0 {
		return &exitError{msg: fmt.Sprintf("train %s: unexpected argument %q (flags start with --)", task, c.Args().First()), code: exitUsage}
	}
	if c.IsSet("resume") {
		return resumeAction(c, task)
	}
	if err := checkRepeated(os.Args[1:], append(trainFlags(), runFlags()...)); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	cfg, err := runConfig(c, task)
	if err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	out := c.String("out")
	if out == "" {
		parent := os.Getenv("MNISTGPU_RUNS")
		if parent == "" {
			parent = "runs"
		}
		out = filepath.Join(parent, fmt.Sprintf("%s-%s", cfg.Arch.Task, time.Now().Format("20060102-150405")))
	}
	if err := runs.CheckRunDir(out, c.Bool("overwrite")); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	return trainRun(c, cfg, out, runs.Options{Overwrite: c.Bool("overwrite")})
}

// resumeAction continues the run in --resume DIR with its own flags; task,
// when given, and every train flag given must agree with them.
func resumeAction(c *cli.Context, task string) error {
	if err := checkRepeated(os.Args[1:], append(trainFlags(), runFlags()...)); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	dir := c.String("resume")
	usage := func(format string, a ...any) error {
		return &exitError{msg: fmt.Sprintf("--resume %s: ", dir) + fmt.Sprintf(format, a...), code: exitUsage}
	}
	if c.IsSet("out") && filepath.Clean(c.String("out")) != filepath.Clean(dir) {
		return usage("--out %s names another folder: a run resumes in its own folder", c.String("out"))
	}
	if c.IsSet("overwrite") {
		return usage("--overwrite would replace the run that --resume continues")
	}
	var old runs.Config
	if err := runs.ReadJSON(filepath.Join(dir, "config.json"), &old); err != nil {
		return usage("no run to resume there (%v)", err)
	}
	if runs.FileExists(filepath.Join(dir, "metrics.json")) && !runs.FileExists(filepath.Join(dir, runs.ResumeFile)) {
		return usage("the run there is finished (metrics.json): nothing to resume")
	}
	if task != "" && task != old.Arch.Task {
		return usage("the run there is a %s run, not %s", old.Arch.Task, task)
	}
	if err := checkResumeFlags(c, old); err != nil {
		return usage("%v", err)
	}
	return trainRun(c, old, dir, runs.Options{Resume: true})
}

// trainRun loads the data, opens the device and trains cfg into out. SIGINT
// and SIGTERM stop it between two steps; the files being written are
// finished first.
func trainRun(c *cli.Context, cfg runs.Config, out string, o runs.Options) error {
	ctx, caught, stop := signalContext()
	defer stop()
	o.Context = ctx
	data, err := runs.LoadData(cfg.Data, cfg.Train.Seed)
	if err != nil {
		return err
	}
	dev, err := openDevice(cfg.Device, c.Int("gpu"), c.Int("threads"))
	if err != nil {
		return err
	}
	defer dev.Close()
	o.Log = runs.Logger{Out: os.Stdout, Bar: isTerminal(os.Stdout)}
	res, err := runs.Run(cfg, dev, data, out, o)
	if sig := caught(); sig != nil && err != nil {
		var ie *runs.InterruptedError
		msg := fmt.Sprintf("interrupted by %s before training; nothing was written", signalName(sig))
		if errors.As(err, &ie) {
			msg = fmt.Sprintf("interrupted by %s in epoch %d; %d finished epochs are saved in %s: continue with `mnistgpu train --resume %s`",
				signalName(sig), ie.Epoch, ie.Saved, out, out)
		}
		return &exitError{msg: msg, code: exitSignal(sig)}
	}
	if err != nil {
		return err
	}
	if res.Diverged != "" {
		return &exitError{msg: res.Diverged + "; the run folder " + out + " is written with status diverged", code: exitDiverged}
	}
	return nil
}

// runConfig turns the flags into a checked run configuration.
func runConfig(c *cli.Context, task string) (runs.Config, error) {
	var cfg runs.Config
	arch, err := model.DefaultArch(strings.ToLower(task))
	if err != nil {
		return cfg, err
	}
	arch.Activation = c.String("activation")
	if c.IsSet("dropout") {
		arch.Dropout = c.Float64("dropout")
	}
	if err := checkApplies(c, arch.Task); err != nil {
		return cfg, err
	}
	switch arch.Task {
	case model.TaskMLP:
		if arch.Hidden, err = model.ParseInts("hidden", c.String("hidden")); err != nil {
			return cfg, err
		}
	case model.TaskCNN:
		if arch.Channels, err = model.ParseInts("channels", c.String("channels")); err != nil {
			return cfg, err
		}
		arch.Kernel = c.Int("kernel")
		arch.BatchNorm = c.Bool("batchnorm")
	}
	if err := arch.Validate(); err != nil {
		return cfg, err
	}
	tc := model.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = c.Int("epochs"), c.Int("batch-size")
	if tc.Optimizer, err = model.ParseOptimizer(c.String("optimizer")); err != nil {
		return cfg, err
	}
	tc.LR = model.DefaultLR(tc.Optimizer)
	if c.IsSet("lr") {
		tc.LR = c.Float64("lr")
	}
	tc.Momentum, tc.WeightDecay = c.Float64("momentum"), c.Float64("weight-decay")
	tc.Loss, tc.Seed = strings.ToLower(c.String("loss")), c.Uint64("seed")
	if err := tc.Validate(); err != nil {
		return cfg, err
	}
	dc := runs.DataConfig{Dir: c.String("data"), ValSplit: c.Float64("val-split"), TrainRatio: c.Float64("train-ratio"), Subset: c.Int("subset")}
	if err := dataset.CheckSplitOptions(dc.ValSplit, dc.TrainRatio, dc.Subset); err != nil {
		return cfg, err
	}
	cfg = runs.Config{Arch: arch, Train: tc, Data: dc, Device: c.String("device"),
		Figures: !c.Bool("no-figures"), TSNEPoints: c.Int("tsne-points"), TSNELayer: c.String("tsne-layer"),
		Command: strings.Join(os.Args, " ")}
	if cfg.Device != "auto" && cfg.Device != "cpu" && cfg.Device != "cuda" {
		return cfg, fmt.Errorf("--device %s: want auto, cpu or cuda", cfg.Device)
	}
	if t := c.Int("threads"); t < 0 {
		return cfg, fmt.Errorf("--threads %d: must be 0 (all cores) or more", t)
	}
	if g := c.Int("gpu"); g < 0 {
		return cfg, fmt.Errorf("--gpu %d: must be 0 or more (see mnistgpu devices)", g)
	}
	return cfg, checkTSNE(cfg.TSNEPoints, cfg.TSNELayer)
}

// isTerminal reports whether f is a character device (a terminal), where a
// progress bar may redraw in place.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
