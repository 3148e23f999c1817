// Package report runs the seed's whole study (both tasks, every figure,
// the ablations of its sections 9 and 10) and writes index.html and
// README.md in the seed's sections, with the findings computed from the
// measured numbers.
package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"mnistgpu/internal/progress"
	"mnistgpu/study/runs"
	"mnistgpu/study/sweep"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"mnistgpu/internal/atomicfile"
	"mnistgpu/model"
	"mnistgpu/plots"
)

// Ablation is one experiment of the study's section 9 (task 1) or 10
// (task 2): one train flag set to each of Values, every other flag at the
// study's defaults. The value equal to the default reuses the task's main
// run when the epochs agree.
type Ablation struct {
	// Task is mlp or cnn.
	Task string
	// Flag is the train flag varied, without dashes ("batch-size").
	Flag string
	// Title is the subsection title, e.g. "Changing batch size".
	Title string
	// Values are the flag values; nil for "epochs" means half and all of
	// the report's ablation epochs (the seed's 5 vs 10), nil for "lr" means
	// 0.01, 0.05, 0.1 and the default learning rate.
	Values []string
	// Labels, when set, show each value in tables and charts.
	Labels []string
	// Seed holds the seed report's test accuracy for some values; the
	// report shows it in full mode, where the settings match the seed's.
	Seed map[string]float64
}

// DefaultAblations are the seed's experiments (its sections 9 and 10,
// and the claims of its section 8) for both tasks: epochs, batch size,
// hidden layers (task 1), batch norm (task 2), dropout, activation, loss,
// learning rate and the train/test ratio.
func DefaultAblations() []Ablation {
	ratio := []string{"ratio 6/7 (standard, 60k/10k)", "ratio 0.5 (35k/35k)", "ratio 0.8 (56k/14k)"}
	return []Ablation{
		{Task: model.TaskMLP, Flag: "epochs", Title: "Changing epochs", Seed: map[string]float64{"5": 0.9171, "10": 0.907}},
		{Task: model.TaskMLP, Flag: "batch-size", Title: "Changing batch size", Values: []string{"32", "64"}, Seed: map[string]float64{"32": 0.8946, "64": 0.907}},
		{Task: model.TaskMLP, Flag: "hidden", Title: "Changing hidden layers", Values: []string{"128,64", "128,64,32"},
			Seed: map[string]float64{"128,64": 0.907, "128,64,32": 0.9071}},
		{Task: model.TaskMLP, Flag: "activation", Title: "Changing the activation", Values: []string{"relu", "sigmoid", "tanh"}},
		{Task: model.TaskMLP, Flag: "dropout", Title: "With and without dropout", Values: []string{"0.3", "0"}, Labels: []string{"with dropout 0.3", "without dropout"}},
		{Task: model.TaskMLP, Flag: "loss", Title: "Changing the loss function", Values: []string{"ce", "nll", "mse"}},
		{Task: model.TaskMLP, Flag: "lr", Title: "Changing the learning rate"},
		{Task: model.TaskMLP, Flag: "train-ratio", Title: "Changing the train/test ratio", Values: []string{"0", "0.5", "0.8"}, Labels: ratio},
		{Task: model.TaskCNN, Flag: "epochs", Title: "Changing epochs", Seed: map[string]float64{"5": 0.9492, "10": 0.9504}},
		{Task: model.TaskCNN, Flag: "batch-size", Title: "Changing batch size", Values: []string{"32", "64"}, Seed: map[string]float64{"32": 0.9384, "64": 0.9492}},
		{Task: model.TaskCNN, Flag: "batchnorm", Title: "With and without batch norm", Values: []string{"true", "false"}, Labels: []string{"with batch norm", "without batch norm"},
			Seed: map[string]float64{"true": 0.9504, "false": 0.9466}},
		{Task: model.TaskCNN, Flag: "dropout", Title: "With and without dropout", Values: []string{"0", "0.3"}, Labels: []string{"without dropout", "with dropout 0.3"}},
		{Task: model.TaskCNN, Flag: "activation", Title: "Changing the activation", Values: []string{"relu", "sigmoid", "tanh"}},
		{Task: model.TaskCNN, Flag: "loss", Title: "Changing the loss function", Values: []string{"ce", "nll", "mse"}},
		{Task: model.TaskCNN, Flag: "lr", Title: "Changing the learning rate"},
		{Task: model.TaskCNN, Flag: "train-ratio", Title: "Changing the train/test ratio", Values: []string{"0", "0.5", "0.8"}, Labels: ratio},
	}
}

