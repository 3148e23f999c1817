package runs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mnistgpu/dataset"
	"mnistgpu/eval"
	"mnistgpu/internal/progress"
	"mnistgpu/kernels"
	"mnistgpu/model"
)

// OpenFunc opens the compute device that worker slot (0 ≤ slot < the
// number of parallel workers) trains its runs on. The caller decides the
// placement: on the CPU each worker gets its share of the cores, with
// several GPUs each worker its own GPU. The runner closes the device.
type OpenFunc func(slot int) (kernels.Device, error)

// ConfigFunc builds the checked configuration of a run of task from train
// flag values: set maps a flag name without dashes ("batch-size") to its
// value as it would be written on the command line ("32"). It is how sweeps
// and the report speak about runs, so that they mean exactly what
// `mnistgpu train` means; errors name the flag at fault.
type ConfigFunc func(task string, set map[string]string) (Config, error)

// DivergedAccuracy is the test accuracy below which a run counts as
// diverged: on the ten MNIST classes chance is 0.1, and a run that trained
// at all is far above 0.3.
const DivergedAccuracy = 0.3

// RunRecord is a finished run read back from its folder.
type Record struct {
	Dir     string
	Config  Config
	Metrics Metrics
	History []model.EpochStats
}

// ReadRun reads the config.json, metrics.json and history.csv of a
// finished run folder.
func Read(dir string) (*Record, error) {
	r := &Record{Dir: dir}
	if err := ReadJSON(filepath.Join(dir, "config.json"), &r.Config); err != nil {
		return nil, err
	}
	// A run whose loss became NaN has "test_loss": null, which leaves the
	// preset NaN in place.
	r.Metrics.TestLoss = Num(math.NaN())
	if err := ReadJSON(filepath.Join(dir, "metrics.json"), &r.Metrics); err != nil {
		return nil, err
	}
	h, err := readHistory(filepath.Join(dir, "history.csv"))
	if err != nil {
		return nil, err
	}
	r.History = h
	return r, nil
}

// FinalTrainLoss is the training loss of the last epoch (NaN when there is
// no epoch).
func (r *Record) FinalTrainLoss() float64 {
	if len(r.History) == 0 {
		return math.NaN()
	}
	return r.History[len(r.History)-1].TrainLoss
}

// FinalValLoss is the validation loss of the last epoch (NaN when there is
// no epoch or no validation set).
func (r *Record) FinalValLoss() float64 {
	if len(r.History) == 0 {
		return math.NaN()
	}
	return r.History[len(r.History)-1].ValLoss
}

// Diverged says why the run counts as diverged, or "" when it trained: a
// loss that became NaN or infinite, or a test accuracy near chance.
func (r *Record) Diverged() string {
	if r.Metrics.Status == StatusDiverged && r.Metrics.Why != "" {
		return r.Metrics.Why
	}
	for _, h := range r.History {
		if !Finite(h.TrainLoss) {
			return fmt.Sprintf("training loss became %v in epoch %d", h.TrainLoss, h.Epoch)
		}
	}
	if !Finite(float64(r.Metrics.TestLoss)) {
		return fmt.Sprintf("test loss is %v", r.Metrics.TestLoss)
	}
	if r.Metrics.Accuracy < DivergedAccuracy {
		why := fmt.Sprintf("test accuracy %.4f, near chance (0.10)", r.Metrics.Accuracy)
		if n := len(r.History); n > 1 {
			first, last := r.History[0].TrainLoss, r.History[n-1].TrainLoss
			if last >= first {
				why += fmt.Sprintf("; the training loss rose from %.4f to %.4f", first, last)
			} else {
				why += fmt.Sprintf("; the training loss only fell from %.4f to %.4f", first, last)
			}
		}
		return why
	}
	return ""
}

func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// readHistory parses history.csv as writeHistory writes it.
func readHistory(path string) ([]model.EpochStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("read %s: empty file", path)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, want := range []string{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"} {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("read %s: no %s column", path, want)
		}
	}
	var out []model.EpochStats
	for line, rec := range recs[1:] {
		num := func(name string) float64 {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return math.NaN()
			}
			v, e := strconv.ParseFloat(rec[i], 64)
			if e != nil && err == nil {
				err = fmt.Errorf("read %s: line %d: %s %q: %w", path, line+2, name, rec[i], e)
			}
			return v
		}
		s := model.EpochStats{Epoch: int(num("epoch")), TrainLoss: num("train_loss"), TrainAcc: num("train_acc"),
			ValLoss: num("val_loss"), ValAcc: num("val_acc"), Seconds: num("seconds"), ImagesPerSec: num("images_per_sec")}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// runJob is one run to make: a name for the log, its folder and config.
