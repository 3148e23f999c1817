// Package bench measures training throughput per task and batch size and
// writes bench.json, the schema scripts/torch_reference.py writes too, so
// the two can be tabled side by side.
package bench

import (
	"fmt"
	"io"
	"mnistgpu/study/runs"
	"sort"
	"text/tabwriter"

	"mnistgpu/kernels"
	"mnistgpu/model"
)

// BenchRow is one measurement of training throughput. The same schema is
// written by scripts/torch_reference.py, so the two can be compared.
type Row struct {
	Task      string `json:"task"`
	BatchSize int    `json:"batch_size"`
	// SecondsPerEpoch is the median over the timed epochs.
	SecondsPerEpoch float64 `json:"seconds_per_epoch"`
	ImagesPerSec    float64 `json:"images_per_sec"`
	Epochs          int     `json:"epochs"`
	TestAccuracy    float64 `json:"test_accuracy"`
	// GPUPath is how a GPU ran the full-batch steps (model.PathGraph or
	// model.PathFused); empty on the CPU.
	GPUPath string `json:"gpu_path,omitempty"`
	// KernelsPerStep is the kernels (library calls included) of one
	// full-batch step and HostCallsPerStep the launches the host made per
	// step, averaged over the run (GPU only).
	KernelsPerStep   int     `json:"kernels_per_step,omitempty"`
	HostCallsPerStep float64 `json:"host_calls_per_step,omitempty"`
}

// BenchResult is bench.json.
type Result struct {
	Framework string `json:"framework"`
	Device    string `json:"device"`
	// KernelPath is the CPU device's kernel path (see runs.KernelPath).
	KernelPath string `json:"kernel_path,omitempty"`
	Rows       []Row  `json:"rows"`
}

// BenchOptions selects what Bench measures.
type Options struct {
	Tasks      []string
	BatchSizes []int
	// Epochs are timed after one untimed warm-up epoch.
	Epochs int
	Seed   uint64
	// Log gets a line per measurement (may be nil).
	Log io.Writer
}

