// Package sweep runs a grid of training runs (any train flag, with
// repeats), in shards for array jobs, and aggregates them into
// results.csv, results.md and a chart per swept flag; Merge combines the
// shards' folders.
package sweep

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mnistgpu/study/internal/mdtable"
	"mnistgpu/study/runs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"mnistgpu/internal/atomicfile"
	"mnistgpu/internal/progress"
	"mnistgpu/plots"
)

// Param is one swept train flag and the values it takes.
type Param struct {
	// Name is the flag's name without dashes, e.g. "batch-size".
	Name string `json:"name"`
	// Values are the flag values as written on the command line.
	Values []string `json:"values"`
}

// ParseParam parses a --set argument: "name=v1,v2,...", or, when a value
// itself is a list (--hidden 128,64), values separated by semicolons:
// "hidden=128,64;128,64,32".
func ParseParam(s string) (Param, error) {
	arg := printable(s) // errors stay one line whatever s holds
	name, vals, ok := strings.Cut(s, "=")
	name = strings.TrimLeft(strings.TrimSpace(name), "-")
	if !ok || name == "" {
		return Param{}, fmt.Errorf("--set %s: want NAME=VALUE,VALUE,... (e.g. --set batch-size=32,64)", arg)
	}
	if err := checkName(name); err != nil {
		return Param{}, fmt.Errorf("--set %s: %w", arg, err)
	}
	sep := ","
	if strings.Contains(vals, ";") {
		sep = ";"
	}
	p := Param{Name: name}
	for _, v := range strings.Split(vals, sep) {
		v = strings.TrimSpace(v)
		if v == "" {
			return Param{}, fmt.Errorf("--set %s: empty value (separate values with commas, or with semicolons when a value is a list: hidden=128,64;128,64,32)", arg)
		}
		if slices.Contains(p.Values, v) {
			return Param{}, fmt.Errorf("--set %s: value %q given twice", arg, v)
		}
		if printable(v) != v {
			return Param{}, fmt.Errorf("--set %s: value %q holds a control character", arg, v)
		}
		p.Values = append(p.Values, v)
	}
	return p, nil
}

// printable returns s, or s quoted when it holds a character that is not
// printable (a newline would split a one-line error).
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// MaxRuns bounds the runs of one sweep (its grid times its repeats), so a
// mistyped command or a damaged sweep.json fails at once instead of
// planning without end.
const MaxRuns = 100000

// checkName accepts a flag name: letters, digits and '-' (it becomes part
// of the run folders' names).
func checkName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("flag name %q: want letters, digits and '-'", name)
		}
	}
	return nil
}

// SweepRun is one run of a sweep's grid.
type Point struct {
	// ID names the run's folder: the parameters sorted by name with their
	// values, and the repeat, e.g. "batch-size=32_batchnorm=false_r1".
	ID string `json:"id"`
	// Values are the parameter values, in the order of the sweep's Params.
	Values []string `json:"values"`
	// Repeat counts from 1; repeat r trains with seed+r-1.
	Repeat int `json:"repeat"`
}

