package main

import (
	"strings"
	"testing"

	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// TestFlagValuesRoundTrip checks that flagValues gives back the flags that
// make a configuration, which --resume relies on to spot contradictions.
func TestFlagValuesRoundTrip(t *testing.T) {
	build := flagConfig(nil)
	cases := []struct {
		task string
		set  map[string]string
	}{
		{"mlp", nil},
		{"cnn", nil},
		{"mlp", map[string]string{"hidden": "300,20,7", "lr": "0.0123456789", "optimizer": "adam", "dropout": "0", "no-figures": "true", "subset": "900"}},
		{"cnn", map[string]string{"channels": "8,16", "kernel": "5", "batchnorm": "false", "train-ratio": "0.8", "weight-decay": "1e-4", "tsne-layer": "penultimate"}},
	}
	for _, c := range cases {
		cfg, err := build(c.task, c.set)
		if err != nil {
			t.Fatal(err)
		}
		back, err := build(c.task, flagValues(cfg))
		if err != nil {
			t.Fatalf("%v: %v", c.set, err)
		}
		if d := runs.Diff(cfg, back); d != "" || back.Figures != cfg.Figures || back.TSNELayer != cfg.TSNELayer ||
			back.TSNEPoints != cfg.TSNEPoints || back.Device != cfg.Device {
			t.Fatalf("%v: round trip differs: %s %+v", c.set, d, back)
		}
	}
}

func TestCheckRepeated(t *testing.T) {
	flags := append(trainFlags(), runFlags()...)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "mlp", "--lr", "0.1", "--epochs", "2"}, ""},
		{[]string{"train", "mlp", "--lr", "0.1", "--lr=0.1"}, ""},
		{[]string{"train", "mlp", "--lr", "0.1", "--lr", "0.2"}, "--lr given twice"},
		{[]string{"train", "mlp", "-lr=0.1", "--lr", "0.2"}, "--lr given twice"},
		{[]string{"train", "cnn", "--batchnorm", "--batchnorm=false"}, "--batchnorm given twice"},
		{[]string{"train", "mlp", "--out", "a", "--hidden", "5", "--out", "b"}, "--out given twice"},
		{[]string{"train", "mlp", "--", "--lr", "1", "--lr", "2"}, ""},
	}
	for _, c := range cases {
		err := checkRepeated(c.args, flags)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}

// TestCheckApplies checks that each task-only flag is refused on the other
// task and accepted on its own.
func TestCheckApplies(t *testing.T) {
	for name, only := range taskFlags {
		for _, task := range []string{model.TaskMLP, model.TaskCNN} {
			val := "3"
			if name == "batchnorm" {
				val = "true"
			}
			_, err := flagConfig(nil)(task, map[string]string{name: val})
			if task == only && err != nil {
				t.Errorf("--%s on %s: %v", name, task, err)
			}
			if task != only && (err == nil || !strings.Contains(err.Error(), "applies to "+only+" only")) {
				t.Errorf("--%s on %s: want an error, got %v", name, task, err)
			}
		}
	}
}