// Bench trains each task at each batch size with the default architecture
// and SGD (lr 0.05, momentum 0.9, as scripts/torch_reference.py) on data.Train and reports the median seconds per epoch of
// the timed epochs and the test accuracy after them.
func Run(dev kernels.Device, data *runs.Data, o Options) (*Result, error) {
	res := &Result{Framework: "mnistgpu", Device: dev.Name(), KernelPath: runs.KernelPath(dev)}
	train, err := model.Upload(dev, data.Train)
	if err != nil {
		return nil, err
	}
	defer train.Free(dev)
	test, err := model.Upload(dev, data.Test)
	if err != nil {
		return nil, err
	}
	defer test.Free(dev)
	for _, task := range o.Tasks {
		for _, bs := range o.BatchSizes {
			row, err := benchOne(dev, train, test, task, bs, o)
			if err != nil {
				return nil, fmt.Errorf("bench %s batch %d: %w", task, bs, err)
			}
			if o.Log != nil {
				fmt.Fprintf(o.Log, "%s batch %d: %.1f ms/epoch, %.0f images/s, test accuracy %.4f%s\n",
					task, bs, 1000*row.SecondsPerEpoch, row.ImagesPerSec, row.TestAccuracy, row.pathNote())
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

func benchOne(dev kernels.Device, train, test *model.Resident, task string, bs int, o Options) (Row, error) {
	row := Row{Task: task, BatchSize: bs, Epochs: o.Epochs}
	arch, err := model.DefaultArch(task)
	if err != nil {
		return row, err
	}
	net, err := model.Build(dev, arch, bs, o.Seed)
	if err != nil {
		return row, err
	}
	defer net.Close()
	cfg := model.DefaultTrainConfig()
	// The PyTorch reference's optimizer, so the two compare like for like.
	cfg.BatchSize, cfg.Seed, cfg.LR = bs, o.Seed, 0.05
	tr, err := model.NewTrainer(net, cfg)
	if err != nil {
		return row, err
	}
	defer tr.Close()
	var secs []float64
	for e := 0; e <= o.Epochs; e++ { // epoch 0 is the warm-up
		st, err := tr.Epoch(train, e+1, nil)
		if err != nil {
			return row, err
		}
		if e > 0 {
			secs = append(secs, st.Seconds)
		}
	}
	if _, ok := dev.(kernels.LaunchCounter); ok {
		var why string
		row.GPUPath, why = tr.Path()
		if why != "" && o.Log != nil {
			fmt.Fprintf(o.Log, "%s batch %d: no CUDA graph (%s)\n", task, bs, why)
		}
		row.KernelsPerStep, row.HostCallsPerStep = tr.KernelsPerStep(), tr.HostCallsPerStep()
	}
	row.SecondsPerEpoch = median(secs)
	row.ImagesPerSec = float64(train.N) / row.SecondsPerEpoch
	if _, row.TestAccuracy, err = tr.Evaluate(test); err != nil {
		return row, err
	}
	return row, nil
}

// pathNote is ", path P, K kernels/step, H host calls/step" for a GPU row.
func (r Row) pathNote() string {
	if r.GPUPath == "" {
		return ""
	}
	return fmt.Sprintf(", path %s, %d kernels/step, %.2f host calls/step", r.GPUPath, r.KernelsPerStep, r.HostCallsPerStep)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteTable prints res, and when ref is not nil its rows side by side with
// the ratio ref/ours of seconds per epoch (above 1: mnistgpu is faster).
func WriteTable(w io.Writer, res, ref *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	if ref == nil {
		fmt.Fprintf(tw, "task\tbatch\tms/epoch\timages/s\ttest acc\tgpu path\tkernels/step\thost calls/step\t\n")
		for _, r := range res.Rows {
			path, k, h := "-", "-", "-"
			if r.GPUPath != "" {
				path, k, h = r.GPUPath, fmt.Sprint(r.KernelsPerStep), fmt.Sprintf("%.2f", r.HostCallsPerStep)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%.4f\t%s\t%s\t%s\t\n", r.Task, r.BatchSize, 1000*r.SecondsPerEpoch, r.ImagesPerSec, r.TestAccuracy, path, k, h)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "device: %s\n", res.deviceLabel())
		return err
	}
	fmt.Fprintf(tw, "task\tbatch\t%s s/epoch\t%s s/epoch\tspeed-up\t%s acc\t%s acc\t\n", res.Framework, ref.Framework, res.Framework, ref.Framework)
	for _, r := range res.Rows {
		var p *Row
		for i := range ref.Rows {
			if ref.Rows[i].Task == r.Task && ref.Rows[i].BatchSize == r.BatchSize {
				p = &ref.Rows[i]
			}
		}
		if p == nil {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t-\t-\t%.4f\t-\t\n", r.Task, r.BatchSize, r.SecondsPerEpoch, r.TestAccuracy)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.2fx\t%.4f\t%.4f\t\n", r.Task, r.BatchSize, r.SecondsPerEpoch, p.SecondsPerEpoch,
			p.SecondsPerEpoch/r.SecondsPerEpoch, r.TestAccuracy, p.TestAccuracy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "devices: %s | %s\nspeed-up = %s seconds per epoch / %s seconds per epoch\n", res.deviceLabel(), ref.deviceLabel(), ref.Framework, res.Framework)
	return err
}

// deviceLabel is the device's name with its kernel path when it has one.
func (r *Result) deviceLabel() string {
	if r.KernelPath == "" {
		return r.Device
	}
	return r.Device + ", kernels " + r.KernelPath
}

// ReadBench reads a bench.json (ours or PyTorch's).
func Read(path string) (*Result, error) {
	var r Result
	if err := runs.ReadJSON(path, &r); err != nil {
		return nil, err
	}
	if len(r.Rows) == 0 {
		return nil, fmt.Errorf("read %s: no benchmark rows", path)
	}
	return &r, nil
}

// WriteBench writes res as JSON.
func Write(path string, res *Result) error { return runs.WriteJSON(path, res) }