// ReportOptions configure Report.
type Options struct {
	// Quick marks a quick report (it changes only the wording; the numbers
	// below make it quick).
	Quick bool
	// MainEpochs train the two main runs (with every figure);
	// AblationEpochs every ablation run.
	MainEpochs, AblationEpochs int
	// Subset, when positive, trains every run on the first Subset
	// training images.
	Subset int
	// TSNEPoints test images are embedded by t-SNE in the main runs.
	TSNEPoints int
	// Repeat runs each main run and each ablation value with seeds seed,
	// seed+1, ...; the main runs' figures come from the first seed.
	Repeat int
	// RepeatWhy says how Repeat was chosen, for the header (e.g. "the
	// default on a GPU").
	RepeatWhy string
	// Ablations are the experiments of sections 9 and 10.
	Ablations []Ablation
	// Config turns flag values into run configurations (see ConfigFunc).
	Config runs.ConfigFunc
	// Parallel runs this many runs at once, worker i on Open(i).
	Parallel int
	Open     runs.OpenFunc
	// DeviceInfo describes the device for the header: the CUDA probe
	// (driver, libraries) or the CPU.
	DeviceInfo string
	// Command reproduces the report.
	Command string
	// Log gets the progress (may be nil).
	Log io.Writer
	// Progress, when set, shows the overall progress of the runs; it
	// writes to its own writer, normally the one Log is.
	Progress *progress.Tracker
}

// ReportPreset is the study's full report (quick false: 10 epochs on the
// whole training set, t-SNE of 5,000 test images, ablations at the seed's
// settings) or the quick one (main runs 3 epochs and ablations 2 on the
// first 10,000 training images, t-SNE of 1,000). The caller adds Config, Open and the rest.
func Preset(quick bool) Options {
	if quick {
		return Options{Quick: true, MainEpochs: 3, AblationEpochs: 2, Subset: 10000, TSNEPoints: 1000, Repeat: 1,
			Ablations: DefaultAblations(), Parallel: 1}
	}
	return Options{MainEpochs: 10, AblationEpochs: 10, TSNEPoints: 5000, Repeat: 1, Ablations: DefaultAblations(), Parallel: 1}
}

// ReportResult is what Report did.
type Result struct {
	Dir string
	// Seconds is the wall time of this invocation.
	Seconds float64
	// Trained runs were trained now, Skipped ones found finished.
	Trained, Skipped int
	// Diverged describes each diverged run.
	Diverged []string
	// Files are the files written, relative to Dir.
	Files []string
}

// tasks are the study's two tasks in report order.
func tasks() [2]string { return [2]string{model.TaskMLP, model.TaskCNN} }

// seedMain is the seed report's test accuracy, weighted recall and
// weighted F1 of a task's main run (its section 2).
func seedMain(task string) [3]float64 {
	if task == model.TaskCNN {
		return [3]float64{0.9504, 0.9504, 0.950939506568197}
	}
	return [3]float64{0.907, 0.907, 0.9069946140752756}
}

