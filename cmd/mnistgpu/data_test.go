package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataMirror installs MNIST with `data --mirror URL DIR` from a local
// server, with no go tool on PATH. It needs the real files, so it skips
// when the GoMNIST module is not in the module cache.
func TestDataMirror(t *testing.T) {
	src := mnistDir(t)
	ts := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer ts.Close()
	dst := filepath.Join(t.TempDir(), "mnist")
	for _, args := range [][]string{{"data", "--mirror", ts.URL + "/", dst}, {"data", "--verify", dst}} {
		stdout, stderr, code := run(t, t.TempDir(), []string{"PATH=/nonexistent"}, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if args[1] == "--verify" && strings.Count(stdout, " good ") != 4 {
			t.Errorf("%v: want four good files, got %q", args, stdout)
		}
	}
}

// TestDataBadSource checks that a corrupt file or an unreachable mirror
// fails with one line and leaves no file under its final name.
func TestDataBadSource(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("not MNIST at all"))
	}))
	defer ts.Close()
	tests := []struct{ name, mirror, want string }{
		{"corrupt", ts.URL + "/mnist/", "train-images-idx3-ubyte.gz: refused: sha256"},
		// Port 1 on the loopback interface refuses connections.
		{"unreachable", "http://127.0.0.1:1/", "cannot reach 127.0.0.1:1 (offline?): put the four MNIST .gz files from http://127.0.0.1:1/ in "},
		{"not a URL", "mirror.example/mnist", "--mirror mirror.example/mnist: want an http:// or https:// folder URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "mnist")
			_, stderr, code := run(t, t.TempDir(), []string{"PATH=/nonexistent"}, "data", "--mirror", tt.mirror, dst)
			if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "goroutine") {
				t.Fatalf("exit %d, stderr %q: want one line with %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dst, "train-images-idx3-ubyte.gz")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("train-images-idx3-ubyte.gz exists after a failed download: %v", err)
			}
		})
	}
}
