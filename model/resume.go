package model

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ResumeFormat is the version of the resumable checkpoint that SaveResume
// writes. A later release that changes what the file holds raises it, and
// ReadResume refuses versions it does not know with a clear message.
const ResumeFormat = 1

// ResumeState is the training progress that a resumable checkpoint carries
// besides the network and the optimizer state.
//
// The random state is fully described by the seed (in TrainConfig) and the
// counters: initialisation and splits depend on the seed only, the batch
// order of an epoch on (seed, epoch), and each dropout mask on (seed, step).
type ResumeState struct {
	// Epoch is the number of finished epochs.
	Epoch int
	// Steps is the optimizer's step counter after Epoch.
	Steps int
	// History holds the finished epochs' records.
	History []EpochStats
	// Meta is the caller's own data (a run's configuration), kept as given.
	Meta map[string]string
	// Extra holds the caller's float32 vectors (a figure's input kept from
	// an earlier epoch), by name.
	Extra map[string][]float32
}

// Resume is a parsed resumable checkpoint.
type Resume struct {
	ck    *Checkpoint
	State ResumeState
	Train TrainConfig
}

// Arch is the architecture the checkpoint was trained with.
func (r *Resume) Arch() Arch { return r.ck.Arch }

// SaveResume writes everything needed to continue training exactly where
// it stands to path, atomically: the parameters, batch-norm statistics,
// the optimizer's state and step counter, and st.
func (t *Trainer) SaveResume(path string, arch Arch, st ResumeState) error {
	archJSON, err := json.Marshal(arch)
	if err != nil {
		return err
	}
	trainJSON, err := json.Marshal(t.cfg)
	if err != nil {
		return err
	}
	hist, err := json.Marshal(encodeHistory(st.History))
	if err != nil {
		return fmt.Errorf("resume checkpoint: history: %w", err)
	}
	meta, err := json.Marshal(st.Meta)
	if err != nil {
		return err
	}
	md := map[string]string{"producer": "mnistgpu", "resume_format": strconv.Itoa(ResumeFormat),
		"arch": string(archJSON), "train": string(trainJSON), "epoch": strconv.Itoa(st.Epoch),
		"steps": strconv.Itoa(t.Steps()), "history": string(hist), "run": string(meta)}
	var entries []entry
	dev := t.dev
	for _, p := range t.net.Params() {
		e, err := f32Entry(dev, p.Name, p.Shape, p.W)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for _, s := range t.net.States() {
		e, err := f32Entry(dev, s.Name, s.Shape, s.Buf)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for name, b := range t.opt.state() {
		e, err := f32Entry(dev, "optimizer."+name, []int{b.Len()}, b)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for name, v := range st.Extra {
		entries = append(entries, entry{"extra." + name, "F32", []int{len(v)}, f32Bytes(v)})
	}
	return writeSafetensors(path, entries, md)
}

// ReadResume reads a resumable checkpoint written by SaveResume.
func ReadResume(path string) (*Resume, error) {
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("resume checkpoint %s: %s", path, fmt.Sprintf(format, a...))
	}
	v, ok := ck.Metadata["resume_format"]
	if !ok {
		return nil, bad("no resume_format in its metadata: not a resumable checkpoint")
	}
	if n, err := strconv.Atoi(v); err != nil || n != ResumeFormat {
		return nil, bad("format %s, but this mnistgpu reads format %d only (use the release that wrote it)", v, ResumeFormat)
	}
	r := &Resume{ck: ck}
	if err := json.Unmarshal([]byte(ck.Metadata["train"]), &r.Train); err != nil {
		return nil, bad("training settings: %v", err)
	}
	if r.State.Epoch, err = strconv.Atoi(ck.Metadata["epoch"]); err != nil || r.State.Epoch < 0 {
		return nil, bad("epoch %q is not a count", ck.Metadata["epoch"])
	}
	if r.State.Steps, err = strconv.Atoi(ck.Metadata["steps"]); err != nil || r.State.Steps < 0 {
		return nil, bad("steps %q is not a count", ck.Metadata["steps"])
	}
	if r.State.History, err = decodeHistory(ck.Metadata["history"]); err != nil {
		return nil, bad("history: %v", err)
	}
	if len(r.State.History) != r.State.Epoch {
		return nil, bad("%d epochs of history for epoch %d", len(r.State.History), r.State.Epoch)
	}
	if m := ck.Metadata["run"]; m != "" && m != "null" {
		if err := json.Unmarshal([]byte(m), &r.State.Meta); err != nil {
			return nil, bad("run metadata: %v", err)
		}
	}
	r.State.Extra = map[string][]float32{}
	for name, ti := range ck.tensors {
		if len(name) > 6 && name[:6] == "extra." && len(ti.Shape) == 1 {
			if r.State.Extra[name[6:]], err = ck.f32(name, ti.Shape); err != nil {
				return nil, bad("%v", err)
			}
		}
	}
	return r, nil
}

// Restore loads r into t: parameters, statistics, optimizer state and step
// counter. The trainer must have been made for the same architecture
// (r.Arch) and optimizer; tensor names and shapes are checked here.
func (t *Trainer) Restore(r *Resume) error {
	if r.Train.Optimizer != t.cfg.Optimizer {
		return fmt.Errorf("resume checkpoint %s: optimizer %s, this run uses %s", r.ck.Path, r.Train.Optimizer, t.cfg.Optimizer)
	}
	dev := t.dev
	for _, p := range t.net.Params() {
		v, err := r.ck.f32(p.Name, p.Shape)
		if err == nil {
			err = dev.Upload(p.W, v)
		}
		if err != nil {
			return fmt.Errorf("resume checkpoint %s: %w", r.ck.Path, err)
		}
	}
	for _, s := range t.net.States() {
		v, err := r.ck.f32(s.Name, s.Shape)
		if err == nil {
			err = dev.Upload(s.Buf, v)
		}
		if err != nil {
			return fmt.Errorf("resume checkpoint %s: %w", r.ck.Path, err)
		}
	}
	for name, b := range t.opt.state() {
		v, err := r.ck.f32("optimizer."+name, []int{b.Len()})
		if err == nil {
			err = dev.Upload(b, v)
		}
		if err != nil {
			return fmt.Errorf("resume checkpoint %s: %w", r.ck.Path, err)
		}
	}
	t.SetSteps(r.State.Steps)
	return nil
}

// encodeHistory writes each epoch's numbers as exact decimal strings, which
// unlike JSON numbers also carry NaN and infinities.
func encodeHistory(h []EpochStats) [][]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	out := make([][]string, len(h))
	for i, s := range h {
		out[i] = []string{strconv.Itoa(s.Epoch), f(s.TrainLoss), f(s.TrainAcc), f(s.ValLoss), f(s.ValAcc), f(s.Seconds), f(s.ImagesPerSec)}
	}
	return out
}

// decodeHistory reads what encodeHistory wrote.
func decodeHistory(s string) ([]EpochStats, error) {
	var rows [][]string
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	out := make([]EpochStats, len(rows))
	for i, r := range rows {
		if len(r) != 7 {
			return nil, fmt.Errorf("epoch record %d has %d fields, want 7", i+1, len(r))
		}
		var v [6]float64
		for j := range v {
			x, err := strconv.ParseFloat(r[j+1], 64)
			if err != nil {
				return nil, fmt.Errorf("epoch record %d: %w", i+1, err)
			}
			v[j] = x
		}
		e, err := strconv.Atoi(r[0])
		if err != nil {
			return nil, fmt.Errorf("epoch record %d: %w", i+1, err)
		}
		out[i] = EpochStats{Epoch: e, TrainLoss: v[0], TrainAcc: v[1], ValLoss: v[2], ValAcc: v[3], Seconds: v[4], ImagesPerSec: v[5]}
	}
	return out, nil
}
