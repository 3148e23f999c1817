package runs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"mnistgpu/dataset"
	"mnistgpu/kernels"
	"mnistgpu/model"
)

// EvalOptions configure Evaluate.
type EvalOptions struct {
	// DataDir overrides the data folder recorded in the checkpoint.
	DataDir string
	// Figures turns on the figures; TSNEPoints and TSNELayer as for Train.
	Figures    bool
	TSNEPoints int
	TSNELayer  string
	// BatchSize is the inference batch size (default: the run's, so the
	// numbers are computed exactly as the run computed them).
	BatchSize int
	Log       io.Writer
	// Stage, when set, is told what the figures are at, e.g.
	// "t-SNE (evaluated checkpoint) 250/1000", and "" when they are done.
	Stage func(string)
}

// Evaluate builds a checkpoint's network, rebuilds the test set its run
// used (the split is recorded in the checkpoint's metadata), and writes
// metrics.json, predictions.csv and the test-set figures into out.
func Evaluate(ck *model.Checkpoint, dev kernels.Device, out string, o EvalOptions) (Metrics, error) {
	var m Metrics
	ckpt := ck.Path
	var err error
	if o.BatchSize <= 0 {
		o.BatchSize = 256
		if s, ok := ck.Metadata["batch_size"]; ok {
			if o.BatchSize, err = strconv.Atoi(s); err != nil || o.BatchSize <= 0 {
				return m, fmt.Errorf("checkpoint %s: batch_size metadata %q", ckpt, s)
			}
		}
	}
	net, err := ck.Network(dev, o.BatchSize)
	if err != nil {
		return m, err
	}
	defer net.Close()
	var dc DataConfig
	if s, ok := ck.Metadata["data"]; ok {
		if err := json.Unmarshal([]byte(s), &dc); err != nil {
			return m, fmt.Errorf("checkpoint %s: data metadata: %w", ckpt, err)
		}
	}
	seed := uint64(1)
	if s, ok := ck.Metadata["seed"]; ok {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			return m, fmt.Errorf("checkpoint %s: seed metadata: %w", ckpt, err)
		}
	}
	if o.DataDir != "" {
		dc.Dir = o.DataDir
	} else if dc.Dir != "" {
		if _, err := os.Stat(dc.Dir); err != nil {
			dc.Dir = "" // the run's folder is elsewhere: look up the usual places
		}
	}
	data, err := LoadData(dc, seed)
	if err != nil {
		return m, err
	}
	if err := CheckOutDir(out); err != nil {
		return m, err
	}
	test, err := model.Upload(dev, data.Test)
	if err != nil {
		return m, err
	}
	defer test.Free(dev)
	cfg := model.DefaultTrainConfig()
	cfg.BatchSize = o.BatchSize
	tr, err := model.NewTrainer(net, cfg)
	if err != nil {
		return m, err
	}
	defer tr.Close()
	tested, err := Test(tr, test, true, o.Figures && o.TSNELayer == "penultimate")
	if err != nil {
		return m, err
	}
	m, outs := tested.Metrics, tested.Out
	m.Params, m.Device = net.NumParams(), dev.Name()
	if err := WritePredictions(filepath.Join(out, "predictions.csv"), test.Labels(), outs); err != nil {
		return m, err
	}
	if err := WriteJSON(filepath.Join(out, "metrics.json"), m); err != nil {
		return m, err
	}
	if o.Figures {
		rc := Config{Arch: ck.Arch, Figures: true, TSNEPoints: o.TSNEPoints, TSNELayer: o.TSNELayer}
		rc.Train.Seed = seed
		fig := newFigureSet(rc, out, data)
		fig.stage = o.Stage
		err := fig.testFigures(net, tested, "(evaluated checkpoint)")
		if o.Stage != nil {
			o.Stage("")
		}
		if err != nil {
			return m, err
		}
	}
	if o.Log != nil {
		fmt.Fprintln(o.Log, m.summary(out))
	}
	return m, nil
}

// Prediction is the class of one image file and its probabilities.
type Prediction struct {
	Path  string
	Class int
	Probs []float32
	// Notes say how the image was converted to MNIST's form.
	Notes []string
}

// PredictFiles classifies image files (any size, grayscale or colour) with
// the checkpoint's network on dev.
func PredictFiles(ckpt string, dev kernels.Device, paths []string) ([]Prediction, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("predict: name at least one image file")
	}
	set := &dataset.Set{Images: &dataset.Images{N: len(paths), Rows: 28, Cols: 28}, Labels: make([]uint8, len(paths))}
	preds := make([]Prediction, len(paths))
	for i, p := range paths {
		img, err := dataset.FromFile(p)
		if err != nil {
			return nil, err
		}
		set.Images.Pixels = append(set.Images.Pixels, img.Pixels...)
		preds[i] = Prediction{Path: p, Notes: img.Notes}
	}
	net, _, err := model.LoadNetwork(ckpt, dev, len(paths))
	if err != nil {
		return nil, err
	}
	defer net.Close()
	r, err := model.Upload(dev, set)
	if err != nil {
		return nil, err
	}
	defer r.Free(dev)
	out, err := model.Predict(net, r, false)
	if err != nil {
		return nil, err
	}
	for i, c := range out.Argmax() {
		preds[i].Class = c
		preds[i].Probs = out.Probs[i*out.Classes : (i+1)*out.Classes]
	}
	return preds, nil
}