// PlanSweep lists every run of the grid of params, repeat times each,
// sorted by ID (the order shards are dealt from).
func Plan(params []Param, repeat int) ([]Point, error) {
	if repeat < 1 {
		return nil, fmt.Errorf("--repeat %d: must be at least 1", repeat)
	}
	seen := map[string]bool{}
	total := repeat
	for _, p := range params {
		if err := checkName(p.Name); err != nil || p.Name == "" {
			return nil, fmt.Errorf("--set %q: want a flag name of letters, digits and '-'", p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("--set %s given twice: list all its values in one --set", p.Name)
		}
		seen[p.Name] = true
		if len(p.Values) == 0 {
			return nil, fmt.Errorf("--set %s: no values", p.Name)
		}
		for _, v := range p.Values {
			if printable(v) != v {
				return nil, fmt.Errorf("--set %s: value %q holds a control character", p.Name, v)
			}
		}
		if total > MaxRuns/len(p.Values) {
			total = MaxRuns + 1
		} else {
			total *= len(p.Values)
		}
	}
	if total > MaxRuns {
		return nil, fmt.Errorf("sweep: the grid times --repeat %d makes more than %d runs", repeat, MaxRuns)
	}
	order := make([]int, len(params)) // params by name, for the IDs
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return params[order[a]].Name < params[order[b]].Name })
	var points []Point
	ids := map[string]bool{}
	for _, vals := range grid(params) {
		for r := 1; r <= repeat; r++ {
			var parts []string
			for _, i := range order {
				parts = append(parts, params[i].Name+"="+runs.PathSafe(vals[i]))
			}
			if len(parts) == 0 {
				parts = []string{"default"}
			}
			id := strings.Join(parts, "_") + "_r" + strconv.Itoa(r)
			if ids[id] {
				return nil, fmt.Errorf("sweep: two grid points share the folder name %s: use values that differ in letters, digits, '.', ',', '+' or '-'", id)
			}
			ids[id] = true
			points = append(points, Point{ID: id, Values: vals, Repeat: r})
		}
	}
	sort.Slice(points, func(a, b int) bool { return points[a].ID < points[b].ID })
	return points, nil
}

// grid is the cartesian product of the params' values, the first param
// varying slowest.
func grid(params []Param) [][]string {
	out := [][]string{{}}
	for _, p := range params {
		var next [][]string
		for _, prefix := range out {
			for _, v := range p.Values {
				next = append(next, append(slices.Clone(prefix), v))
			}
		}
		out = next
	}
	return out
}

// SweepOptions configure Sweep.
type Options struct {
	// Task is mlp or cnn.
	Task string
	// Params are the swept flags; every other flag is fixed by Config.
	Params []Param
	// Repeat runs each grid point with seeds seed, seed+1, ...
	Repeat int
	// Config turns flag values into a run configuration (see ConfigFunc).
	Config runs.ConfigFunc
	// Shard and Shards, when Shards > 0, run only the runs i with
	// i mod Shards == Shard-1 of the ID-sorted run list.
	Shard, Shards int
	// Parallel runs this many runs at once, worker i on Open(i).
	Parallel int
	Open     runs.OpenFunc
	// Command is the command line, recorded in sweep.json and results.md.
	Command string
	// Log gets the progress (may be nil).
	Log io.Writer
	// Progress, when set, shows the overall progress of the runs; it
	// writes to its own writer, normally the one Log is.
	Progress *progress.Tracker
}

// SweepRow is one configuration of a sweep, aggregated over its repeats.
type Row struct {
	// Values are the parameter values, in the order of Params.
	Values []string
	// Runs are the IDs of the runs aggregated, by repeat.
	Runs []string
	// Diverged counts the runs that diverged (see RunRecord.Diverged).
	Diverged       int
	Accuracy       runs.Stat
	WeightedRecall runs.Stat
	WeightedF1     runs.Stat
	TrainLoss      runs.Stat
	ValLoss        runs.Stat
	TrainSeconds   runs.Stat
	// accs are the runs' accuracies, for the charts' marginals.
	accs []float64
}

// SweepResult is what a sweep (or a merge) found.
type Result struct {
	Dir    string
	Params []Param
	Rows   []Row
	// Files are the result files written, relative to Dir.
	Files []string
	// Trained and Skipped count this invocation's runs.
	Trained, Skipped int
}

// sweepManifest is sweep.json: the plan, so shards can be merged and a
// rerun can check it is the same sweep.
type sweepManifest struct {
	Task    string  `json:"task"`
	Params  []Param `json:"params"`
	Repeat  int     `json:"repeat"`
	Runs    []Point `json:"runs"`
	Command string  `json:"command"`
}

