package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersion checks `mnistgpu --version` and that a run's config.json
// records the same build.
func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		stdout, stderr, code := run(t, t.TempDir(), nil, flag)
		line := strings.TrimSpace(stdout)
		if code != 0 || !strings.HasPrefix(line, "mnistgpu ") || strings.Contains(line, "\n") ||
			!strings.Contains(line, runtime.Version()) || !strings.Contains(line, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", flag, code, stdout, stderr)
		}
	}
	data := mnistDir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	stdout, stderr, code := run(t, dir, nil, "train", "mlp", "--epochs", "1", "--subset", "100", "--no-figures",
		"--device", "cpu", "--data", data, "--out", out)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	// --subset cuts the training images left after validation is held
	// out; validation stays 10 % of the full training set (README.md).
	if !strings.Contains(stdout, "100 train, 6000 validation, 10000 test images") {
		t.Errorf("train --subset 100: %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Build struct {
			Version, Go, Platform string
		} `json:"build"`
		Libraries map[string]string `json:"libraries"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Build.Version == "" || cfg.Build.Go != runtime.Version() || cfg.Build.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("config.json build = %+v", cfg.Build)
	}
	if cfg.Libraries != nil {
		t.Errorf("a CPU run records libraries %v", cfg.Libraries)
	}
}
