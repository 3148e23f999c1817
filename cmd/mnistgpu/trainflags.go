package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"mnistgpu/dataset"
	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// taskFlags are the flags that apply to one task only.
var taskFlags = map[string]string{"hidden": model.TaskMLP, "channels": model.TaskCNN, "kernel": model.TaskCNN, "batchnorm": model.TaskCNN}

// checkApplies rejects a flag given for the other task (--hidden on cnn,
// --channels, --kernel or --batchnorm on mlp), which would be ignored.
func checkApplies(c *cli.Context, task string) error {
	for _, name := range slices.Sorted(maps.Keys(taskFlags)) {
		if only := taskFlags[name]; only != task && c.IsSet(name) {
			return fmt.Errorf("--%s applies to %s only, not to %s", name, only, task)
		}
	}
	return nil
}

// checkRepeated rejects a flag of flags given more than once with different
// values (the last would silently win). args are the command-line words.
func checkRepeated(args []string, flags []cli.Flag) error {
	isBool, known := map[string]bool{}, map[string]string{}
	for _, f := range flags {
		_, b := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			isBool[n], known[n] = b, f.Names()[0]
		}
	}
	seen := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		canon, ok := known[name]
		if !ok {
			continue
		}
		if !hasVal {
			if isBool[name] {
				val = "true"
			} else if i+1 < len(args) {
				i++
				val = args[i]
			}
		}
		if prev, ok := seen[canon]; ok && prev != val {
			return fmt.Errorf("--%s given twice, as %s and as %s: give it once", canon, prev, val)
		}
		seen[canon] = val
	}
	return nil
}

// flagValues are the train flag values that make cfg, as flagConfig reads
// them: flagConfig(nil)(task, flagValues(cfg)) gives cfg back.
func flagValues(cfg runs.Config) map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	ints := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	a, t, d := cfg.Arch, cfg.Train, cfg.Data
	v := map[string]string{
		"epochs": strconv.Itoa(t.Epochs), "batch-size": strconv.Itoa(t.BatchSize), "lr": f(t.LR), "optimizer": t.Optimizer,
		"momentum": f(t.Momentum), "weight-decay": f(t.WeightDecay), "loss": t.Loss, "seed": strconv.FormatUint(t.Seed, 10),
		"activation": a.Activation, "dropout": f(a.Dropout),
		"val-split": f(d.ValSplit), "train-ratio": f(d.TrainRatio), "subset": strconv.Itoa(d.Subset),
		"device": cfg.Device, "no-figures": strconv.FormatBool(!cfg.Figures),
		"tsne-points": strconv.Itoa(cfg.TSNEPoints), "tsne-layer": cfg.TSNELayer,
	}
	if a.Task == model.TaskMLP {
		v["hidden"] = ints(a.Hidden)
	} else {
		v["channels"], v["kernel"], v["batchnorm"] = ints(a.Channels), strconv.Itoa(a.Kernel), strconv.FormatBool(a.BatchNorm)
	}
	return v
}

// checkResumeFlags checks that the train flags given with --resume agree
// with the run's own (--gpu and --threads may change: they do not change
// what is computed).
func checkResumeFlags(c *cli.Context, old runs.Config) error {
	given := fixedTrainFlags(c, map[string]bool{"gpu": true, "threads": true, "data": true})
	if c.IsSet("data") {
		dir, _, err := dataset.Locate(c.String("data"))
		if err != nil {
			return err
		}
		if filepath.Clean(dir) != filepath.Clean(old.Data.Dir) {
			return fmt.Errorf("--data %s contradicts the run's data %s", c.String("data"), old.Data.Dir)
		}
	}
	if len(given) == 0 {
		return nil
	}
	vals := flagValues(old)
	maps.Copy(vals, given)
	cfg, err := flagConfig(nil)(old.Arch.Task, vals)
	if err != nil {
		return err
	}
	diff := runs.Diff(old, cfg)
	if diff == "" && (cfg.Device != old.Device || cfg.Figures != old.Figures || cfg.TSNEPoints != old.TSNEPoints || cfg.TSNELayer != old.TSNELayer) {
		diff = "device or figures"
	}
	if diff != "" {
		var names []string
		for _, k := range slices.Sorted(maps.Keys(given)) {
			names = append(names, "--"+k+" "+given[k])
		}
		return fmt.Errorf("%s contradicts the run's flags (%s): leave it out to continue with the flags the run was started with", strings.Join(names, ", "), diff)
	}
	return nil
}