// sameSweep says how two manifests differ ("" when they plan the same runs).
func (m sweepManifest) sameSweep(o sweepManifest) string {
	switch {
	case m.Task != o.Task:
		return fmt.Sprintf("task %s vs %s", m.Task, o.Task)
	case m.Repeat != o.Repeat:
		return fmt.Sprintf("--repeat %d vs %d", m.Repeat, o.Repeat)
	case !slices.EqualFunc(m.Params, o.Params, func(a, b Param) bool { return a.Name == b.Name && slices.Equal(a.Values, b.Values) }):
		return fmt.Sprintf("--set %s vs %s", paramsString(m.Params), paramsString(o.Params))
	}
	return ""
}

func paramsString(ps []Param) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+"="+strings.Join(p.Values, ","))
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

// Sweep trains every run of the grid (or of one shard of it) into
// out/runs/<id>, skipping runs already finished there, and writes
// results.csv, results.md and one accuracy chart per parameter in
// out/figures/ — or, for a shard, results-shard-i-of-n.csv.
func Run(out string, o Options) (*Result, error) {
	if o.Config == nil {
		return nil, errors.New("sweep: no config function")
	}
	if o.Shards < 0 || o.Shards > 0 && (o.Shard < 1 || o.Shard > o.Shards) {
		return nil, fmt.Errorf("--shard %d/%d: want i/n with 1 ≤ i ≤ n", o.Shard, o.Shards)
	}
	points, err := Plan(o.Params, o.Repeat)
	if err != nil {
		return nil, err
	}
	// Build (and so check) every grid point's configuration before any
	// training, shards included: a bad value fails at once, naming it.
	jobs := make([]runs.Job, len(points))
	for i, r := range points {
		cfg, err := sweepConfig(o, r)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(out, "runs", r.ID)
		if cfg.Command != "" {
			cfg.Command += " --out " + dir
		}
		jobs[i] = runs.Job{Name: r.ID, Dir: dir, Cfg: cfg}
	}
	if err := runs.CheckOutDir(out); err != nil {
		return nil, err
	}
	man := sweepManifest{Task: o.Task, Params: o.Params, Repeat: o.Repeat, Runs: points, Command: o.Command}
	if err := writeManifest(out, man); err != nil {
		return nil, err
	}
	var mine []runs.Job
	var ids []string
	for i, j := range jobs {
		if o.Shards == 0 || i%o.Shards == o.Shard-1 {
			mine = append(mine, j)
			ids = append(ids, points[i].ID)
		}
	}
	if o.Log != nil && o.Shards > 0 {
		fmt.Fprintf(o.Log, "shard %d/%d: %d of the %d runs\n", o.Shard, o.Shards, len(mine), len(points))
	}
	trained, skipped, err := runs.Execute(mine, runs.ExecOptions{Parallel: o.Parallel, Open: o.Open, Log: o.Log, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	res, err := sweepResults(out, man, ids)
	if err != nil {
		return nil, err
	}
	res.Trained, res.Skipped = trained, skipped
	name := "results.csv"
	if o.Shards > 0 {
		name = fmt.Sprintf("results-shard-%d-of-%d.csv", o.Shard, o.Shards)
	}
	if err := res.write(name, man, o.Shards == 0); err != nil {
		return nil, err
	}
	return res, nil
}

// sweepConfig builds run r's configuration: the grid point's flags, and for
// repeats after the first the seed advanced by r-1.
func sweepConfig(o Options, r Point) (runs.Config, error) {
	set := map[string]string{}
	for i, p := range o.Params {
		set[p.Name] = r.Values[i]
	}
	cfg, err := o.Config(o.Task, set)
	if err == nil && r.Repeat > 1 {
		set["seed"] = strconv.FormatUint(cfg.Train.Seed+uint64(r.Repeat-1), 10)
		cfg, err = o.Config(o.Task, set)
	}
	if err != nil {
		return cfg, fmt.Errorf("sweep run %s: %w", r.ID, err)
	}
	return cfg, nil
}

// readManifest reads a sweep.json and checks that its runs are exactly the
// plan of its params and repeats (so every run folder it names is one the
// sweep would make, inside the sweep's runs folder).
func readManifest(path string) (sweepManifest, error) {
	var m sweepManifest
	if err := runs.ReadJSON(path, &m); err != nil {
		return m, err
	}
	plan, err := Plan(m.Params, m.Repeat)
	if err != nil {
		return m, fmt.Errorf("read %s: %w", path, err)
	}
	if !slices.EqualFunc(plan, m.Runs, func(a, b Point) bool {
		return a.ID == b.ID && a.Repeat == b.Repeat && slices.Equal(a.Values, b.Values)
	}) {
		return m, fmt.Errorf("read %s: its runs are not the plan of its params and repeats (edited or damaged?)", path)
	}
	return m, nil
}

func writeManifest(out string, man sweepManifest) error {
	path := filepath.Join(out, "sweep.json")
	if runs.FileExists(path) {
		old, err := readManifest(path)
		if err != nil {
			return err
		}
		if d := old.sameSweep(man); d != "" {
			return fmt.Errorf("%s holds another sweep (%s): choose another --out", out, d)
		}
	}
	return runs.WriteJSON(path, man)
}

// sweepResults reads the runs ids (all of man's when nil) from
// dir/runs and aggregates them by configuration, in grid order.
func sweepResults(dir string, man sweepManifest, ids []string) (*Result, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	res := &Result{Dir: dir, Params: man.Params}
	recs := map[string]*runs.Record{}
	var missing []string
	for _, r := range man.Runs {
		if ids != nil && !want[r.ID] {
			continue
		}
		rec, err := runs.Read(filepath.Join(dir, "runs", r.ID))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, r.ID)
				continue
			}
			return nil, err
		}
		recs[r.ID] = rec
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d runs not finished in %s: %s", len(missing), dir, shortList(missing, 5))
	}
	// Rows in grid order, runs within a row by repeat.
	for _, vals := range grid(man.Params) {
		var rs []*runs.Record
		row := &Row{Values: vals}
		for rep := 1; rep <= man.Repeat; rep++ {
			for _, r := range man.Runs {
				if r.Repeat == rep && slices.Equal(r.Values, vals) && recs[r.ID] != nil {
					rs = append(rs, recs[r.ID])
					row.Runs = append(row.Runs, r.ID)
				}
			}
		}
		if len(rs) == 0 {
			continue
		}
		row.Fill(rs)
		res.Rows = append(res.Rows, *row)
	}
	return res, nil
}

