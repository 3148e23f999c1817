package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/dataset"
)

// bin is the mnistgpu binary built once for the tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mnistgpu-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "mnistgpu")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary in dir and returns stdout, stderr and the exit code.
func run(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// mnistDir returns the real MNIST files from the pinned Go module.
func mnistDir(t *testing.T) string {
	t.Helper()
	dir, err := dataset.ModuleDir()
	if err != nil {
		t.Skipf("GoMNIST module not available: %v", err)
	}
	return filepath.Join(dir, "data")
}

func idx(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

// dataDir writes a small IDX data set and lets mutate change one file.
func dataDir(t *testing.T, mutate func(files map[string][]byte)) string {
	dir := t.TempDir()
	img := func(n int) []byte { return idx(0x803, []uint32{uint32(n), 28, 28}, make([]byte, n*784)) }
	lab := func(n int) []byte { return idx(0x801, []uint32{uint32(n)}, make([]byte, n)) }
	files := map[string][]byte{
		"train-images-idx3-ubyte.gz": gz(img(20)), "train-labels-idx1-ubyte.gz": gz(lab(20)),
		"t10k-images-idx3-ubyte.gz": gz(img(5)), "t10k-labels-idx1-ubyte.gz": gz(lab(5)),
	}
	mutate(files)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBadInput checks that each bad input gives one clear line on stderr
// naming what is wrong, a non-zero exit, no panic and no output files.
func TestBadInput(t *testing.T) {
	good := mnistDir(t)
	// A path under a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data string
		args []string
		want string
	}{
		{"missing data folder", filepath.Join(t.TempDir(), "nope"), nil, "nope"},
		{"empty file", dataDir(t, func(f map[string][]byte) { f["train-labels-idx1-ubyte.gz"] = nil }), nil, "train-labels-idx1-ubyte.gz"},
		{"truncated gzip", dataDir(t, func(f map[string][]byte) {
			b := f["train-images-idx3-ubyte.gz"]
			f["train-images-idx3-ubyte.gz"] = b[:len(b)/2]
		}), nil, "train-images-idx3-ubyte.gz"},
		{"wrong magic", dataDir(t, func(f map[string][]byte) {
			f["t10k-images-idx3-ubyte.gz"] = gz(idx(0x801, []uint32{5, 28, 28}, make([]byte, 5*784)))
		}), nil, "magic"},
		{"counts differ", dataDir(t, func(f map[string][]byte) {
			f["train-labels-idx1-ubyte.gz"] = gz(idx(0x801, []uint32{19}, make([]byte, 19)))
		}), nil, "19"},
		{"batch size 0", good, []string{"--batch-size", "0"}, "--batch-size"},
		{"negative lr", good, []string{"--lr", "-1"}, "--lr"},
		{"val split", good, []string{"--val-split", "1.5"}, "--val-split"},
		{"activation", good, []string{"--activation", "swish"}, "--activation"},
		{"hidden", good, []string{"--hidden", "128,,64"}, "--hidden"},
		{"unwritable out", good, []string{"--out", filepath.Join(file, "run")}, "--out"},
		{"no task", good, []string{}, "mlp or cnn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := []string{"train"}
			if c.name != "no task" {
				args = append(args, "mlp", "--data", c.data, "--epochs", "1", "--subset", "50", "--no-figures", "--device", "cpu")
				if !hasFlag(c.args, "--out") {
					args = append(args, "--out", out)
				}
				args = append(args, c.args...)
			}
			_, stderr, code := run(t, t.TempDir(), nil, args...)
			if code == 0 {
				t.Fatalf("exit 0, want non-zero; stderr %q", stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Fatalf("want one line naming %q, got %q", c.want, stderr)
			}
			if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
				t.Fatalf("left files in --out: %v", ents)
			}
		})
	}
}

func hasFlag(args []string, f string) bool {
	for _, a := range args {
		if a == f {
			return true
		}
	}
	return false
}

func TestDevicesWithoutGPU(t *testing.T) {
	stdout, stderr, code := run(t, t.TempDir(), []string{"LD_LIBRARY_PATH=/nonexistent"}, "devices")
	if code != 0 {
		t.Fatalf("devices exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "cpu") {
		t.Fatalf("devices output lacks the CPU line: %q", stdout)
	}
	if _, err := os.Stat("/dev/nvidia0"); err != nil && !strings.Contains(stdout, "libcuda") {
		t.Fatalf("without a GPU, devices should say what failed: %q", stdout)
	}
}

func TestDeviceCudaFailsWithoutGPU(t *testing.T) {
	if _, err := os.Stat("/dev/nvidia0"); err == nil {
		t.Skip("a GPU is present")
	}
	_, stderr, code := run(t, t.TempDir(), nil, "train", "cnn", "--device", "cuda", "--data", mnistDir(t), "--subset", "10", "--epochs", "1", "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "--device cuda") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("want one line about --device cuda and a non-zero exit, got %d %q", code, stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"train", "--help"}, {"bench", "--help"}, {"devices", "--help"}} {
		stdout, _, code := run(t, t.TempDir(), nil, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE") {
			t.Fatalf("%v: exit %d, output %q", args, code, stdout)
		}
	}
}

// TestEvalPredict trains a tiny model, then checks eval and predict on it
// and that bad checkpoints, images and flags give one-line errors.
func TestEvalPredict(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	run1 := filepath.Join(dir, "run")
	if _, stderr, code := run(t, dir, nil, "train", "mlp", "--data", data, "--subset", "500", "--epochs", "1",
		"--no-figures", "--device", "cpu", "--out", run1); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	ck := filepath.Join(run1, "model.safetensors")
	stdout, stderr, code := run(t, dir, nil, "eval", "--checkpoint", ck, "--no-figures", "--device", "cpu")
	if code != 0 || !strings.Contains(stdout, "test accuracy") {
		t.Fatalf("eval: %d %q %q", code, stdout, stderr)
	}
	raw, _ := os.ReadFile(ck)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"truncated checkpoint", []string{"eval", "--checkpoint", write("t.safetensors", raw[:len(raw)/2])}, "truncated"},
		{"corrupt header", []string{"eval", "--checkpoint", write("c.safetensors", append(raw[:8:8], []byte("{{{{")...))}, "header"},
		{"missing checkpoint", []string{"eval", "--checkpoint", filepath.Join(dir, "none.safetensors")}, "none.safetensors"},
		{"tsne points 0", []string{"eval", "--checkpoint", ck, "--tsne-points", "0"}, "--tsne-points"},
		{"not an image", []string{"predict", "--checkpoint", ck, write("x.png", []byte("hello"))}, "x.png"},
		{"no image", []string{"predict", "--checkpoint", ck}, "image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, dir, nil, c.args...)
			if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, c.want) {
				t.Fatalf("want a one-line error naming %q and a non-zero exit, got %d %q", c.want, code, stderr)
			}
		})
	}
}
