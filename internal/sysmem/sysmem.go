// Package sysmem says how much memory the process may still use on the
// host: the smallest of /proc/meminfo's MemAvailable, the free room under
// the cgroup's memory limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes, as containers, Slurm and Kubernetes jobs set) and
// the free room under the Go runtime's memory limit when one is set
// (debug.SetMemoryLimit or GOMEMLIMIT). On systems other than Linux only
// the Go limit is known.
package sysmem

import (
	"bufio"
	"bytes"
	"io/fs"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Limit is a bound on the memory the process may still take.
type Limit struct {
	// Bytes that may still be allocated.
	Bytes uint64
	// Source names the bound, e.g. "MemAvailable in /proc/meminfo".
	Source string
}

// Available returns the tightest bound known on this system; ok is false
// when none is.
func Available() (Limit, bool) {
	return tightest(append(hostLimits(), goLimit())...)
}

// tightest is the smallest of the known limits.
func tightest(ls ...Limit) (Limit, bool) {
	var best Limit
	ok := false
	for _, l := range ls {
		if l.Source == "" {
			continue
		}
		if !ok || l.Bytes < best.Bytes {
			best, ok = l, true
		}
	}
	return best, ok
}

// unlimited is the value from which a cgroup limit means "no limit"
// (v1 writes 9223372036854771712, v2 writes "max").
const unlimited = 1 << 60

// linuxLimits reads the limits of a Linux system whose root is fsys
// (os.DirFS("/") for the real one, a fstest.MapFS in tests).
func linuxLimits(fsys fs.FS) []Limit {
	var out []Limit
	if b, err := fs.ReadFile(fsys, "proc/meminfo"); err == nil {
		if kb, ok := meminfo(b, "MemAvailable"); ok {
			out = append(out, Limit{kb * 1024, "MemAvailable in /proc/meminfo"})
		}
	}
	// cgroup v2: the process's group from /proc/self/cgroup ("0::/path"),
	// else the namespace root that containers see.
	dirs := []string{"sys/fs/cgroup"}
	if b, err := fs.ReadFile(fsys, "proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::/"); ok && strings.TrimSpace(p) != "" {
				dirs = append([]string{"sys/fs/cgroup/" + strings.TrimSpace(p)}, dirs...)
			}
		}
	}
	for _, d := range dirs {
		if l, ok := cgroupRoom(fsys, d+"/memory.max", d+"/memory.current", "cgroup memory.max"); ok {
			out = append(out, l)
			break
		}
	}
	if l, ok := cgroupRoom(fsys, "sys/fs/cgroup/memory/memory.limit_in_bytes", "sys/fs/cgroup/memory/memory.usage_in_bytes", "cgroup v1 memory.limit_in_bytes"); ok {
		out = append(out, l)
	}
	return out
}

// cgroupRoom is a cgroup's limit less its usage, when a limit is set.
func cgroupRoom(fsys fs.FS, limitFile, usageFile, source string) (Limit, bool) {
	b, err := fs.ReadFile(fsys, limitFile)
	if err != nil {
		return Limit{}, false
	}
	s := strings.TrimSpace(string(b))
	limit, err := strconv.ParseUint(s, 10, 64)
	if s == "max" || err != nil || limit >= unlimited {
		return Limit{}, false
	}
	var used uint64
	if b, err := fs.ReadFile(fsys, usageFile); err == nil {
		used, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	room := uint64(0)
	if limit > used {
		room = limit - used
	}
	return Limit{room, source}, true
}

// meminfo returns the value of key in /proc/meminfo, in kB.
func meminfo(b []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// goLimit is the room under the Go runtime's memory limit, if one is set.
func goLimit() Limit {
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit == math.MaxInt64 {
		return Limit{}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	var used uint64
	if s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 {
		used = s[0].Value.Uint64() - s[1].Value.Uint64()
	}
	room := uint64(0)
	if uint64(limit) > used {
		room = uint64(limit) - used
	}
	return Limit{room, "the Go memory limit (GOMEMLIMIT)"}
}
