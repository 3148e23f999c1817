// Package studytest holds the study packages' shared test helpers: MNIST
// from the pinned Go module, a train-flag parser for the few flags tests
// set, and a CPU device opener.
package studytest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"mnistgpu/dataset"
	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// RealData loads MNIST from the pinned Go module, split as a run would.
func RealData(t *testing.T, c runs.DataConfig) *runs.Data {
	t.Helper()
	dir, err := dataset.ModuleDir()
	if err != nil {
		t.Skipf("GoMNIST module not available: %v", err)
	}
	c.Dir = filepath.Join(dir, "data")
	d, err := runs.LoadData(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Config is a runs.ConfigFunc for tests: the cmd parses the real train flags;
// this applies the few the tests use, over fixed values, the same way.
func Config(data runs.DataConfig, fixed map[string]string) runs.ConfigFunc {
	return func(task string, set map[string]string) (runs.Config, error) {
		arch, err := model.DefaultArch(task)
		if err != nil {
			return runs.Config{}, err
		}
		cfg := runs.Config{Arch: arch, Train: model.DefaultTrainConfig(), Data: data, Device: "cpu",
			Figures: true, TSNEPoints: 5000, TSNELayer: "logits"}
		all := map[string]string{}
		for k, v := range fixed {
			all[k] = v
		}
		for k, v := range set {
			all[k] = v
		}
		for k, v := range all {
			var e error
			switch k {
			case "epochs":
				cfg.Train.Epochs, e = strconv.Atoi(v)
			case "batch-size":
				cfg.Train.BatchSize, e = strconv.Atoi(v)
			case "lr":
				cfg.Train.LR, e = strconv.ParseFloat(v, 64)
			case "seed":
				cfg.Train.Seed, e = strconv.ParseUint(v, 10, 64)
			case "loss":
				cfg.Train.Loss = v
			case "subset":
				cfg.Data.Subset, e = strconv.Atoi(v)
			case "train-ratio":
				cfg.Data.TrainRatio, e = strconv.ParseFloat(v, 64)
			case "tsne-points":
				cfg.TSNEPoints, e = strconv.Atoi(v)
			case "no-figures":
				var b bool
				b, e = strconv.ParseBool(v)
				cfg.Figures = !b
			case "activation":
				cfg.Arch.Activation = v
			case "dropout":
				cfg.Arch.Dropout, e = strconv.ParseFloat(v, 64)
			case "batchnorm":
				cfg.Arch.BatchNorm, e = strconv.ParseBool(v)
			case "hidden":
				cfg.Arch.Hidden, e = model.ParseInts("hidden", v)
			default:
				return cfg, fmt.Errorf("--%s: not a flag of the test config", k)
			}
			if e != nil {
				return cfg, fmt.Errorf("--%s %s: %w", k, v, e)
			}
		}
		if err := cfg.Arch.Validate(); err != nil {
			return cfg, err
		}
		return cfg, cfg.Train.Validate()
	}
}

// CPUOpener gives every worker a CPU device of threads threads.
func CPUOpener(threads int) runs.OpenFunc {
	return func(int) (kernels.Device, error) { return cpu.New(threads), nil }
}
