package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"mnistgpu/internal/progress"
	"mnistgpu/kernels"
	"mnistgpu/kernels/open"
	"mnistgpu/model"
	"mnistgpu/study/runs"
	"mnistgpu/study/sweep"
)

// setList collects the --set arguments as given: no comma splitting, since
// the values of one --set are separated by commas themselves.
type setList struct{ vals []string }

func (s *setList) Set(v string) error { s.vals = append(s.vals, v); return nil }
func (s *setList) String() string     { return strings.Join(s.vals, " ") }

func sweepCommand() *cli.Command {
	flags := append(trainFlags(),
		&cli.StringFlag{Name: "task", Usage: "mlp or cnn (required)"},
		&cli.GenericFlag{Name: "set", Value: &setList{}, Usage: "`NAME=V1,V2,...`: sweep train flag NAME over the values (repeat --set for a grid; " +
			"when a value is itself a list, separate values with ';': --set 'hidden=128,64;128,64,32')"},
		repeatFlag("runs per grid point"),
		&cli.StringFlag{Name: "out", Usage: "sweep folder (default sweeps/<task>-<swept flags>); rerunning into it resumes"},
		&cli.StringFlag{Name: "shard", Usage: "`i/n`: run only runs i, i+n, i+2n, ... of the sorted run list (merge the shards with `sweep merge`); " +
			"auto: i and n from a Slurm array job or a Kubernetes Indexed Job (see deploy/)"},
		&cli.IntFlag{Name: "parallel", Usage: "runs at once (default: one per CPU core with one thread each on the CPU, one per GPU with several GPUs, " +
			"else 4 sharing the GPU); on the CPU each run gets threads/K threads"},
		&cli.BoolFlag{Name: "figures", Usage: "also draw every run's figures (two t-SNE per run: slow)"},
	)
	return &cli.Command{
		Name:      "sweep",
		Usage:     "train a grid of configurations (any train flag) with repeats and tabulate mean ± 95 % CI",
		ArgsUsage: " ",
		Description: "Each run is an ordinary run folder OUT/runs/<id>, id named from the values and the repeat\n" +
			"(e.g. batch-size=32_batchnorm=false_r1); runs already finished there are skipped, so rerunning the\n" +
			"same command resumes. Writes OUT/results.csv and results.md (per configuration: n, accuracy,\n" +
			"weighted recall and F1, final train and validation loss, training seconds: results.md as mean\n" +
			"± 95 % confidence interval over the repeats (Student t), results.csv with std and CI columns) and\n" +
			"OUT/figures/accuracy-by-<flag>.png. Train flags not swept are fixed for every run.\n\n" +
			"Examples:\n" +
			"   mnistgpu sweep --task cnn --set batch-size=32,64 --set batchnorm=true,false --repeat 3 --epochs 3 --out sweeps/bn\n" +
			"   mnistgpu sweep --task mlp --set 'hidden=128,64;128,64,32' --set lr=0.01,0.05 --subset 5000 --epochs 2\n" +
			"   mnistgpu sweep --task cnn --set lr=0.01,0.05,0.1 --shard 1/2 --out sweeps/lr-a   # on one machine\n" +
			"   mnistgpu sweep --task cnn --set lr=0.01,0.05,0.1 --shard 2/2 --out sweeps/lr-b   # on another\n" +
			"   mnistgpu sweep merge sweeps/lr-a sweeps/lr-b --out sweeps/lr\n" +
			"   mnistgpu sweep --task cnn --set lr=0.01,0.05,0.1 --shard auto --out sweeps/lr-$SLURM_ARRAY_TASK_ID   # Slurm or Kubernetes array job",
		Flags:       flags,
		Action:      sweepAction,
		Subcommands: []*cli.Command{sweepMergeCommand()},
	}
}

func sweepMergeCommand() *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine the shards of a sweep into one results.csv and results.md",
		ArgsUsage: "DIR...",
		Description: "Copies the runs of every shard folder into the first DIR (or --out) and writes\n" +
			"results.csv, results.md and the charts there, as the unsharded sweep would.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "out", Usage: "merged folder (default: the first DIR)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return &exitError{msg: "sweep merge: name the shard folders (e.g. mnistgpu sweep merge sweeps/a sweeps/b)", code: exitUsage}
			}
			res, err := sweep.Merge(c.Args().Slice(), c.String("out"), os.Stderr)
			if err != nil {
				return err
			}
			return printSweep(os.Stdout, res)
		},
	}
}

