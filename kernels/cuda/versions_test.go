package cuda_test

import (
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"mnistgpu/dataset"
	"mnistgpu/model"
	"mnistgpu/study/runs"
)

// TestGPUVersions checks that the device names the driver's and every
// library's version as dotted numbers (on the fake libraries too).
func TestGPUVersions(t *testing.T) {
	v := gpu(t).Versions()
	num := regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)
	for _, k := range []string{"cuda_driver", "nvrtc", "cublas", "cudnn"} {
		if !num.MatchString(v[k]) {
			t.Errorf("Versions()[%q] = %q, want a dotted version", k, v[k])
		}
	}
	if len(v) != 4 {
		t.Errorf("Versions() = %v, want 4 entries", v)
	}
}

// TestGPURunRecordsVersions trains a tiny MLP on the GPU and checks that
// the run's config.json records the build and the GPU's library versions.
func TestGPURunRecordsVersions(t *testing.T) {
	d := gpu(t)
	set := func(n, from int) *dataset.Set {
		s := &dataset.Set{Images: &dataset.Images{N: n, Rows: 28, Cols: 28, Pixels: make([]uint8, n*784)},
			Labels: make([]uint8, n), Index: make([]int32, n)}
		for i := range n {
			s.Labels[i] = uint8(i % 10)
			s.Index[i] = int32(from + i)
			for p := range 784 {
				s.Images.Pixels[i*784+p] = uint8((p*7 + i*31) % 256)
			}
		}
		return s
	}
	arch, err := model.DefaultArch(model.TaskMLP)
	if err != nil {
		t.Fatal(err)
	}
	tc := model.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 1, 16
	cfg := runs.Config{Arch: arch, Train: tc, Device: "cuda", TSNEPoints: 10, TSNELayer: "logits"}
	data := &runs.Data{Dir: "synthetic", Train: set(32, 0), Val: set(16, 32), Test: set(16, 48)}
	dir := t.TempDir()
	if _, err := runs.Train(cfg, d, data, dir, runs.Logger{Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Build struct {
			Go string `json:"go"`
		} `json:"build"`
		Libraries map[string]string `json:"libraries"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := d.Versions(); !maps.Equal(got.Libraries, want) {
		t.Errorf("config.json libraries %v, want %v", got.Libraries, want)
	}
	if got.Build.Go != runtime.Version() {
		t.Errorf("config.json build.go %q, want %q", got.Build.Go, runtime.Version())
	}
}
