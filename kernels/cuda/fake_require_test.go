package cuda

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFakeGPURequired checks that TestFakeGPU fails, not skips, when g++ is
// missing and the environment requires the fake-GPU run: it re-runs
// TestFakeGPU with an empty PATH (so there is no g++) and
// MNISTGPU_REQUIRE_FAKE_GPU=1, and expects a failure that names g++.
func TestFakeGPURequired(t *testing.T) {
	if os.Getenv("MNISTGPU_FAKE_GPU") != "" || testing.Short() {
		t.Skip("inside the fake-GPU run, or -short")
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestFakeGPU$", "-test.count=1", "-test.v")
	cmd.Env = []string{"PATH=" + t.TempDir(), "MNISTGPU_REQUIRE_FAKE_GPU=1", "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL: TestFakeGPU") || !strings.Contains(string(out), "g++") {
		t.Fatalf("want TestFakeGPU to fail without g++ when required; got %v:\n%s", err, out)
	}
	cmd = exec.Command(os.Args[0], "-test.run", "^TestFakeGPU$", "-test.count=1", "-test.v")
	cmd.Env = []string{"PATH=" + t.TempDir(), "HOME=" + os.Getenv("HOME")}
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- SKIP: TestFakeGPU") {
		t.Fatalf("want TestFakeGPU to skip without g++ when not required; got %v:\n%s", err, out)
	}
}
