package runs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mnistgpu/internal/atomicfile"
	"mnistgpu/model"
)

// runFiles are the files of a run folder that Run writes (figures/ aside).
var runFiles = []string{"config.json", "history.csv", "metrics.json", "predictions.csv", "model.safetensors", "train.log", ResumeFile}

// HoldsRun reports whether dir holds (part of) a run: any of its files.
func HoldsRun(dir string) bool {
	for _, f := range runFiles {
		if FileExists(filepath.Join(dir, f)) {
			return true
		}
	}
	return false
}

// CheckRunDir checks, without creating anything, that a new run can be
// written to dir: dir is a folder or can be made as one, it does not hold
// a run unless overwrite is set, and a file can be written where it is.
func CheckRunDir(dir string, overwrite bool) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("--out %s: not a folder", dir)
	case err == nil && HoldsRun(dir) && !overwrite:
		what := "part of a run"
		if FileExists(filepath.Join(dir, "metrics.json")) {
			what = "a finished run"
		}
		return fmt.Errorf("--out %s already holds %s: choose another --out, add --overwrite to replace it, or continue it with `mnistgpu train --resume %s`", dir, what, dir)
	}
	// The nearest folder that exists must take a new file.
	probe := dir
	for {
		st, err := os.Stat(probe)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("--out %s: %s is not a folder", dir, probe)
			}
			break
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return fmt.Errorf("--out %s: %w", dir, err)
		}
		probe = parent
	}
	f, err := os.CreateTemp(probe, ".probe*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot write in %s: %w", dir, probe, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// prepareDir makes the run folder and removes what an interrupted atomic
// write left there. Unless the run resumes, a run already there is an
// error, or with overwrite its files are removed.
func prepareDir(dir string, overwrite, resuming bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp") && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, n)) // a write that a kill interrupted
		}
	}
	if resuming || !HoldsRun(dir) {
		return nil
	}
	if !overwrite {
		return CheckRunDir(dir, false)
	}
	for _, f := range runFiles {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--overwrite %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "figures")); err != nil {
		return fmt.Errorf("--overwrite %s: %w", dir, err)
	}
	return nil
}

// trainLog is a run's train.log: every line the run prints, rewritten
// whole after each epoch and when the run ends, however it ends.
type trainLog struct {
	path string
	buf  bytes.Buffer
}

func (l *trainLog) write() error { return atomicfile.WriteBytes(l.path, l.buf.Bytes()) }

// readLog is the train.log of the run being resumed ("" when it has none).
func readLog(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// InterruptedError is what Run returns when its context stopped it.
type InterruptedError struct {
	// Epoch is the epoch that was stopped and Saved the number of finished
	// epochs in the resumable checkpoint.
	Epoch, Saved int
	Err          error
}

// Error says where the run stopped and what is saved.
func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted in epoch %d with %d epochs saved: %v", e.Epoch, e.Saved, e.Err)
}

// Unwrap is the context's error.
func (e *InterruptedError) Unwrap() error { return e.Err }

// extraTSNE names the t-SNE input kept after epoch 1 in a resumable
// checkpoint, so that a resumed run still draws that figure.
const extraTSNE = "tsne_epoch1"

// saveResume writes the run's resumable checkpoint after an epoch.
func saveResume(tr *model.Trainer, dir string, cfg Config, hist []model.EpochStats, fig *figureSet) error {
	st := model.ResumeState{Epoch: len(hist), History: hist, Meta: map[string]string{"key": Key(cfg)}}
	if len(fig.epoch1) > 0 {
		var flat []float32
		for _, row := range fig.epoch1 {
			flat = append(flat, row...)
		}
		st.Extra = map[string][]float32{extraTSNE: flat}
		st.Meta[extraTSNE+"_dim"] = strconv.Itoa(len(fig.epoch1[0]))
	}
	return tr.SaveResume(filepath.Join(dir, ResumeFile), cfg.Arch, st)
}

// readResume reads dir's resumable checkpoint and checks that it is of cfg.
func readResume(dir string, cfg Config) (*model.Resume, error) {
	r, err := model.ReadResume(filepath.Join(dir, ResumeFile))
	if err != nil {
		return nil, err
	}
	if r.State.Meta["key"] != Key(cfg) {
		return nil, fmt.Errorf("%s holds part of a run of another configuration: remove it or choose another --out", dir)
	}
	return r, nil
}

// removeResume removes the resumable checkpoint of a run that is complete.
func removeResume(dir string) error {
	if err := os.Remove(filepath.Join(dir, ResumeFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// unflatten splits v into rows of the width dim names (nil when either is
// missing or they do not fit).
func unflatten(v []float32, dim string) [][]float32 {
	w, err := strconv.Atoi(dim)
	if err != nil || w <= 0 || len(v) == 0 || len(v)%w != 0 {
		return nil
	}
	rows := make([][]float32, len(v)/w)
	for i := range rows {
		rows[i] = v[i*w : (i+1)*w]
	}
	return rows
}
