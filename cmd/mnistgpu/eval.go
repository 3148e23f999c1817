package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
	"mnistgpu/study/runs"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "recompute the test metrics and figures of a saved model",
		Description: "Rebuilds the test split recorded in the checkpoint and writes metrics.json,\n" +
			"predictions.csv and figures/ into --out (default: eval/ beside the checkpoint).\n\n" +
			"Example:\n   mnistgpu eval --checkpoint runs/cnn-20261126-120000/model.safetensors",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Required: true, Usage: "model.safetensors written by train"},
			&cli.StringFlag{Name: "data", Usage: "MNIST folder (default: the run's, then $MNISTGPU_DATA, then ./data/mnist)"},
			&cli.StringFlag{Name: "out", Usage: "output folder"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto, cpu or cuda"},
			&cli.IntFlag{Name: "gpu", Usage: "which GPU"},
			&cli.BoolFlag{Name: "no-figures", Usage: "skip the figures"},
			&cli.IntFlag{Name: "tsne-points", Value: 5000, Usage: "test images embedded by t-SNE (1 to 10000)"},
			&cli.StringFlag{Name: "tsne-layer", Value: "logits", Usage: "logits or penultimate"},
		},
		Action: func(c *cli.Context) error {
			ck := c.String("checkpoint")
			out := c.String("out")
			if out == "" {
				out = filepath.Join(filepath.Dir(ck), "eval")
			}
			o := runs.EvalOptions{DataDir: c.String("data"), Figures: !c.Bool("no-figures"),
				TSNEPoints: c.Int("tsne-points"), TSNELayer: c.String("tsne-layer"), Log: os.Stdout}
			if err := checkTSNE(o.TSNEPoints, o.TSNELayer); err != nil {
				return &exitError{msg: err.Error(), code: exitUsage}
			}
			// A bad checkpoint is reported before a device is opened (and
			// before any note about which one).
			checkpoint, err := model.ReadCheckpoint(ck)
			if err != nil {
				return err
			}
			dev, err := openDevice(c.String("device"), c.Int("gpu"), 0)
			if err != nil {
				return err
			}
			defer dev.Close()
			if isTerminal(os.Stdout) {
				// The t-SNE's progress, in place.
				o.Stage = func(s string) { fmt.Print("\r\033[K" + s) }
			}
			_, err = runs.Evaluate(checkpoint, dev, out, o)
			return err
		},
	}
}

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:      "predict",
		Usage:     "classify image files with a saved model",
		ArgsUsage: "IMAGE...",
		Description: "Each PNG, JPEG or GIF (grayscale or colour, any size) is converted as MNIST was made:\n" +
			"grayscale, inverted when the background is light, the digit scaled to 20 pixels and\n" +
			"centred by mass in 28x28. Runs on the CPU.\n\n" +
			"Example:\n   mnistgpu predict --checkpoint runs/cnn-…/model.safetensors digit.png",
		Flags: []cli.Flag{&cli.StringFlag{Name: "checkpoint", Required: true, Usage: "model.safetensors written by train"}},
		Action: func(c *cli.Context) error {
			dev := cpu.New(0)
			defer dev.Close()
			preds, err := runs.PredictFiles(c.String("checkpoint"), dev, c.Args().Slice())
			if err != nil {
				return err
			}
			for _, p := range preds {
				probs := make([]string, len(p.Probs))
				for i, v := range p.Probs {
					probs[i] = fmt.Sprintf("%d:%.3f", i, v)
				}
				fmt.Printf("%s: %d  (%s)\n", p.Path, p.Class, strings.Join(probs, " "))
				if len(p.Notes) > 0 {
					fmt.Printf("  note: %s\n", strings.Join(p.Notes, "; "))
				}
			}
			return nil
		},
	}
}

// checkTSNE checks the t-SNE flags shared by train and eval.
func checkTSNE(points int, layer string) error {
	if points < 1 || points > 10000 {
		return fmt.Errorf("--tsne-points %d: must be between 1 and 10000", points)
	}
	if layer != "logits" && layer != "penultimate" {
		return fmt.Errorf("--tsne-layer %s: want logits or penultimate", layer)
	}
	return nil
}
