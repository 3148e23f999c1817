package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"mnistgpu/internal/progress"
	"mnistgpu/study/report"
)

func reportCommand() *cli.Command {
	full, quick := report.Preset(false), report.Preset(true)
	return &cli.Command{
		Name:  "report",
		Usage: "run the seed's whole study and write OUT/index.html and OUT/README.md",
		Description: "Trains both tasks with every figure, then the ablations of the seed's sections 9 and 10\n" +
			"(epochs, batch size, hidden layers, batch norm, dropout, activation, loss, learning rate,\n" +
			"train/test ratio), each run an ordinary run folder under OUT/runs/<task>/, and writes the\n" +
			"report in sections 1-13 as the seed's: curves, test metrics, predictions, filters, analysis,\n" +
			"MLP vs CNN, t-SNE, findings written from the numbers, ablation tables and charts, architectures.\n" +
			"Finished runs in OUT are reused, so an interrupted report resumes.\n\n" +
			wrap("Full: "+presetSummary(full)+" ("+fullTime+").", 100) + "\n" +
			wrap("--quick: "+presetSummary(quick)+" ("+quickTime+").", 100) + "\n\n" +
			"Examples:\n" +
			"   mnistgpu report --out report\n" +
			"   mnistgpu report --quick --device cpu --out report-quick",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Value: "report", Usage: "report folder"},
			&cli.BoolFlag{Name: "quick", Usage: "a quick report: " + presetSummary(quick)},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (GPU if usable, else CPU), cpu or cuda"},
			&cli.IntFlag{Name: "gpu", Usage: "which GPU (default: GPU 0, or one per worker with --parallel and several GPUs)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads in all (default: all cores), shared by the --parallel workers"},
			&cli.StringFlag{Name: "data", Usage: "folder with the MNIST IDX files (default $MNISTGPU_DATA, then ./data/mnist)"},
			&cli.IntFlag{Name: "parallel", Usage: "runs at once (default: one per CPU core, one thread each; one per GPU; or 4 sharing one GPU)"},
			&cli.IntFlag{Name: "epochs", Usage: "epochs of every run", DefaultText: presetEpochs(full) + "; with --quick " + presetEpochs(quick)},
			&cli.IntFlag{Name: "subset", Usage: "train every run on the first N training images", DefaultText: presetImages(full) + "; with --quick " + presetImages(quick)},
			&cli.IntFlag{Name: "tsne-points", Usage: "test images embedded by t-SNE",
				DefaultText: report.Commas(full.TSNEPoints) + "; with --quick " + report.Commas(quick.TSNEPoints)},
			repeatFlag("runs per main run and per ablation value"),
		},
		Action: reportAction,
	}
}

func reportAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return &exitError{msg: fmt.Sprintf("report: unexpected argument %q (flags start with --)", c.Args().First()), code: exitUsage}
	}
	o := report.Preset(c.Bool("quick"))
	if c.IsSet("epochs") {
		if c.Int("epochs") < 1 {
			return &exitError{msg: fmt.Sprintf("--epochs %d: must be at least 1", c.Int("epochs")), code: exitUsage}
		}
		o.MainEpochs, o.AblationEpochs = c.Int("epochs"), c.Int("epochs")
	}
	if c.IsSet("subset") {
		o.Subset = c.Int("subset")
	}
	if c.IsSet("tsne-points") {
		o.TSNEPoints = c.Int("tsne-points")
	}
	if err := checkTSNE(o.TSNEPoints, "logits"); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	var err error
	if o.Repeat, o.RepeatWhy, err = repeatOf(c); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	if o.Parallel, err = parallelRuns(c); err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	want := c.String("device")
	fixed := map[string]string{"device": want}
	if d := c.String("data"); d != "" {
		fixed["data"] = d
	}
	o.Config = flagConfig(fixed)
	gpu := -1
	if c.IsSet("gpu") {
		gpu = c.Int("gpu")
	}
	o.Progress = progress.New(os.Stderr, isTerminal(os.Stderr))
	o.Open = deviceOpener(want, gpu, c.Int("threads"), o.Parallel, o.Progress)
	o.DeviceInfo = deviceInfo(want, c.Int("threads"), o.Parallel)
	o.Command = commandLine()
	o.Log = os.Stderr
	out := c.String("out")
	res, err := report.Run(out, o)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return &exitError{msg: err.Error(), code: exitUsage}
		}
		return err
	}
	for _, d := range res.Diverged {
		fmt.Fprintf(os.Stderr, "diverged: %s\n", d)
	}
	fmt.Printf("report: %s and %s (%d runs trained, %d reused, %.0f s)\n",
		filepath.Join(out, "index.html"), filepath.Join(out, "README.md"), res.Trained, res.Skipped, res.Seconds)
	return nil
}

// deviceInfo describes the device for the report's header: the CUDA probe
// (driver, libraries, GPUs) when the GPU path is usable and wanted, else
// the CPU, with why no GPU was used.
func deviceInfo(want string, threads, parallel int) string {
	var b strings.Builder
	if want != "cpu" {
		p := probeCUDA()
		if p.OK() {
			return fmt.Sprintf("%s%d runs at a time\n", p.String(), parallel)
		}
		fmt.Fprintf(&b, "no GPU used: %s\n", p.Problem)
	}
	fmt.Fprintf(&b, "%s (%d logical CPUs, %s/%s); %d runs at a time, each on %d CPU thread(s)\n",
		cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, parallel, threadsPerRun(threads, parallel))
	return b.String()
}

// cpuModel reads the processor's name from /proc/cpuinfo where there is one.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "an unnamed CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "an unnamed CPU"
}