type Job struct {
	Name string
	Dir  string
	Cfg  Config
}

// execOptions say how runJobs runs.
type ExecOptions struct {
	Parallel int
	Open     OpenFunc
	Log      io.Writer
	// Cache, when set, is shared with the caller.
	Cache *DataCache
	// Progress, when set, is told of every run to train and every epoch
	// and stage of it, and the log is written through it so that its
	// status line stays below the log on a terminal.
	Progress *progress.Tracker
}

// runJobs makes every job whose folder does not hold a finished run of the
// same configuration, Parallel at a time, each worker on the device Open
// gives its slot. After the first failure no new run starts; the running
// ones finish. It returns how many runs were trained and how many were
// already done.
func Execute(jobs []Job, o ExecOptions) (trained, skipped int, err error) {
	if o.Open == nil {
		return 0, 0, errors.New("runs: no device opener")
	}
	log := &syncWriter{w: o.Log}
	if log.w == nil {
		log.w = io.Discard
	}
	var todo []Job
	for _, j := range jobs {
		done, err := runDone(j.Dir, j.Cfg)
		if err != nil {
			return 0, 0, err
		}
		if done {
			skipped++
			continue
		}
		todo = append(todo, j)
	}
	if skipped > 0 {
		log.printf("%d of %d runs already finished (metrics.json present), not rerun\n", skipped, len(jobs))
	}
	if len(todo) == 0 {
		return 0, skipped, nil
	}
	if p := o.Progress; p != nil {
		for _, j := range todo {
			p.Add(j.Name, j.Cfg.Train.Epochs)
		}
		log.w = p
		defer p.Close()
	}
	k := min(max(o.Parallel, 1), len(todo))
	cache := o.Cache
	if cache == nil {
		cache = &DataCache{}
	}
	errs := make([]error, len(todo))
	var failed atomic.Bool
	var started atomic.Int64
	next := make(chan int)
	var wg sync.WaitGroup
	for slot := range k {
		wg.Go(func() {
			var dev kernels.Device
			defer func() {
				if dev != nil {
					dev.Close()
				}
			}()
			for i := range next {
				if failed.Load() {
					continue
				}
				if dev == nil {
					d, err := o.Open(slot)
					if err != nil {
						errs[i] = fmt.Errorf("run %s: open device for worker %d: %w", todo[i].Name, slot, err)
						failed.Store(true)
						continue
					}
					dev = d
				}
				n := started.Add(1)
				log.printf("[%d/%d] %s on %s\n", n, len(todo), todo[i].Name, dev.Name())
				if errs[i] = runOne(todo[i], dev, cache, log, o.Progress); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, e := range errs {
		switch {
		case e != nil:
			err = errors.Join(err, e)
		case FileExists(filepath.Join(todo[i].Dir, "metrics.json")): // not skipped after a failure
			trained++
		}
	}
	return trained, skipped, err
}

// runOne trains one job, resuming it when its folder holds part of it.
// Run writes its train.log.
func runOne(j Job, dev kernels.Device, cache *DataCache, log *syncWriter, p *progress.Tracker) error {
	var stage func(int, string)
	if p != nil {
		p.Start(j.Name)
		defer p.Done(j.Name)
		stage = func(epochs int, s string) { p.Update(j.Name, epochs, s) }
	}
	data, err := cache.Load(j.Cfg.Data, j.Cfg.Train.Seed)
	if err != nil {
		return fmt.Errorf("run %s: %w", j.Name, err)
	}
	lines := &linePrefixer{log: log, prefix: "  " + j.Name + ": "}
	start := time.Now()
	res, err := Run(j.Cfg, dev, data, j.Dir, Options{Log: Logger{Out: lines, Progress: stage}, Resume: true, Overwrite: true})
	lines.flush()
	if err != nil {
		return fmt.Errorf("run %s (%s): %w", j.Name, j.Dir, err)
	}
	rec := &Record{Dir: j.Dir, Config: j.Cfg, Metrics: res.Metrics, History: res.History}
	status := ""
	if why := rec.Diverged(); why != "" {
		status = "  DIVERGED: " + why
	}
	log.printf("  %s: test accuracy %.4f in %.1f s%s\n", j.Name, res.Metrics.Accuracy, time.Since(start).Seconds(), status)
	return nil
}

// runDone reports whether dir holds a finished run of cfg: metrics.json is
// there (and, when cfg asks for figures, every figure). A finished run of
// another configuration is an error, so a changed command never mixes old
// and new results.
func runDone(dir string, cfg Config) (bool, error) {
	if !FileExists(filepath.Join(dir, "metrics.json")) {
		return false, nil
	}
	var old Config
	if err := ReadJSON(filepath.Join(dir, "config.json"), &old); err != nil {
		return false, fmt.Errorf("%s has metrics.json but: %w", dir, err)
	}
	if diff := Diff(old, cfg); diff != "" {
		return false, fmt.Errorf("%s holds a finished run of another configuration (%s): remove it or choose another --out", dir, diff)
	}
	if cfg.Figures {
		for _, f := range runFigures(cfg) {
			if !FileExists(filepath.Join(dir, "figures", f)) {
				return false, nil
			}
		}
	}
	return true, nil
}

// runFigures are the figure files a run with figures writes.
func runFigures(cfg Config) []string {
	f := []string{FigLoss, FigAccuracy, FigConfusion, FigCorrect, FigWrong, FigROC, FigTSNEFinal, FigTSNEEpoch1}
	if cfg.Arch.Task == model.TaskCNN {
		f = append(f, FigFilters)
	}
	return f
}

func FileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// runKey identifies what a run computes: architecture, training and data
// split, not where the files are, which device ran, or which figures were
// drawn. Runs with equal keys are the same run.
func Key(cfg Config) string {
	d := cfg.Data
	d.Dir = ""
	b, _ := json.Marshal(struct {
		A model.Arch        `json:"arch"`
		T model.TrainConfig `json:"train"`
		D DataConfig        `json:"data"`
	}{cfg.Arch, cfg.Train, d})
	return string(b)
}

// Diff lists the settings in which two runs' keys differ, e.g.
// "train.epochs 3 vs 5"; "" when they are the same run.
func Diff(a, b Config) string {
	ka, kb := Key(a), Key(b)
	if ka == kb {
		return ""
	}
	fa, fb := map[string]string{}, map[string]string{}
	flattenJSON(ka, fa)
	flattenJSON(kb, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if fa[k] != fb[k] {
			diffs = append(diffs, fmt.Sprintf("%s %s there vs %s now", k, OrNone(fa[k]), OrNone(fb[k])))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, ", ")
}

func OrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func flattenJSON(s string, into map[string]string) {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		b, _ := json.Marshal(v)
		into[prefix] = string(b)
	}
	walk("", v)
}

// dataCache reads each data folder's IDX files once and makes every run's
// split from them, as LoadData would.
type DataCache struct {
	mu  sync.Mutex
	raw map[string]*rawData
}

type rawData struct {
	once        sync.Once
	dir         string
	train, test *dataset.Set
	err         error
}

func (c *DataCache) Load(dc DataConfig, seed uint64) (*Data, error) {
	c.mu.Lock()
	if c.raw == nil {
		c.raw = map[string]*rawData{}
	}
	r, ok := c.raw[dc.Dir]
	if !ok {
		r = &rawData{}
		c.raw[dc.Dir] = r
	}
	c.mu.Unlock()
	r.once.Do(func() {
		if r.dir, _, r.err = dataset.Locate(dc.Dir); r.err == nil {
			r.train, r.test, r.err = dataset.Load(r.dir)
		}
	})
	if r.err != nil {
		return nil, r.err
	}
	return splitData(r.dir, r.train, r.test, dc, seed)
}

// syncWriter serialises writes from parallel runs.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, a...)
}

func (s *syncWriter) writeLine(prefix string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.w, prefix)
	s.w.Write(line)
}

// linePrefixer passes whole lines to a syncWriter with a prefix, so the
// lines of parallel runs interleave but never mix.
type linePrefixer struct {
	log    *syncWriter
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log.writeLine(l.prefix, l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *linePrefixer) flush() {
	if len(l.buf) > 0 {
		l.log.writeLine(l.prefix, append(l.buf, '\n'))
		l.buf = nil
	}
}

// Stat is a mean and a sample standard deviation (0 for one value).
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
	// CI95 is the half-width of the mean's 95 % confidence interval
	// (Student t; NaN for fewer than two values).
	CI95 float64 `json:"ci95"`
}

// statOf computes the mean and the sample standard deviation of v.
func StatOf(v []float64) Stat {
	s := Stat{N: len(v)}
	if len(v) == 0 {
		s.Mean, s.Std, s.CI95 = math.NaN(), math.NaN(), math.NaN()
		return s
	}
	var variance float64
	s.Mean, variance = eval.MeanVar(v)
	if len(v) > 1 {
		s.Std = math.Sqrt(variance)
	}
	s.CI95 = ci95(s)
	return s
}

// PathSafe keeps letters, digits and . , + - of a value and replaces
// anything else with '-', so a value can be part of a folder name.
func PathSafe(v string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == ',', r == '+', r == '-':
			return r
		}
		return '-'
	}, v)
}