func shortList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
}

// Fill aggregates the runs of one configuration.
func (row *Row) Fill(rs []*runs.Record) {
	var acc, rec, f1, tl, vl, sec []float64
	for _, r := range rs {
		if r.Diverged() != "" {
			row.Diverged++
		}
		acc = append(acc, r.Metrics.Accuracy)
		rec = append(rec, r.Metrics.WeightedRecall)
		f1 = append(f1, r.Metrics.WeightedF1)
		tl = append(tl, r.FinalTrainLoss())
		vl = append(vl, r.FinalValLoss())
		sec = append(sec, r.Metrics.TrainSeconds)
	}
	row.accs = acc
	row.Accuracy, row.WeightedRecall, row.WeightedF1 = runs.StatOf(acc), runs.StatOf(rec), runs.StatOf(f1)
	row.TrainLoss, row.ValLoss, row.TrainSeconds = runs.StatOf(tl), runs.StatOf(vl), runs.StatOf(sec)
}

// Columns are the columns of results.csv after the parameters. The
// confidence intervals (half-widths, empty for one run) come last so that
// readers of the older columns keep working.
var Columns = []string{"runs", "diverged",
	"accuracy_mean", "accuracy_std", "weighted_recall_mean", "weighted_recall_std",
	"weighted_f1_mean", "weighted_f1_std", "train_loss_mean", "train_loss_std",
	"val_loss_mean", "val_loss_std", "train_seconds_mean", "train_seconds_std",
	"accuracy_ci95", "weighted_recall_ci95", "weighted_f1_ci95"}

