package main

import (
	gobuildinfo "debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// maxErrorLine is the longest error line or note the CLI should print
// where the detail is one `mnistgpu devices` away.
const maxErrorLine = 160

func TestErrorLine(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{errors.New("--epochs 0: must be at least 1"), "mnistgpu: --epochs 0: must be at least 1"},
		{errors.New("mnistgpu: already prefixed"), "mnistgpu: already prefixed"},
		{fmt.Errorf("mnistgpu: %w", errors.New("mnistgpu: twice")), "mnistgpu: twice"},
		{errors.New("two\nlines  and\tspaces\n"), "mnistgpu: two lines and spaces"},
	}
	for _, c := range cases {
		if got := errorLine(c.err); got != c.want {
			t.Errorf("errorLine(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// oneShortLine fails unless s is one line of at most maxErrorLine
// characters that starts with prefix and holds it once.
func oneShortLine(t *testing.T, what, s, prefix string) {
	t.Helper()
	line := strings.TrimSuffix(s, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, prefix) || strings.Count(line, prefix) != 1 ||
		!(len([]rune(line)) <= maxErrorLine) {
		t.Errorf("%s: want one line under %d characters starting %q once, got %d characters: %q",
			what, maxErrorLine, prefix, len([]rune(line)), s)
	}
}

// TestShortGPUErrors checks, on a machine without a GPU, the error of
// --device cuda and the note of --device auto: one short line each, one
// prefix, pointing to `mnistgpu devices`.
func TestShortGPUErrors(t *testing.T) {
	if _, err := os.Stat("/dev/nvidia0"); err == nil {
		t.Skip("a GPU is present")
	}
	data := mnistDir(t)
	dir := t.TempDir()
	// A folder to search that does not exist, as a long LD_LIBRARY_PATH would.
	env := []string{"LD_LIBRARY_PATH=/nonexistent/a/very/long/folder/name/lib64:/another/long/folder/lib"}
	base := []string{"train", "mlp", "--epochs", "1", "--subset", "100", "--no-figures", "--data", data}
	_, stderr, code := run(t, dir, env, append(base, "--device", "cuda", "--out", filepath.Join(dir, "a"))...)
	if code == 0 {
		t.Fatal("--device cuda without a GPU exited 0")
	}
	oneShortLine(t, "--device cuda", stderr, "mnistgpu: ")
	for _, want := range []string{"--device cuda: ", "mnistgpu devices", "--device cpu"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--device cuda error %q lacks %q", stderr, want)
		}
	}
	_, stderr, code = run(t, dir, env, append(base, "--device", "auto", "--out", filepath.Join(dir, "b"))...)
	if code != 0 {
		t.Fatalf("--device auto: exit %d: %s", code, stderr)
	}
	note := strings.SplitN(stderr, "\n", 2)[0]
	oneShortLine(t, "--device auto note", note, "no GPU: ")
	if !strings.HasSuffix(note, " (mnistgpu devices for details); running on cpu") {
		t.Errorf("--device auto note %q", note)
	}
	if runtime.GOOS == "linux" && note != "no GPU: libcuda.so.1 not found (mnistgpu devices for details); running on cpu" {
		if _, err := exec.LookPath("nvidia-smi"); err != nil {
			t.Errorf("note %q, want the libcuda.so.1 line", note)
		}
	}
	// The detail is one command away.
	stdout, _, _ := run(t, dir, env, "devices")
	if !strings.Contains(stdout, "libcuda.so.1") || !strings.Contains(stdout, "/nonexistent/a/very/long") && !strings.Contains(stdout, "LD_LIBRARY_PATH") {
		t.Errorf("devices lacks the detail: %q", stdout)
	}
}

// TestNoCUDABuild builds with the nocuda tag and CGO_ENABLED=0 and checks
// that the binary is static (no program interpreter, no shared library
// needed), holds no purego, and runs on the CPU saying it has no CUDA.
func TestNoCUDABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary again")
	}
	dir := t.TempDir()
	static := filepath.Join(dir, "mnistgpu-static")
	cmd := exec.Command("go", "build", "-tags", "nocuda", "-o", static, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nocuda: %v\n%s", err, out)
	}
	bi, err := gobuildinfo.ReadFile(static)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bi.Deps {
		if strings.Contains(d.Path, "purego") {
			t.Errorf("the nocuda binary links %s", d.Path)
		}
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(static)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the nocuda binary names a program interpreter (dynamic loader)")
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("the nocuda binary needs shared libraries %v (%v)", libs, err)
		}
	}
	out, err := exec.Command(static, "devices").Output()
	if err != nil || !strings.Contains(string(out), "built without CUDA") {
		t.Errorf("devices: %v %q", err, out)
	}
	c := exec.Command(static, "train", "mlp", "--device", "cuda", "--epochs", "1", "--subset", "10", "--data", mnistDir(t), "--out", filepath.Join(dir, "run"))
	c.Dir = dir
	b, err := c.CombinedOutput()
	if err == nil {
		t.Fatal("--device cuda succeeded in a nocuda build")
	}
	oneShortLine(t, "nocuda --device cuda", string(b), "mnistgpu: ")
	if !strings.Contains(string(b), "built without CUDA") {
		t.Errorf("nocuda --device cuda: %q", b)
	}
}