// Report runs the seed's whole study — both tasks with every figure, then
// the ablations — into out/runs, reusing finished runs, and writes
// out/index.html and out/README.md (the same content), the ablation charts
// in out/figures and every ablation row in out/ablations.csv.
func Run(out string, o Options) (*Result, error) {
	start := time.Now()
	if o.Config == nil || o.Open == nil {
		return nil, errors.New("report: Config and Open are required")
	}
	if o.MainEpochs < 1 || o.AblationEpochs < 1 {
		return nil, fmt.Errorf("report: epochs %d and %d: must be at least 1", o.MainEpochs, o.AblationEpochs)
	}
	o.Repeat = max(o.Repeat, 1)
	if err := runs.CheckOutDir(out); err != nil {
		return nil, err
	}
	r := &reportRun{o: o, out: out, start: start, main: map[string]*runs.Record{}, mainCfg: map[string]runs.Config{},
		baseKey: map[string]string{}, byKey: map[string]string{}, records: map[string]*runs.Record{},
		mainDirs: map[string][]string{}, mainRuns: map[string][]*runs.Record{}}
	if err := r.plan(); err != nil {
		return nil, err
	}
	cache := &runs.DataCache{}
	trained, skipped, err := runs.Execute(r.jobs, runs.ExecOptions{Parallel: o.Parallel, Open: o.Open, Log: o.Log, Cache: cache, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	r.trained, r.skipped = trained, skipped
	for _, j := range r.jobs {
		rec, err := runs.Read(j.Dir)
		if err != nil {
			return nil, err
		}
		r.records[j.Dir] = rec
	}
	for _, t := range tasks() {
		r.main[t] = r.records[r.byKey[runs.Key(r.mainCfg[t])]]
		for _, d := range r.mainDirs[t] {
			r.mainRuns[t] = append(r.mainRuns[t], r.records[d])
		}
	}
	if d, err := cache.Load(r.mainCfg[model.TaskMLP].Data, r.mainCfg[model.TaskMLP].Train.Seed); err == nil {
		r.sizes = [3]int{d.Train.Len(), d.Val.Len(), d.Test.Len()}
		r.dataDir = d.Dir
	}
	if err := r.collect(); err != nil {
		return nil, err
	}
	if err := r.write(); err != nil {
		return nil, err
	}
	res := &Result{Dir: out, Seconds: time.Since(start).Seconds(), Trained: trained, Skipped: skipped, Files: r.files}
	for _, j := range r.jobs {
		if why := r.records[j.Dir].Diverged(); why != "" {
			res.Diverged = append(res.Diverged, fmt.Sprintf("%s: %s", r.rel(j.Dir), why))
		}
	}
	return res, nil
}

// reportRun is one report being made.
type reportRun struct {
	o       Options
	out     string
	start   time.Time
	jobs    []runs.Job
	mainCfg map[string]runs.Config
	baseKey map[string]string // per task: the ablations' default run
	byKey   map[string]string // run key -> folder
	records map[string]*runs.Record
	main    map[string]*runs.Record
	// mainDirs and mainRuns are each task's main runs by seed; the first
	// is main, with the figures.
	mainDirs map[string][]string
	mainRuns map[string][]*runs.Record
	// correctOf caches per-image correctness by run folder (McNemar).
	correctOf map[string][]bool
	abl       []*ablResult
	sizes     [3]int
	dataDir   string
	files     []string

	trained, skipped int
}

// ablResult is one ablation's runs and chart.
type ablResult struct {
	Ablation
	Number string
	Cells  []*ablCell
	Chart  string
}

// ablCell is one value of an ablation.
type ablCell struct {
	Value, Label string
	Dirs         []string
	Runs         []*runs.Record
	Row          sweep.Row
	// Healthy are the runs that did not diverge; Acc is over them.
	Healthy []*runs.Record
	Acc     runs.Stat
	Why     []string
	Seed    float64
	Default bool
}

func (c *ablCell) ok() bool { return len(c.Healthy) > 0 }

func (r *reportRun) rel(path string) string {
	p, err := filepath.Rel(r.out, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(p)
}

// commonSet are the flags every run of the report gets.
func (r *reportRun) commonSet(epochs int, figures bool) map[string]string {
	s := map[string]string{"epochs": strconv.Itoa(epochs), "no-figures": strconv.FormatBool(!figures)}
	if r.o.Subset > 0 {
		s["subset"] = strconv.Itoa(r.o.Subset)
	}
	if r.o.TSNEPoints > 0 {
		s["tsne-points"] = strconv.Itoa(r.o.TSNEPoints)
	}
	return s
}

// register adds a run unless a run with the same key is planned already;
// it returns the folder that holds the run.
func (r *reportRun) register(name, dir string, cfg runs.Config) string {
	k := runs.Key(cfg)
	if d, ok := r.byKey[k]; ok {
		return d
	}
	if cfg.Command != "" {
		cfg.Command += " --out " + dir
	}
	r.byKey[k] = dir
	r.jobs = append(r.jobs, runs.Job{Name: name, Dir: dir, Cfg: cfg})
	return dir
}

// values are the ablation's flag values; epochs and lr derive them when
// Values is nil, from the ablation epochs and the default learning rate.
func (a Ablation) values(epochs int, lr float64) []string {
	if a.Values != nil {
		return a.Values
	}
	switch a.Flag {
	case "epochs":
		if epochs/2 >= 1 {
			return []string{strconv.Itoa(epochs / 2), strconv.Itoa(epochs)}
		}
		return []string{strconv.Itoa(epochs)}
	case "lr":
		v := []float64{0.01, 0.05, 0.1}
		if !slices.Contains(v, lr) && lr > 0 {
			v = append(v, lr)
		}
		slices.Sort(v)
		var out []string
		for _, x := range v {
			out = append(out, strconv.FormatFloat(x, 'g', -1, 64))
		}
		return out
	}
	return nil
}

// plan builds every run's configuration: the main runs first (they are
// the longest, with every figure), then the ablations' runs, each run once.
func (r *reportRun) plan() error {
	for _, t := range tasks() {
		cfg, err := r.o.Config(t, r.commonSet(r.o.MainEpochs, true))
		if err != nil {
			return fmt.Errorf("report: %s main run: %w", t, err)
		}
		r.mainCfg[t] = cfg
		r.mainDirs[t] = []string{r.register(t+" main", filepath.Join(r.out, "runs", t, "main"), cfg)}
		for rep := 2; rep <= r.o.Repeat; rep++ {
			set := r.commonSet(r.o.MainEpochs, false)
			set["seed"] = strconv.FormatUint(cfg.Train.Seed+uint64(rep-1), 10)
			c, err := r.o.Config(t, set)
			if err != nil {
				return fmt.Errorf("report: %s main run, seed %d: %w", t, rep, err)
			}
			name := fmt.Sprintf("main_r%d", rep)
			r.mainDirs[t] = append(r.mainDirs[t], r.register(t+" "+name, filepath.Join(r.out, "runs", t, name), c))
		}
		base, err := r.o.Config(t, r.commonSet(r.o.AblationEpochs, false))
		if err != nil {
			return fmt.Errorf("report: %s ablation baseline: %w", t, err)
		}
		r.baseKey[t] = runs.Key(base)
	}
	for _, a := range r.o.Ablations {
		if a.Task != model.TaskMLP && a.Task != model.TaskCNN {
			return fmt.Errorf("report: ablation %s: unknown task %q", a.Flag, a.Task)
		}
		ar := &ablResult{Ablation: a}
		vals := a.values(r.o.AblationEpochs, r.mainCfg[a.Task].Train.LR)
		if len(vals) == 0 {
			return fmt.Errorf("report: ablation %s %s: no values", a.Task, a.Flag)
		}
		if len(a.Labels) > 0 && len(a.Labels) != len(vals) {
			return fmt.Errorf("report: ablation %s %s: %d labels for %d values", a.Task, a.Flag, len(a.Labels), len(vals))
		}
		for i, v := range vals {
			c := &ablCell{Value: v, Label: v, Seed: math.NaN()}
			if len(a.Labels) > 0 {
				c.Label = a.Labels[i]
			}
			if s, ok := a.Seed[v]; ok && !r.o.Quick {
				c.Seed = s
			}
			var baseSeed uint64
			for rep := 1; rep <= r.o.Repeat; rep++ {
				set := r.commonSet(r.o.AblationEpochs, false)
				set[a.Flag] = v
				if rep > 1 {
					set["seed"] = strconv.FormatUint(baseSeed+uint64(rep-1), 10)
				}
				cfg, err := r.o.Config(a.Task, set)
				if err != nil {
					return fmt.Errorf("report: ablation %s %s=%s: %w", a.Task, a.Flag, v, err)
				}
				if rep == 1 {
					baseSeed = cfg.Train.Seed
					c.Default = runs.Key(cfg) == r.baseKey[a.Task]
				}
				name := fmt.Sprintf("%s=%s_r%d", a.Flag, runs.PathSafe(v), rep)
				if c.Default {
					name = fmt.Sprintf("default_r%d", rep)
				}
				dir := r.register(a.Task+" "+name, filepath.Join(r.out, "runs", a.Task, name), cfg)
				c.Dirs = append(c.Dirs, dir)
			}
			ar.Cells = append(ar.Cells, c)
		}
		r.abl = append(r.abl, ar)
	}
	return nil
}

// collect fills the ablations' cells from the finished runs and numbers
// their subsections.
func (r *reportRun) collect() error {
	n := map[string]int{}
	for _, a := range r.abl {
		n[a.Task]++
		sec := "9"
		if a.Task == model.TaskCNN {
			sec = "10"
		}
		a.Number = fmt.Sprintf("%s.%d", sec, n[a.Task])
		for _, c := range a.Cells {
			for _, d := range c.Dirs {
				rec := r.records[d]
				if rec == nil {
					return fmt.Errorf("report: run %s was not made", d)
				}
				c.Runs = append(c.Runs, rec)
				if why := rec.Diverged(); why != "" {
					c.Why = append(c.Why, why)
				} else {
					c.Healthy = append(c.Healthy, rec)
				}
			}
			c.Row.Fill(c.Runs)
			var acc []float64
			for _, h := range c.Healthy {
				acc = append(acc, h.Metrics.Accuracy)
			}
			c.Acc = runs.StatOf(acc)
		}
	}
	return nil
}

// write draws the charts and writes ablations.csv, index.html and README.md.
func (r *reportRun) write() error {
	if err := os.MkdirAll(filepath.Join(r.out, "figures"), 0o755); err != nil {
		return fmt.Errorf("report figures: %w", err)
	}
	for _, a := range r.abl {
		var names []string
		var means, cis []float64
		several := false
		for _, c := range a.Cells {
			name := c.Label
			if len(c.Why) > 0 {
				name += " (diverged)"
			}
			names = append(names, name)
			means = append(means, 1-c.Row.Accuracy.Mean)
			cis = append(cis, c.Row.Accuracy.CI95)
			several = several || len(c.Runs) > 1
		}
		if !several {
			cis = nil
		}
		a.Chart = filepath.ToSlash(filepath.Join("figures", fmt.Sprintf("%s-%s.png", a.Task, runs.PathSafe(a.Flag))))
		title := fmt.Sprintf("%s: test error (lower is better), %s", runs.TaskTitle(a.Task), strings.ToLower(a.Title))
		if err := plots.Bars(filepath.Join(r.out, a.Chart), title, "test error (1 − accuracy)", names, means, cis); err != nil {
			return err
		}
		r.files = append(r.files, a.Chart)
	}
	if err := r.writeAblationsCSV(); err != nil {
		return err
	}
	doc, err := r.document()
	if err != nil {
		return err
	}
	page, err := doc.html()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(r.out, "index.html"), page); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(r.out, "README.md"), []byte(doc.markdown())); err != nil {
		return err
	}
	r.files = append(r.files, "ablations.csv", "index.html", "README.md")
	return nil
}

func (r *reportRun) writeAblationsCSV() error {
	return atomicfile.Write(filepath.Join(r.out, "ablations.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(append([]string{"section", "task", "flag", "value"}, sweep.Columns...))
		for _, a := range r.abl {
			for _, c := range a.Cells {
				cw.Write(append([]string{a.Number, a.Task, a.Flag, c.Value}, c.Row.CSVRecord()...))
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// figure returns the figure of a main run, or an empty figure (left out)
// when the run did not draw it.
func (r *reportRun) figure(task, name, caption string) figure {
	rec := r.main[task]
	if rec == nil {
		return figure{}
	}
	p := filepath.Join(rec.Dir, "figures", name)
	if !runs.FileExists(p) {
		return figure{}
	}
	return figure{Src: r.rel(p), Caption: caption}
}

// ---- numbers and words ----

func f4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// points writes an accuracy difference in percentage points.
func points(d float64) string {
	s := strconv.FormatFloat(math.Abs(d)*100, 'f', 2, 64)
	if d < 0 {
		return "−" + s + " points"
	}
	return "+" + s + " points"
}

// Commas writes n with thousands separators: 10000 → "10,000".
func Commas(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + Commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func duration(sec float64) string {
	if sec < 60 {
		return fmt.Sprintf("%.1f s", sec)
	}
	m := int(sec) / 60
	return fmt.Sprintf("%d min %02d s", m, int(sec)-60*m)
}

// find returns the cell of task's flag=value, or nil.
func (r *reportRun) find(task, flag, value string) *ablCell {
	for _, a := range r.abl {
		if a.Task == task && a.Flag == flag {
			for _, c := range a.Cells {
				if c.Value == value {
					return c
				}
			}
		}
	}
	return nil
}

func (r *reportRun) ablation(task, flag string) *ablResult {
	for _, a := range r.abl {
		if a.Task == task && a.Flag == flag {
			return a
		}
	}
	return nil
}

// describe names a cell for sentences: its label, or "batch-size = 32".
func (a *ablResult) describe(c *ablCell) string {
	if c.Label != c.Value {
		return c.Label
	}
	return fmt.Sprintf("%s = %s", a.Flag, c.Value)
}

// unpaired says whether the ablation's arms are scored on different test
// sets (the train/test ratio re-splits the data), so paired tests do not
// apply.
func (a *ablResult) unpaired() bool { return a.Flag == "train-ratio" }

// accText writes a cell's accuracy: the value, or mean ± 95 % CI over n
// seeds.
func accText(c *ablCell) string {
	if c.Acc.N > 1 {
		return fmt.Sprintf("%s (n = %d)", c.Acc.FormatCI(4), c.Acc.N)
	}
	return f4(c.Acc.Mean)
}

// summary says what the ablation measured: the best value, how far the
// others are, each compared with the best by the test that fits the
// design (Holm-corrected over the comparisons), and which values diverged.
func (r *reportRun) summary(a *ablResult) (text string, best *ablCell, spread float64, clear bool) {
	var ok []*ablCell
	var div []string
	for _, c := range a.Cells {
		if c.ok() {
			ok = append(ok, c)
		}
		if len(c.Why) > 0 {
			div = append(div, fmt.Sprintf("%s diverged in %d of %d runs (%s)", a.describe(c), len(c.Why), len(c.Runs), c.Why[0]))
		}
	}
	var parts []string
	if len(ok) == 0 {
		parts = append(parts, "Every run of this experiment diverged; it measures nothing but the failure.")
	} else {
		sort.SliceStable(ok, func(i, j int) bool { return ok[i].Acc.Mean > ok[j].Acc.Mean })
		best = ok[0]
		s := fmt.Sprintf("Best: %s with test accuracy %s", a.describe(best), accText(best))
		var cs []*comparison
		for _, c := range ok[1:] {
			cmp := r.compare(c, best, a.unpaired())
			cs = append(cs, &cmp)
		}
		holm(cs)
		var others []string
		for i, c := range ok[1:] {
			cmp := cs[i]
			others = append(others, fmt.Sprintf("%s %s (%s; %s: %s)", a.describe(c), accText(c), points(c.Acc.Mean-best.Acc.Mean), cmp.word(), cmp.evidence()))
			clear = clear || cmp.clear()
			spread = math.Max(spread, best.Acc.Mean-c.Acc.Mean)
		}
		if len(others) > 0 {
			s += "; " + strings.Join(others, "; ")
		}
		parts = append(parts, s+".")
		if len(ok) > 1 && !clear {
			parts = append(parts, fmt.Sprintf("No difference from the best is significant at %g.", alpha))
		}
	}
	if len(div) > 0 {
		parts = append(parts, "Diverged, so not a result about the value: "+strings.Join(div, "; ")+".")
	}
	return strings.Join(parts, " "), best, spread, clear
}