func (row Row) CSVRecord() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	rec := append([]string(nil), row.Values...)
	rec = append(rec, strconv.Itoa(len(row.Runs)), strconv.Itoa(row.Diverged))
	for _, s := range []runs.Stat{row.Accuracy, row.WeightedRecall, row.WeightedF1, row.TrainLoss, row.ValLoss, row.TrainSeconds} {
		rec = append(rec, f(s.Mean), f(s.Std))
	}
	for _, s := range []runs.Stat{row.Accuracy, row.WeightedRecall, row.WeightedF1} {
		ci := ""
		if s.N > 1 {
			ci = f(s.CI95)
		}
		rec = append(rec, ci)
	}
	return rec
}

// write writes the results table name (CSV) into res.Dir and, for a whole
// sweep, results.md and the charts.
func (res *Result) write(name string, man sweepManifest, whole bool) error {
	out := res.Dir
	var head []string
	for _, p := range res.Params {
		head = append(head, p.Name)
	}
	head = append(head, Columns...)
	err := atomicfile.Write(filepath.Join(out, name), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(head)
		for _, r := range res.Rows {
			cw.Write(r.CSVRecord())
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	res.Files = append(res.Files, name)
	if !whole {
		return nil
	}
	charts, err := res.charts()
	if err != nil {
		return err
	}
	res.Files = append(res.Files, charts...)
	if err := atomicfile.WriteBytes(filepath.Join(out, "results.md"), []byte(res.markdown(man, charts))); err != nil {
		return err
	}
	res.Files = append(res.Files, "results.md")
	return nil
}

// charts draws, per parameter, the test accuracy of each of its values
// (mean ± std over every run with that value, whatever the others).
func (res *Result) charts() ([]string, error) {
	out := res.Dir
	if err := os.MkdirAll(filepath.Join(out, "figures"), 0o755); err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	var files []string
	for pi, p := range res.Params {
		var means, stds []float64
		var names []string
		several := false
		for _, v := range p.Values {
			var acc []float64
			div := 0
			for _, r := range res.Rows {
				if r.Values[pi] != v {
					continue
				}
				acc = append(acc, r.accs...)
				div += r.Diverged
			}
			if len(acc) == 0 {
				continue
			}
			s := runs.StatOf(acc)
			name := v
			if div > 0 {
				name += fmt.Sprintf(" (%d diverged)", div)
			}
			names, means, stds = append(names, name), append(means, s.Mean), append(stds, s.Std)
			several = several || s.N > 1
		}
		if len(names) == 0 {
			continue
		}
		if !several {
			stds = nil
		}
		file := filepath.ToSlash(filepath.Join("figures", "accuracy-by-"+runs.PathSafe(p.Name)+".png"))
		title := "Test accuracy by " + p.Name
		if several {
			title += " (mean ± std over runs)"
		}
		if err := plots.Bars(filepath.Join(out, file), title, "test accuracy", names, means, stds); err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

// markdown is results.md.
func (res *Result) markdown(man sweepManifest, charts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sweep: %s, %s\n\n", runs.TaskTitle(man.Task), paramsString(man.Params))
	if man.Command != "" {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", man.Command)
	}
	fmt.Fprintf(&b, "Test-set metrics per configuration over n runs (%d repeat(s), seeds seed, seed+1, ...): the mean ± the half-width of its 95 %% confidence interval "+
		"(Student t with n−1 degrees of freedom; the mean alone for one run). ", man.Repeat)
	fmt.Fprintf(&b, "Losses are the last epoch's; seconds are training time summed over epochs. "+
		"A run is *diverged* when its loss became NaN or its test accuracy is below %.1f (chance is 0.1).\n\n", runs.DivergedAccuracy)
	t := &mdtable.Table{}
	for _, p := range res.Params {
		t.Head = append(t.Head, p.Name)
	}
	t.Head = append(t.Head, "n", "accuracy", "weighted recall", "weighted F1", "train loss", "val loss", "train s", "status")
	for _, r := range res.Rows {
		row := append([]string(nil), r.Values...)
		status := "ok"
		if r.Diverged > 0 {
			status = fmt.Sprintf("**%d of %d diverged**", r.Diverged, len(r.Runs))
		}
		row = append(row, strconv.Itoa(len(r.Runs)), r.Accuracy.FormatCI(4), r.WeightedRecall.FormatCI(4), r.WeightedF1.FormatCI(4),
			r.TrainLoss.FormatCI(4), r.ValLoss.FormatCI(4), r.TrainSeconds.FormatCI(1), status)
		t.Rows = append(t.Rows, row)
	}
	b.WriteString(t.Markdown())
	for _, c := range charts {
		fmt.Fprintf(&b, "\n![%s](%s)\n", strings.TrimSuffix(filepath.Base(c), ".png"), c)
	}
	b.WriteString("\nRun folders: `runs/<id>/` (config.json, history.csv, metrics.json, predictions.csv, model.safetensors, train.log).\n")
	return b.String()
}

// MergeSweeps combines the run folders of shards of one sweep (dirs, each
// with its sweep.json) into out (default dirs[0]): runs found elsewhere are
// copied into out/runs, and results.csv, results.md and the charts are
// written there from all of them.
func Merge(dirs []string, out string, log io.Writer) (*Result, error) {
	if len(dirs) == 0 {
		return nil, errors.New("sweep merge: name the shard folders")
	}
	if out == "" {
		out = dirs[0]
	}
	var man sweepManifest
	for i, d := range dirs {
		m, err := readManifest(filepath.Join(d, "sweep.json"))
		if err != nil {
			return nil, fmt.Errorf("sweep merge: %w (is %s a sweep folder?)", err, d)
		}
		if i == 0 {
			man = m
			continue
		}
		if diff := man.sameSweep(m); diff != "" {
			return nil, fmt.Errorf("sweep merge: %s and %s are different sweeps (%s)", dirs[0], d, diff)
		}
	}
	if err := runs.CheckOutDir(out); err != nil {
		return nil, err
	}
	if err := writeManifest(out, man); err != nil {
		return nil, err
	}
	var missing []string
	copied := 0
	for _, r := range man.Runs {
		dst := filepath.Join(out, "runs", r.ID)
		if runs.FileExists(filepath.Join(dst, "metrics.json")) {
			continue
		}
		found := false
		for _, d := range dirs {
			src := filepath.Join(d, "runs", r.ID)
			if sameDir(src, dst) || !runs.FileExists(filepath.Join(src, "metrics.json")) {
				continue
			}
			if err := copyTree(src, dst); err != nil {
				return nil, fmt.Errorf("sweep merge: %w", err)
			}
			copied++
			found = true
			break
		}
		if !found {
			missing = append(missing, r.ID)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sweep merge: %d of %d runs are in none of %s: %s (is a shard unfinished?)",
			len(missing), len(man.Runs), strings.Join(dirs, ", "), shortList(missing, 5))
	}
	if log != nil {
		fmt.Fprintf(log, "merged %d runs (%d copied) into %s\n", len(man.Runs), copied, out)
	}
	res, err := sweepResults(out, man, nil)
	if err != nil {
		return nil, err
	}
	if err := res.write("results.csv", man, true); err != nil {
		return nil, err
	}
	return res, nil
}

func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// copyTree copies the regular files under src to dst, each through a
// temporary file.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || strings.Contains(d.Name(), ".tmp") {
			return nil
		}
		return atomicfile.Write(target, func(w io.Writer) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		})
	})
}
