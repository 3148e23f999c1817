package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"mnistgpu/model"
	"mnistgpu/study/bench"
	"mnistgpu/study/runs"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure training throughput (seconds per epoch, images per second) of each task",
		Description: "Trains the default MLP and CNN (SGD lr 0.05 momentum 0.9) on the 54,000 training images\n" +
			"at each batch size: one warm-up epoch, then the median of --epochs timed epochs.\n\n" +
			"Examples:\n" +
			"   mnistgpu bench --device cuda --json bench.json\n" +
			"   mnistgpu bench --compare torch.json --from bench.json   # side by side with scripts/torch_reference.py",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto, cpu or cuda"},
			&cli.IntFlag{Name: "gpu", Usage: "which GPU"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (default: all cores)"},
			&cli.StringFlag{Name: "tasks", Value: "mlp,cnn", Usage: "tasks to measure"},
			&cli.StringFlag{Name: "batch-sizes", Value: "64,512", Usage: "batch sizes to measure"},
			&cli.IntFlag{Name: "epochs", Value: 3, Usage: "timed epochs (after one warm-up epoch)"},
			&cli.StringFlag{Name: "data", Usage: "MNIST folder (default $MNISTGPU_DATA, then ./data/mnist)"},
			&cli.StringFlag{Name: "json", Value: "bench.json", Usage: "write the results here"},
			&cli.StringFlag{Name: "compare", Usage: "a PyTorch bench JSON to print beside ours (no training)"},
			&cli.StringFlag{Name: "from", Usage: "with --compare: our bench JSON to read instead of measuring"},
		},
		Action: func(c *cli.Context) error {
			var ref *bench.Result
			var err error
			if p := c.String("compare"); p != "" {
				if ref, err = bench.Read(p); err != nil {
					return err
				}
			}
			if p := c.String("from"); p != "" {
				ours, err := bench.Read(p)
				if err != nil {
					return err
				}
				return bench.WriteTable(os.Stdout, ours, ref)
			}
			o := bench.Options{Epochs: c.Int("epochs"), Seed: 1, Log: os.Stderr}
			for _, t := range strings.Split(c.String("tasks"), ",") {
				if _, err := model.DefaultArch(strings.TrimSpace(t)); err != nil {
					return &exitError{msg: "--tasks: " + err.Error(), code: exitUsage}
				}
				o.Tasks = append(o.Tasks, strings.TrimSpace(t))
			}
			if o.BatchSizes, err = model.ParseInts("batch-sizes", c.String("batch-sizes")); err != nil {
				return &exitError{msg: err.Error(), code: exitUsage}
			}
			if o.Epochs < 1 {
				return &exitError{msg: fmt.Sprintf("--epochs %d: must be at least 1", o.Epochs), code: exitUsage}
			}
			data, err := runs.LoadData(runs.DataConfig{Dir: c.String("data"), ValSplit: 0.1}, 1)
			if err != nil {
				return err
			}
			dev, err := openDevice(c.String("device"), c.Int("gpu"), c.Int("threads"))
			if err != nil {
				return err
			}
			defer dev.Close()
			res, err := bench.Run(dev, data, o)
			if err != nil {
				return err
			}
			if err := bench.Write(c.String("json"), res); err != nil {
				return err
			}
			return bench.WriteTable(os.Stdout, res, ref)
		},
	}
}
