package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"mnistgpu/internal/atomicfile"
	"mnistgpu/kernels"
)

// A checkpoint is a safetensors file: an 8-byte little-endian header length,
// a JSON header mapping each tensor name to its dtype, shape and byte range
// in the data that follows, and the raw little-endian data. mnistgpu writes
// the parameters and batch-norm statistics under PyTorch's names
// (fc1.weight, bn1.running_mean, bn1.num_batches_tracked, ...) so that
// torch.load_state_dict(safetensors.torch.load_file(path)) works, and keeps
// the architecture as JSON in the header's __metadata__ under "arch".

// maxHeader bounds the JSON header we accept (the format's own limit is 100 MB).
const maxHeader = 100 << 20

type tensorInfo struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// SaveCheckpoint writes net's parameters and statistics with arch and extra
// metadata to path, through a temporary file renamed into place.
func SaveCheckpoint(path string, net *Network, arch Arch, steps int, meta map[string]string) error {
	archJSON, err := json.Marshal(arch)
	if err != nil {
		return err
	}
	md := map[string]string{"format": "pt", "arch": string(archJSON), "producer": "mnistgpu"}
	for k, v := range meta {
		md[k] = v
	}
	var entries []entry
	dev := net.Device()
	for _, p := range net.Params() {
		e, err := f32Entry(dev, p.Name, p.Shape, p.W)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for _, s := range net.States() {
		e, err := f32Entry(dev, s.Name, s.Shape, s.Buf)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		if strings.HasSuffix(s.Name, ".running_var") {
			raw := make([]byte, 8)
			binary.LittleEndian.PutUint64(raw, uint64(steps))
			entries = append(entries, entry{strings.TrimSuffix(s.Name, "running_var") + "num_batches_tracked", "I64", []int{}, raw})
		}
	}
	return writeSafetensors(path, entries, md)
}

// entry is one tensor to write: its name, dtype, shape and raw bytes.
type entry struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// f32Entry reads buffer b of dev as the F32 tensor name.
func f32Entry(dev kernels.Device, name string, shape []int, b kernels.Buffer) (entry, error) {
	v := make([]float32, b.Len())
	if err := dev.Download(v, b); err != nil {
		return entry{}, fmt.Errorf("read %s: %w", name, err)
	}
	raw := f32Bytes(v)
	return entry{name, "F32", shape, raw}, nil
}

// writeSafetensors writes entries (in name order) and the metadata md to
// path as a safetensors file, atomically.
func writeSafetensors(path string, entries []entry, md map[string]string) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	header := map[string]any{"__metadata__": md}
	var off int64
	for _, e := range entries {
		header[e.name] = tensorInfo{DType: e.dtype, Shape: e.shape, Offsets: [2]int64{off, off + int64(len(e.data))}}
		off += int64(len(e.data))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 { // the format pads the header with spaces to 8 bytes
		hj = append(hj, ' ')
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		for _, e := range entries {
			if _, err := w.Write(e.data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Checkpoint is a parsed safetensors file.
type Checkpoint struct {
	// Path is the file the checkpoint was read from.
	Path     string
	Arch     Arch
	Metadata map[string]string
	tensors  map[string]tensorInfo
	data     []byte
}

// ReadCheckpoint parses and validates a safetensors checkpoint written by
// mnistgpu (or any file with an "arch" entry in its metadata).
func ReadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	ck, err := parseCheckpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	ck.Path = path
	return ck, nil
}

func parseCheckpoint(raw []byte) (*Checkpoint, error) {
	if len(raw) < 8 {
		return nil, errors.New("truncated: shorter than the 8-byte header length")
	}
	hl := binary.LittleEndian.Uint64(raw)
	if hl > maxHeader || hl > uint64(len(raw)-8) {
		return nil, fmt.Errorf("corrupt or truncated: header length %d but file has %d bytes", hl, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+hl], &header); err != nil {
		return nil, fmt.Errorf("corrupt header: %w", err)
	}
	ck := &Checkpoint{tensors: map[string]tensorInfo{}, data: raw[8+hl:]}
	for name, v := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &ck.Metadata); err != nil {
				return nil, fmt.Errorf("corrupt header metadata: %w", err)
			}
			continue
		}
		var ti tensorInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return nil, fmt.Errorf("corrupt header entry %s: %w", name, err)
		}
		size := map[string]int64{"F32": 4, "I64": 8}[ti.DType]
		if size == 0 {
			return nil, fmt.Errorf("tensor %s: dtype %s not supported (want F32)", name, ti.DType)
		}
		want := size
		for _, d := range ti.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %s: negative dimension in shape %v", name, ti.Shape)
			}
			if d > 0 && want > int64(len(raw))/int64(d) {
				return nil, fmt.Errorf("truncated: tensor %s of shape %v is larger than the file", name, ti.Shape)
			}
			want *= int64(d)
		}
		if ti.Offsets[0] < 0 || ti.Offsets[1]-ti.Offsets[0] != want {
			return nil, fmt.Errorf("tensor %s: byte range %v does not fit shape %v", name, ti.Offsets, ti.Shape)
		}
		if ti.Offsets[1] > int64(len(ck.data)) {
			return nil, fmt.Errorf("truncated: tensor %s ends at byte %d of %d", name, ti.Offsets[1], len(ck.data))
		}
		ck.tensors[name] = ti
	}
	a, ok := ck.Metadata["arch"]
	if !ok {
		return nil, errors.New(`no "arch" in the header metadata: not an mnistgpu checkpoint`)
	}
	if err := json.Unmarshal([]byte(a), &ck.Arch); err != nil {
		return nil, fmt.Errorf("corrupt arch metadata: %w", err)
	}
	if err := ck.Arch.Validate(); err != nil {
		return nil, fmt.Errorf("arch metadata: %w", err)
	}
	return ck, nil
}

