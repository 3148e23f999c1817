package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp()
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"predict image first", "predict a.png --checkpoint m.st", "predict --checkpoint m.st -- a.png"},
		{"predict flags first", "predict --checkpoint m.st a.png b.png", "predict --checkpoint m.st -- a.png b.png"},
		{"predict between", "predict a.png --checkpoint=m.st b.png", "predict --checkpoint=m.st -- a.png b.png"},
		{"dash dash ends flags", "predict --checkpoint m.st -- --odd.png", "predict --checkpoint m.st -- --odd.png"},
		{"dash dash keeps later flags as arguments", "predict a.png -- --checkpoint m.st", "predict -- a.png --checkpoint m.st"},
		{"merge out last", "sweep merge a b --out c", "sweep merge --out c -- a b"},
		{"merge out first", "sweep merge --out c a b", "sweep merge --out c -- a b"},
		{"merge out before merge", "sweep --out c merge a b", "sweep merge --out c -- a b"},
		{"data dir first", "data dir --verify", "data --verify -- dir"},
		{"train flags after task", "train cnn --epochs 2 --batchnorm=false", "train cnn --epochs 2 --batchnorm=false"},
		{"train flags before task", "train --epochs 2 --device cpu mlp --no-figures", "train mlp --epochs 2 --device cpu --no-figures"},
		{"train value equal to a task name", "train --out cnn mlp", "train mlp --out cnn"},
		{"bool flag then argument", "data --verify dir", "data --verify -- dir"},
		{"negative value", "train mlp --lr -1", "train mlp --lr -1"},
		{"help after argument", "predict a.png --help", "predict --help -- a.png"},
		{"app flags stay", "--version", "--version"},
		{"app flag before command", "--help train", "--help train"},
		{"sweep flags", "sweep --task cnn --set lr=0.1,0.2 --out s", "sweep --task cnn --set lr=0.1,0.2 --out s"},
		// Left as typed: the parser or the command reports the problem.
		{"unknown command", "frobnicate x --y 1", "frobnicate x --y 1"},
		{"unknown task", "train rnn --epochs 2", "train rnn --epochs 2"},
		{"sweep argument", "sweep --task cnn stray", "sweep --task cnn stray"},
		{"missing value", "predict a.png --checkpoint", "predict a.png --checkpoint"},
		{"nothing", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"mnistgpu"}, strings.Fields(c.in)...)
			want := append([]string{"mnistgpu"}, strings.Fields(c.want)...)
			if got := reorderArgs(app, args); !reflect.DeepEqual(got, want) {
				t.Fatalf("reorderArgs(%q)\n got %q\nwant %q", c.in, got, want)
			}
		})
	}
}

// treeFiles lists the files under dir, relative to it.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestSweepMergeFlagsAnyOrder merges two shards with --out after, before
// and between the shard folders and checks that each gives the same
// merged folder: the same files and the same results.csv rows.
func TestSweepMergeFlagsAnyOrder(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--task", "mlp", "--set", "lr=0.01,0.02", "--epochs", "1", "--subset", "100",
		"--device", "cpu", "--threads", "1", "--parallel", "1", "--data", data}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for i, out := range []string{a, b} {
		args := append(slices.Clone(grid), "--shard", []string{"1/2", "2/2"}[i], "--out", out)
		if _, stderr, code := run(t, dir, nil, args...); code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i+1, code, stderr)
		}
	}
	orders := map[string][]string{
		"out last":    {"sweep", "merge", a, b, "--out", filepath.Join(dir, "m1")},
		"out first":   {"sweep", "merge", "--out", filepath.Join(dir, "m2"), a, b},
		"out between": {"sweep", "merge", a, "--out=" + filepath.Join(dir, "m3"), b},
	}
	var want []string
	var wantRows [][]string
	for _, name := range []string{"out last", "out first", "out between"} {
		args := orders[name]
		if _, stderr, code := run(t, dir, nil, args...); code != 0 {
			t.Fatalf("%s: %v: exit %d: %s", name, args, code, stderr)
		}
		m := filepath.Join(dir, "m"+map[string]string{"out last": "1", "out first": "2", "out between": "3"}[name])
		files, rows := treeFiles(t, m), resultRows(t, filepath.Join(m, "results.csv"))
		if want == nil {
			want, wantRows = files, rows
			if len(rows) != 3 || !slices.Contains(files, "results.md") {
				t.Fatalf("%s: merged folder %v, results %v", name, files, rows)
			}
			continue
		}
		if !reflect.DeepEqual(files, want) || !reflect.DeepEqual(rows, wantRows) {
			t.Fatalf("%s: files %v rows %v; want files %v rows %v", name, files, rows, want, wantRows)
		}
	}
	// The shard folders are left as they were: --out was not read as a shard.
	if _, err := os.Stat(filepath.Join(a, "results.csv")); err == nil {
		t.Error("merge wrote into the first shard although --out was given")
	}
}

// digitPNG writes a white image with a black vertical stroke.
func digitPNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 8; y < 32; y++ {
		for x := 18; x < 22; x++ {
			img.SetGray(x, y, color.Gray{})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFlagsAnyOrder checks train with flags before the task, predict and
// data with flags after their arguments, and eval, against the same
// commands with the flags first.
func TestFlagsAnyOrder(t *testing.T) {
	data := mnistDir(t)
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	if _, stderr, code := run(t, dir, nil, "train", "--epochs", "1", "--subset", "200", "--device", "cpu", "mlp",
		"--no-figures", "--data", data, "--out", runDir); code != 0 {
		t.Fatalf("train with flags before the task: exit %d: %s", code, stderr)
	}
	ck := filepath.Join(runDir, "model.safetensors")
	img := filepath.Join(dir, "one.png")
	digitPNG(t, img)
	first, stderr, code := run(t, dir, nil, "predict", "--checkpoint", ck, img)
	if code != 0 || !strings.Contains(first, "one.png: ") {
		t.Fatalf("predict --checkpoint M IMG: exit %d: %q %q", code, first, stderr)
	}
	for _, args := range [][]string{
		{"predict", img, "--checkpoint", ck},
		{"predict", img, "--checkpoint=" + ck},
		{"predict", "--checkpoint", ck, "--", img},
	} {
		got, stderr, code := run(t, dir, nil, args...)
		if code != 0 || got != first {
			t.Fatalf("%v: exit %d: %q %q; want %q", args, code, got, stderr, first)
		}
	}
	// After "--" a flag is an argument: an image file that does not exist.
	if _, stderr, code := run(t, dir, nil, "predict", "--checkpoint", ck, "--", "--verbose"); code == 0 || !strings.Contains(stderr, "--verbose") {
		t.Fatalf("predict -- --verbose: exit %d: %q", code, stderr)
	}
	verify1, stderr, code := run(t, dir, nil, "data", "--verify", data)
	if code != 0 {
		t.Fatalf("data --verify DIR: exit %d: %s", code, stderr)
	}
	if verify2, stderr, code := run(t, dir, nil, "data", data, "--verify"); code != 0 || verify2 != verify1 {
		t.Fatalf("data DIR --verify: exit %d: %q %q; want %q", code, verify2, stderr, verify1)
	}
	if out, stderr, code := run(t, dir, nil, "eval", "--no-figures", "--checkpoint", ck, "--device", "cpu"); code != 0 || !strings.Contains(out, "test accuracy") {
		t.Fatalf("eval: exit %d: %q %q", code, out, stderr)
	}
}
