package runs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistgpu/dataset"
	"mnistgpu/internal/sysmem"
	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
)

// gpuLike is a CPU device that reports its own free memory, as the GPU does.
type gpuLike struct {
	kernels.Device
	free uint64
}

func (g gpuLike) MemInfo() (uint64, uint64, error) { return g.free, 2 * g.free, nil }

func TestCheckMemory(t *testing.T) {
	set := func(n int) *dataset.Set {
		return &dataset.Set{Images: &dataset.Images{N: n, Rows: 28, Cols: 28, Pixels: make([]uint8, n*784)}, Labels: make([]uint8, n)}
	}
	data := &Data{Train: set(1000), Val: set(100), Test: set(100)}
	old := hostRoom
	defer func() { hostRoom = old }()
	hostRoom = func() (sysmem.Limit, bool) { return sysmem.Limit{Bytes: 21e9, Source: "cgroup memory.max"}, true }
	mlp, _ := model.DefaultArch(model.TaskMLP)
	big := mlp
	big.Hidden = []int{100_000_000}
	cnn, _ := model.DefaultArch(model.TaskCNN)
	cnn.Channels = []int{4096, 4096}
	cases := []struct {
		name  string
		arch  model.Arch
		batch int
		dev   kernels.Device
		want  string
	}{
		{"default fits", mlp, 64, cpu.New(1), ""},
		{"hidden too wide", big, 64, cpu.New(1), "needs 1.1 TB, 21 GB available (cgroup memory.max): lower --hidden or --batch-size"},
		{"cnn batch too large", cnn, 1000, cpu.New(1), "lower --channels or --batch-size"},
		{"gpu full", mlp, 64, gpuLike{cpu.New(1), 1 << 20}, "of GPU memory, 1.0 MB free on cpu"},
		{"gpu room, host room", mlp, 64, gpuLike{cpu.New(1), 1 << 40}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Arch: c.arch, Train: model.DefaultTrainConfig()}
			err := CheckMemory(cfg, c.dev, data, c.batch)
			if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// Run refuses before making the folder.
	dir := filepath.Join(t.TempDir(), "run")
	cfg := Config{Arch: big, Train: model.DefaultTrainConfig()}
	if _, err := Run(cfg, cpu.New(1), data, dir, Options{}); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a run refused for memory left a folder")
	}
}

func TestBytesText(t *testing.T) {
	for in, want := range map[float64]string{312e9: "312 GB", 21.4e9: "21 GB", 1.53e9: "1.5 GB", 999: "999 B", 80e6: "80 MB"} {
		if got := bytesText(in); got != want {
			t.Errorf("bytesText(%g) = %q, want %q", in, got, want)
		}
	}
}