// usageError marks an error in the flags or values given, for exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func sweepAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return &exitError{msg: fmt.Sprintf("sweep: unexpected argument %q (flags start with --; merge is `mnistgpu sweep merge DIR...`)", c.Args().First()), code: exitUsage}
	}
	if err := checkRepeated(os.Args[1:], trainFlags()); err != nil { // --set may repeat
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	task := strings.ToLower(c.String("task"))
	if task == "" {
		return &exitError{msg: "sweep: --task mlp or --task cnn is required", code: exitUsage}
	}
	if _, err := model.DefaultArch(task); err != nil {
		return &exitError{msg: "--task: " + err.Error(), code: exitUsage}
	}
	var params []sweep.Param
	known := trainFlagNames()
	for _, s := range c.Generic("set").(*setList).vals {
		p, err := sweep.ParseParam(s)
		if err != nil {
			return &exitError{msg: err.Error(), code: exitUsage}
		}
		if !known[p.Name] {
			return &exitError{msg: fmt.Sprintf("--set %s: %q is not a train flag (see mnistgpu train %s --help)", s, p.Name, task), code: exitUsage}
		}
		if p.Name == "device" || p.Name == "gpu" || p.Name == "threads" {
			return &exitError{msg: fmt.Sprintf("--set %s: --%s says where runs train, not what they compute: run one sweep per device", s, p.Name), code: exitUsage}
		}
		params = append(params, p)
	}
	shard, shards, err := parseShard(c.String("shard"))
	if err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	if c.String("shard") == "auto" {
		var from string
		if shard, shards, from, err = sweep.ShardFromEnv(os.Getenv); err != nil {
			return &exitError{msg: err.Error(), code: exitUsage}
		}
		fmt.Fprintf(os.Stderr, "--shard auto: %d/%d (%s)\n", shard, shards, from)
	}
	parallel, err := parallelRuns(c)
	if err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	swept := map[string]bool{}
	for _, p := range params {
		swept[p.Name] = true
	}
	fixed := fixedTrainFlags(c, swept)
	figures := c.Bool("figures")
	build := flagConfig(fixed)
	config := func(task string, set map[string]string) (runs.Config, error) {
		cfg, err := build(task, set)
		cfg.Figures = cfg.Figures && figures
		return cfg, err
	}
	out := c.String("out")
	if out == "" {
		var names []string
		for _, p := range params {
			names = append(names, p.Name)
		}
		out = filepath.Join("sweeps", strings.Join(append([]string{task}, names...), "-"))
	}
	gpu := -1
	if c.IsSet("gpu") {
		gpu = c.Int("gpu")
	}
	repeat, _, err := repeatOf(c)
	if err != nil {
		return &exitError{msg: err.Error(), code: exitUsage}
	}
	o := sweep.Options{Task: task, Params: params, Repeat: repeat, Config: config, Shard: shard, Shards: shards,
		Parallel: parallel, Open: deviceOpener(c.String("device"), gpu, c.Int("threads"), parallel, os.Stderr),
		Command: commandLine(), Log: os.Stderr}
	// Overall progress, with the device note written through it.
	o.Progress = progress.New(os.Stderr, isTerminal(os.Stderr))
	o.Open = deviceOpener(c.String("device"), gpu, c.Int("threads"), parallel, o.Progress)
	res, err := sweep.Run(out, o)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "--") {
			return &exitError{msg: err.Error(), code: exitUsage}
		}
		return err
	}
	fmt.Fprintf(os.Stderr, "%d runs trained, %d already finished\n", res.Trained, res.Skipped)
	return printSweep(os.Stdout, res)
}

// printSweep prints the per-configuration table and the files written.
func printSweep(w io.Writer, res *sweep.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	for _, p := range res.Params {
		head = append(head, p.Name)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "n", "accuracy", "weighted F1", "train loss", "val loss", "train s", "status"), "\t"))
	for _, r := range res.Rows {
		st := "ok"
		if r.Diverged > 0 {
			st = fmt.Sprintf("%d diverged", r.Diverged)
		}
		fmt.Fprintln(tw, strings.Join(append(slices.Clone(r.Values), strconv.Itoa(len(r.Runs)), r.Accuracy.FormatCI(4), r.WeightedF1.FormatCI(4),
			r.TrainLoss.FormatCI(4), r.ValLoss.FormatCI(4), r.TrainSeconds.FormatCI(1), st), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range res.Files {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(res.Dir, f))
	}
	return nil
}

// parseShard parses --shard i/n ("" means the whole sweep; "auto" is
// left to sweep.ShardFromEnv).
func parseShard(s string) (int, int, error) {
	if s == "" || s == "auto" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("--shard %s: want i/n with 1 ≤ i ≤ n, e.g. --shard 1/2, or auto", s)
	}
	return i, n, nil
}