// Load copies the checkpoint's tensors into net, checking that the names
// and shapes match exactly.
func (ck *Checkpoint) Load(net *Network) error {
	dev := net.Device()
	seen := map[string]bool{}
	load := func(name string, shape []int, b kernels.Buffer) error {
		v, err := ck.f32(name, shape)
		if err != nil {
			return err
		}
		seen[name] = true
		return dev.Upload(b, v)
	}
	for _, p := range net.Params() {
		if err := load(p.Name, p.Shape, p.W); err != nil {
			return err
		}
	}
	for _, s := range net.States() {
		if err := load(s.Name, s.Shape, s.Buf); err != nil {
			return err
		}
	}
	for name := range ck.tensors {
		if !seen[name] && !strings.HasSuffix(name, ".num_batches_tracked") {
			return fmt.Errorf("checkpoint has tensor %s that the %s model lacks", name, ck.Arch.Task)
		}
	}
	return nil
}

// f32 returns the F32 tensor name, checking that it has shape.
func (ck *Checkpoint) f32(name string, shape []int) ([]float32, error) {
	ti, ok := ck.tensors[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint lacks tensor %s that the %s model needs", name, ck.Arch.Task)
	}
	if !equalInts(ti.Shape, shape) || ti.DType != "F32" {
		return nil, fmt.Errorf("tensor %s: checkpoint has %s %v, the model needs F32 %v", name, ti.DType, ti.Shape, shape)
	}
	raw := ck.data[ti.Offsets[0]:ti.Offsets[1]]
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v, nil
}

// LoadNetwork reads a checkpoint and builds its network on dev for batches
// of up to maxBatch.
func LoadNetwork(path string, dev kernels.Device, maxBatch int) (*Network, *Checkpoint, error) {
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	net, err := ck.Network(dev, maxBatch)
	return net, ck, err
}

// Network builds the checkpoint's network on dev for batches of up to
// maxBatch and loads its tensors.
func (ck *Checkpoint) Network(dev kernels.Device, maxBatch int) (*Network, error) {
	net, err := Build(dev, ck.Arch, maxBatch, 0)
	if err != nil {
		return nil, err
	}
	if err := ck.Load(net); err != nil {
		net.Close()
		return nil, fmt.Errorf("checkpoint %s: %w", ck.Path, err)
	}
	return net, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// f32Bytes encodes v as little-endian float32s, safetensors' F32 layout.
func f32Bytes(v []float32) []byte {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return raw
}
