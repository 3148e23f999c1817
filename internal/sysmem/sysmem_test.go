package sysmem

import (
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
)

const meminfoText = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n"

func TestLinuxLimits(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name   string
		fs     fstest.MapFS
		bytes  uint64
		source string
	}{
		{"meminfo only", fstest.MapFS{"proc/meminfo": file(meminfoText)}, 8000000 * 1024, "MemAvailable"},
		{"cgroup v2 unlimited", fstest.MapFS{"proc/meminfo": file(meminfoText), "sys/fs/cgroup/memory.max": file("max\n")}, 8000000 * 1024, "MemAvailable"},
		{"cgroup v2 root", fstest.MapFS{"proc/meminfo": file(meminfoText), "sys/fs/cgroup/memory.max": file("2147483648\n"),
			"sys/fs/cgroup/memory.current": file("1073741824\n")}, 1 << 30, "memory.max"},
		{"cgroup v2 own group", fstest.MapFS{"proc/meminfo": file(meminfoText), "proc/self/cgroup": file("0::/slurm/job1\n"),
			"sys/fs/cgroup/slurm/job1/memory.max": file("1000"), "sys/fs/cgroup/slurm/job1/memory.current": file("400"),
			"sys/fs/cgroup/memory.max": file("max")}, 600, "memory.max"},
		{"cgroup v1", fstest.MapFS{"proc/meminfo": file(meminfoText), "sys/fs/cgroup/memory/memory.limit_in_bytes": file("3000\n"),
			"sys/fs/cgroup/memory/memory.usage_in_bytes": file("1000\n")}, 2000, "v1"},
		{"cgroup v1 unlimited", fstest.MapFS{"proc/meminfo": file(meminfoText),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n")}, 8000000 * 1024, "MemAvailable"},
		{"over the limit", fstest.MapFS{"sys/fs/cgroup/memory.max": file("100"), "sys/fs/cgroup/memory.current": file("150")}, 0, "memory.max"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, ok := tightest(linuxLimits(c.fs)...)
			if !ok || l.Bytes != c.bytes || !strings.Contains(l.Source, c.source) {
				t.Fatalf("got %+v %v, want %d from %s", l, ok, c.bytes, c.source)
			}
		})
	}
	if _, ok := tightest(linuxLimits(fstest.MapFS{})...); ok {
		t.Fatal("an empty system has no limit")
	}
}

func TestGoLimit(t *testing.T) {
	old := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(old)
	l := goLimit()
	if l.Source == "" || l.Bytes == 0 || l.Bytes > 1<<40 {
		t.Fatalf("with a 1 TiB Go limit: %+v", l)
	}
	debug.SetMemoryLimit(1 << 62)
	big := goLimit()
	debug.SetMemoryLimit(1 << 20) // less than the runtime already holds
	if l := goLimit(); l.Bytes != 0 || big.Bytes <= 1<<40 {
		t.Fatalf("room %+v under a 1 MiB limit, %+v under 4 EiB", l, big)
	}
}