// trainFlagNames are the names of train's flags.
func trainFlagNames() map[string]bool {
	m := map[string]bool{}
	for _, f := range trainFlags() {
		for _, n := range f.Names() {
			m[n] = true
		}
	}
	return m
}

// fixedTrainFlags are the train flags given on c's command line (except
// those in skip), as flag values.
func fixedTrainFlags(c *cli.Context, skip map[string]bool) map[string]string {
	fixed := map[string]string{}
	for _, f := range trainFlags() {
		name := f.Names()[0]
		if skip[name] || !c.IsSet(name) {
			continue
		}
		fixed[name] = fmt.Sprint(c.Value(name))
	}
	return fixed
}

// flagConfig returns a runs.ConfigFunc that parses train flags exactly as
// `mnistgpu train TASK` does: fixed flags, then set's values over them, run
// through train's flag definitions and runConfig, so a sweep or the report
// means what train means and errors name the flag. The run's Command is the
// equivalent train command.
func flagConfig(fixed map[string]string) runs.ConfigFunc {
	return func(task string, set map[string]string) (runs.Config, error) {
		vals := maps.Clone(fixed)
		if vals == nil {
			vals = map[string]string{}
		}
		maps.Copy(vals, set)
		args := []string{"mnistgpu train " + task}
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			args = append(args, "--"+k+"="+vals[k])
		}
		var cfg runs.Config
		app := &cli.App{
			Name: "mnistgpu train " + task, Flags: trainFlags(), HideHelp: true, HideVersion: true,
			Writer: io.Discard, ErrWriter: io.Discard,
			ExitErrHandler: func(*cli.Context, error) {},
			OnUsageError: func(_ *cli.Context, err error, _ bool) error {
				return &usageError{err: err}
			},
			Action: func(c *cli.Context) error {
				var err error
				cfg, err = runConfig(c, task)
				return err
			},
		}
		if err := app.Run(args); err != nil {
			return cfg, &usageError{err: err}
		}
		cfg.Command = strings.Join(args, " ")
		return cfg, nil
	}
}

// probeCUDA is open.Probe, run once: choosing --parallel, opening each
// worker's device and describing the device all ask it.
var probeCUDA = sync.OnceValue(open.Probe)

// gpusPerWorkerShared is how many runs share one GPU by default: the
// study's networks are far too small to keep an H100 busy, so several runs
// overlap their kernel launches and host work.
const gpusPerWorkerShared = 4

// parallelRuns is --parallel, or its default for the device: on the CPU
// one run per core (--threads, else all cores), each on one thread, which
// trains these small networks faster than fewer runs on more threads and
// gives the same numbers on any machine; on GPUs one run per GPU when
// several are visible, else gpusPerWorkerShared runs sharing it.
func parallelRuns(c *cli.Context) (int, error) {
	if c.IsSet("parallel") {
		if p := c.Int("parallel"); p >= 1 {
			return p, nil
		}
		return 0, fmt.Errorf("--parallel %d: must be at least 1", c.Int("parallel"))
	}
	if c.String("device") != "cpu" {
		if p := probeCUDA(); p.OK() {
			if n := len(p.GPUs); n > 1 && !c.IsSet("gpu") {
				return n, nil
			}
			return gpusPerWorkerShared, nil
		}
	}
	if t := c.Int("threads"); t > 0 {
		return t, nil
	}
	return runtime.NumCPU(), nil
}

// deviceOpener opens each parallel worker's device: on the CPU cores/K
// threads each; on GPUs worker i gets GPU i mod (visible GPUs) when several
// are visible and gpu is not fixed (gpu < 0), else all share one GPU. The
// first note (why no GPU is used) is printed once.
func deviceOpener(want string, gpu, threads, parallel int, log io.Writer) runs.OpenFunc {
	per := threadsPerRun(threads, parallel)
	var note sync.Once
	return func(slot int) (kernels.Device, error) {
		g := max(gpu, 0)
		if want != "cpu" && gpu < 0 && parallel > 1 {
			if nGPU := len(probeCUDA().GPUs); nGPU > 1 {
				g = slot % nGPU
			}
		}
		dev, msg, err := open.Device(want, g, per)
		if msg != "" {
			note.Do(func() { fmt.Fprintln(log, msg) })
		}
		return dev, err
	}
}

// threadsPerRun is each of parallel runs' share of threads CPU threads
// (0: all cores), at least one.
func threadsPerRun(threads, parallel int) int {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return max(1, threads/max(parallel, 1))
}

// commandLine is the command as typed, with the program called mnistgpu.
func commandLine() string {
	args := append([]string{"mnistgpu"}, os.Args[1:]...)
	for i, a := range args {
		if strings.ContainsAny(a, " ;'\"$&|*?") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}
