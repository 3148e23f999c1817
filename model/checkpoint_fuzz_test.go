package model

import (
	"encoding/binary"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/kernels/cpu"
)

// FuzzCheckpoint feeds arbitrary bytes to the safetensors reader: no panic,
// errors are one line, and a checkpoint that parses (for an architecture
// small enough to build here) either loads into its network or fails with an
// error.
func FuzzCheckpoint(f *testing.F) {
	dev := cpu.New(1)
	dir := f.TempDir()
	for _, a := range []Arch{
		{Task: TaskMLP, Input: []int{1, 2, 2}, Classes: 2, Activation: "relu", Hidden: []int{3}},
		{Task: TaskCNN, Input: []int{1, 4, 4}, Classes: 2, Activation: "tanh", Channels: []int{2}, Kernel: 3, BatchNorm: true},
	} {
		net, err := Build(dev, a, 1, 1)
		if err != nil {
			f.Fatal(err)
		}
		path := filepath.Join(dir, "seed.safetensors")
		if err := SaveCheckpoint(path, net, a, 7, map[string]string{"note": "seed"}); err != nil {
			f.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)-3])
		net.Close()
	}
	hdr := `{"__metadata__":{"arch":"{\"task\":\"mlp\",\"input\":[1,1,1],\"classes\":2,\"activation\":\"relu\",\"hidden\":[1]}"},` +
		`"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`
	f.Add(append(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))), hdr...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ck, err := parseCheckpoint(raw)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for name, ti := range ck.tensors {
			size := new(big.Int).SetInt64(map[string]int64{"F32": 4, "I64": 8}[ti.DType])
			for _, d := range ti.Shape {
				size.Mul(size, big.NewInt(int64(d)))
			}
			n := ti.Offsets[1] - ti.Offsets[0]
			if ti.Offsets[0] < 0 || ti.Offsets[1] > int64(len(ck.data)) || size.Cmp(big.NewInt(n)) != 0 {
				t.Fatalf("accepted tensor %s %s %v at bytes %v of %d", name, ti.DType, ti.Shape, ti.Offsets, len(ck.data))
			}
		}
		if err := ck.Arch.Validate(); err != nil {
			t.Fatalf("accepted an invalid arch: %v", err)
		}
		if !smallArch(ck.Arch) {
			return
		}
		net, err := Build(dev, ck.Arch, 1, 1)
		if err != nil {
			return
		}
		defer net.Close()
		if err := ck.Load(net); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
	})
}

// smallArch reports whether a's network is small enough to build in a fuzz
// iteration (a few thousand numbers).
func smallArch(a Arch) bool {
	small := func(v []int, n int) bool {
		if len(v) > n {
			return false
		}
		for _, x := range v {
			if x > 16 {
				return false
			}
		}
		return true
	}
	return small(a.Input, 3) && a.Input[0]*a.Input[1]*a.Input[2] <= 256 && a.Classes <= 16 &&
		small(a.Hidden, 3) && small(a.Channels, 3) && a.Kernel <= 7
}

// TestArchInputChecked checks that an arch read from a checkpoint with
// negative or overflowing input dimensions is refused before Build (it
// once reached Build and panicked in make).
func TestArchInputChecked(t *testing.T) {
	for _, in := range [][]int{{-1, -1, 4}, {1, -2, -2}, {1 << 31, 1 << 31, 4}, {0, 28, 28}} {
		a := Arch{Task: TaskMLP, Input: in, Classes: 2, Activation: "relu", Hidden: []int{2}}
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "input shape") {
			t.Errorf("input %v: got %v, want an input shape error", in, err)
		}
	}
	a, _ := DefaultArch(TaskCNN)
	if err := a.Validate(); err != nil {
		t.Errorf("the default CNN: %v", err)
	}
}
