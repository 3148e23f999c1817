package cuda

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// LibPathEnv names an environment variable of colon-separated folders that
// are searched for the CUDA libraries before every other place.
const LibPathEnv = "MNISTGPU_CUDA_LIB_PATH"

// searchSpec says where to look for a library.
type searchSpec struct {
	first  []string // folders searched first (Options.LibDirs, then LibPathEnv)
	env    bool     // LD_LIBRARY_PATH
	cache  bool     // the loader cache (/etc/ld.so.cache or ldconfig -p)
	system bool     // CUDA toolkit and system library folders
	python bool     // site-packages/nvidia/*/lib of Python environments
	plain  bool     // dlopen by soname (the loader's own search)
}

// defaultSearch searches everywhere, extra folders first.
func defaultSearch(extra []string) searchSpec {
	first := append([]string(nil), extra...)
	first = append(first, splitPath(os.Getenv(LibPathEnv))...)
	return searchSpec{first: first, env: true, cache: true, system: true, python: true, plain: true}
}

func splitPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// archDirs returns the CUDA toolkit "targets" folder names and the Debian
// multiarch folder of this architecture.
func archDirs() (targets []string, multiarch string) {
	if runtime.GOARCH == "arm64" {
		return []string{"sbsa-linux", "aarch64-linux"}, "aarch64-linux-gnu"
	}
	return []string{"x86_64-linux"}, "x86_64-linux-gnu"
}

// searchDir is a folder to look in and the description of where it came from.
type searchDir struct {
	dir, from string
}

// dirs lists the folders to search in order (existing ones only, each once)
// and the human-readable list of places for an error message.
func (s searchSpec) dirs() (out []searchDir, places []string) {
	seen := map[string]bool{}
	add := func(dir, from string) {
		dir = filepath.Clean(dir)
		if seen[dir] {
			return
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return
		}
		seen[dir] = true
		out = append(out, searchDir{dir, from})
	}
	if len(s.first) > 0 {
		places = append(places, strings.Join(s.first, ", "))
		for _, d := range s.first {
			add(d, "search path")
		}
	}
	if s.env {
		ld := os.Getenv("LD_LIBRARY_PATH")
		if ld == "" {
			places = append(places, "LD_LIBRARY_PATH (unset)")
		} else {
			places = append(places, "LD_LIBRARY_PATH")
		}
		for _, d := range splitPath(ld) {
			add(d, "LD_LIBRARY_PATH")
		}
	}
	if s.cache {
		places = append(places, "the ldconfig cache")
	}
	if s.system {
		targets, multi := archDirs()
		cudaRoots := globSortedDesc("/usr/local/cuda-*")
		cudaRoots = append([]string{"/usr/local/cuda"}, cudaRoots...)
		for _, t := range targets {
			places = append(places, "/usr/local/cuda*/targets/"+t+"/lib")
			for _, r := range cudaRoots {
				add(filepath.Join(r, "targets", t, "lib"), "CUDA toolkit")
			}
		}
		places = append(places, "/usr/local/cuda*/lib64")
		for _, r := range cudaRoots {
			add(filepath.Join(r, "lib64"), "CUDA toolkit")
		}
		sys := []string{"/usr/lib/" + multi, "/lib/" + multi, "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib"}
		places = append(places, "/usr/lib/"+multi, "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64")
		for _, d := range sys {
			add(d, "system")
		}
	}
	if s.python {
		places = append(places, "python3*/site-packages/nvidia/*/lib")
		for _, d := range pythonNvidiaDirs() {
			add(d, "python")
		}
	}
	if s.plain {
		places = append(places, "the loader's default path")
	}
	return out, places
}

// globSortedDesc globs and sorts the matches by their version numbers,
// newest first (cuda-13.0 before cuda-12.6).
func globSortedDesc(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	sort.SliceStable(m, func(i, j int) bool { return versionLess(m[j], m[i]) })
	return m
}

// versionLess compares the dotted numbers in two names.
func versionLess(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

func numbers(s string) []int {
	var out []int
	cur, in := 0, false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			cur = cur*10 + int(r-'0')
			in = true
			continue
		}
		if in {
			out = append(out, cur)
		}
		cur, in = 0, false
	}
	if in {
		out = append(out, cur)
	}
	return out
}

// pythonNvidiaDirs lists site-packages/nvidia/*/lib folders of the Python
// environments found in the usual places.
func pythonNvidiaDirs() []string {
	var bases []string
	bases = append(bases, "/usr/lib", "/usr/local/lib")
	if m, _ := filepath.Glob("/opt/*/.venv/lib"); m != nil {
		bases = append(bases, m...)
	}
	if m, _ := filepath.Glob("/opt/*/lib"); m != nil {
		bases = append(bases, m...)
	}
	if home, err := os.UserHomeDir(); err == nil {
		bases = append(bases, filepath.Join(home, ".local/lib"))
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := os.Getenv(env); v != "" {
			bases = append(bases, filepath.Join(v, "lib"))
		}
	}
	var out []string
	for _, b := range bases {
		for _, sp := range []string{"site-packages", "dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(b, "python3*", sp, "nvidia", "*", "lib"))
			out = append(out, m...)
		}
	}
	return out
}

// The loader cache, parsed once.
var ldCache struct {
	once sync.Once
	libs map[string][]string // soname → paths
	err  error
}

func cachedLibs() map[string][]string {
	ldCache.once.Do(func() {
		data, err := os.ReadFile("/etc/ld.so.cache")
		if err == nil {
			ldCache.libs, err = parseLdCache(data)
		}
		if err != nil || len(ldCache.libs) == 0 {
			ldCache.libs, ldCache.err = ldconfigP()
		}
	})
	return ldCache.libs
}

// parseLdCache reads glibc's /etc/ld.so.cache ("glibc-ld.so.cache1.1"
// format, possibly after an old "ld.so-1.7.0" table) and returns the paths
// of each soname for this architecture.
func parseLdCache(data []byte) (map[string][]string, error) {
	const magic = "glibc-ld.so.cache1.1"
	base := bytes.Index(data, []byte(magic))
	if base < 0 {
		return nil, fmt.Errorf("ld.so.cache: no %q header", magic)
	}
	if len(data) < base+48 {
		return nil, fmt.Errorf("ld.so.cache: truncated header")
	}
	le := binary.LittleEndian
	nlibs := int(le.Uint32(data[base+20:]))
	const entry = 24
	if nlibs < 0 || len(data) < base+48+nlibs*entry {
		return nil, fmt.Errorf("ld.so.cache: %d entries do not fit", nlibs)
	}
	want := uint32(0x0300) // FLAG_X8664_LIB64
	if runtime.GOARCH == "arm64" {
		want = 0x0a00 // FLAG_AARCH64_LIB64
	}
	str := func(off uint32) string {
		i := base + int(off)
		if i < 0 || i >= len(data) {
			return ""
		}
		j := bytes.IndexByte(data[i:], 0)
		if j < 0 {
			return ""
		}
		return string(data[i : i+j])
	}
	out := map[string][]string{}
	for k := 0; k < nlibs; k++ {
		e := data[base+48+k*entry:]
		flags := le.Uint32(e[0:])
		if arch := flags & 0xff00; arch != 0 && arch != want {
			continue
		}
		key, val := str(le.Uint32(e[4:])), str(le.Uint32(e[8:]))
		if key != "" && val != "" {
			out[key] = append(out[key], val)
		}
	}
	return out, nil
}

// ldconfigP runs `ldconfig -p` and parses its "soname (flags) => path" lines.
func ldconfigP() (map[string][]string, error) {
	var out []byte
	var err error
	for _, bin := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"} {
		if out, err = exec.Command(bin, "-p").Output(); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return parseLdconfigP(string(out)), nil
}

func parseLdconfigP(s string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		i := strings.Index(line, " => ")
		if i < 0 {
			continue
		}
		left, path := line[:i], strings.TrimSpace(line[i+4:])
		name := left
		if j := strings.IndexByte(left, ' '); j >= 0 {
			name = left[:j]
			flags := left[j:]
			if runtime.GOARCH == "amd64" && !strings.Contains(flags, "x86-64") {
				continue
			}
			if runtime.GOARCH == "arm64" && !strings.Contains(flags, "AArch64") && strings.Contains(flags, ",") {
				continue
			}
		}
		m[name] = append(m[name], path)
	}
	return m
}

// libSpec describes one of the libraries the device needs.
type libSpec struct {
	title   string   // "CUDA driver"
	sonames []string // in order of preference
	// preload lists files in dir to load (RTLD_GLOBAL) before soname.
	preload func(dir, soname string) []string
}

var (
	specDriver = libSpec{title: "CUDA driver", sonames: []string{"libcuda.so.1"}}
	specCublas = libSpec{title: "cuBLAS", sonames: []string{"libcublas.so.13", "libcublas.so.12"},
		preload: func(dir, soname string) []string {
			return []string{filepath.Join(dir, strings.Replace(soname, "libcublas.", "libcublasLt.", 1))}
		}}
	specCudnn = libSpec{title: "cuDNN", sonames: []string{"libcudnn.so.9"},
		preload: func(dir, soname string) []string {
			// cuDNN 9 dlopens its sub-libraries by soname; when their folder is not
			// on the loader's path they must already be loaded. Order: graph first,
			// then what depends on it.
			var out []string
			for _, s := range []string{"graph", "engines_precompiled", "engines_runtime_compiled", "heuristic", "ops", "cnn", "adv"} {
				out = append(out, filepath.Join(dir, "libcudnn_"+s+".so.9"))
			}
			return out
		}}
	specNvrtc = libSpec{title: "NVRTC", sonames: []string{"libnvrtc.so.13", "libnvrtc.so.12"},
		preload: func(dir, soname string) []string {
			major := strings.TrimPrefix(soname, "libnvrtc.so.")
			m, _ := filepath.Glob(filepath.Join(dir, "libnvrtc-builtins.so."+major+"*"))
			sort.Strings(m)
			return m
		}}
)

// findLib searches for the library of spec and opens it.
func findLib(s searchSpec, spec libSpec) (*dynlib, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("%s: CUDA is not available on %s/%s", spec.sonames[0], runtime.GOOS, runtime.GOARCH)
	}
	dirs, places := s.dirs()
	var cache map[string][]string
	if s.cache {
		cache = cachedLibs()
	}
	var tried []string
	for _, soname := range spec.sonames {
		var cands []string
		seen := map[string]bool{}
		addCand := func(p string) {
			if seen[p] {
				return
			}
			if _, err := os.Stat(p); err != nil {
				return
			}
			seen[p] = true
			cands = append(cands, p)
		}
		// Explicit folders and LD_LIBRARY_PATH come first, then the loader
		// cache, then the toolkit, system and Python folders.
		split := 0
		for i, d := range dirs {
			if d.from == "search path" || d.from == "LD_LIBRARY_PATH" {
				split = i + 1
			}
		}
		for _, d := range dirs[:split] {
			addCand(filepath.Join(d.dir, soname))
		}
		for _, p := range cache[soname] {
			addCand(p)
		}
		for _, d := range dirs[split:] {
			addCand(filepath.Join(d.dir, soname))
		}
		for _, p := range cands {
			l := &dynlib{name: soname}
			if spec.preload != nil {
				for _, dep := range spec.preload(filepath.Dir(p), soname) {
					if _, err := os.Stat(dep); err != nil {
						continue
					}
					if _, err := dlopen(dep, rtldLazyGlobal); err != nil {
						l.notes = append(l.notes, filepath.Base(dep)+": "+err.Error())
						continue
					}
					l.deps = append(l.deps, filepath.Base(dep))
				}
			}
			h, err := dlopen(p, rtldNowGlobal)
			if err != nil {
				tried = append(tried, p+": "+err.Error())
				continue
			}
			l.path, l.handle = p, h
			return l, nil
		}
		if s.plain {
			h, err := dlopen(soname, rtldNowGlobal)
			if err == nil {
				p := loadedPath(soname)
				if p == "" {
					p = soname + " (loader default path)"
				}
				return &dynlib{name: soname, path: p, handle: h}, nil
			}
			if !strings.Contains(err.Error(), "No such file") {
				tried = append(tried, "dlopen "+soname+": "+err.Error())
			}
		}
	}
	return nil, &LoadError{Sonames: spec.sonames, Places: places, Tried: tried}
}

// LoadError says that a CUDA library was not found, or found and not
// loaded. Error names every place searched and every file tried (what
// `mnistgpu devices` shows); Short is the one-line summary for an error
// message or a note.
type LoadError struct {
	Sonames []string // the names looked for, in order of preference
	Places  []string // where, as a person would describe them
	Tried   []string // files found that did not load, each with the loader's error
}

// Error is the full account: where the library was looked for and why
// each file found did not load.
func (e *LoadError) Error() string {
	msg := fmt.Sprintf("%s: not found in %s", strings.Join(e.Sonames, " or "), strings.Join(e.Places, ", "))
	if len(e.Places) == 0 {
		msg = fmt.Sprintf("%s: not found (empty search path)", strings.Join(e.Sonames, " or "))
	}
	if len(e.Tried) > 0 {
		msg += "; tried " + strings.Join(e.Tried, "; ")
	}
	return msg
}

// Short is e in a few words: "libcuda.so.1 not found", or "libcuda.so.1
// found but did not load" when files were found and failed.
func (e *LoadError) Short() string {
	name := strings.Join(e.Sonames, " or ")
	if len(e.Tried) > 0 {
		return name + " found but did not load"
	}
	return name + " not found"
}

// briefMax is the longest Brief returns.
const briefMax = 100

// Brief is a one-line summary of an error from Open or of Probe's
// Problem, for messages that point to `mnistgpu devices` for the detail:
// a library that did not load becomes its LoadError's Short, the "cuda: "
// prefix is dropped, and what remains is cut to about 100 characters at a
// word boundary.
func Brief(err error) string {
	if err == nil {
		return ""
	}
	var le *LoadError
	if errors.As(err, &le) {
		return le.Short()
	}
	s := strings.TrimPrefix(strings.Join(strings.Fields(err.Error()), " "), "cuda: ")
	if len(s) <= briefMax {
		return s
	}
	cut := strings.LastIndexByte(s[:briefMax], ' ')
	if cut < briefMax/2 { // no space near the end: cut at a character boundary
		for cut = briefMax; !utf8.RuneStart(s[cut]); cut-- {
		}
	}
	return strings.TrimRight(s[:cut], " ,;:") + " …"
}

// The libraries, loaded once per process (dlopen state is process-wide).
var libs struct {
	sync.Mutex
	cu   *driverAPI
	blas *blasAPI
	dnn  *dnnAPI
	rtc  *rtcAPI
}

// loadOnce returns *cached, or finds spec's library, binds it and caches
// the result.
func loadOnce[T any](cached **T, s searchSpec, spec libSpec, bind func(*dynlib) (*T, error)) (*T, error) {
	libs.Lock()
	defer libs.Unlock()
	if *cached != nil {
		return *cached, nil
	}
	l, err := findLib(s, spec)
	if err != nil {
		return nil, err
	}
	api, err := bind(l)
	if err != nil {
		return nil, err
	}
	*cached = api
	return api, nil
}

func loadDriver(s searchSpec) (*driverAPI, error) {
	return loadOnce(&libs.cu, s, specDriver, bindDriver)
}

func loadCublas(s searchSpec) (*blasAPI, error) {
	return loadOnce(&libs.blas, s, specCublas, bindCublas)
}

func loadCudnn(s searchSpec) (*dnnAPI, error) {
	return loadOnce(&libs.dnn, s, specCudnn, bindCudnn)
}

func loadNvrtc(s searchSpec) (*rtcAPI, error) {
	return loadOnce(&libs.rtc, s, specNvrtc, bindNvrtc)
}

// Library is what Probe found of one library.
type Library struct {
	Name    string   // "CUDA driver", "cuBLAS", "cuDNN", "NVRTC"
	Path    string   // the file loaded; "" when it was not found
	Version string   // e.g. "13.0", "13.1.0", "9.14.0"
	Deps    []string // files preloaded from the same folder
	Err     string   // why it is not usable; "" when it is
}

// GPU describes one visible device.
type GPU struct {
	Index        int
	Name         string
	TotalMem     uint64 // bytes
	Major, Minor int    // compute capability
	SMs          int
}

// Arch is the GPU's architecture name, e.g. "sm_90".
func (g GPU) Arch() string { return fmt.Sprintf("sm_%d%d", g.Major, g.Minor) }

// Report is what Probe found: the libraries, the driver and the GPUs, or
// exactly which file or call failed.
type Report struct {
	GOOS, GOARCH string
	// VisibleDevices is CUDA_VISIBLE_DEVICES (the driver applies it);
	// VisibleSet says whether it was set at all.
	VisibleDevices string
	VisibleSet     bool
	Libraries      []Library
	DriverVersion  int // e.g. 13000 for CUDA 13.0
	GPUs           []GPU
	// Problem is the first reason the GPU path is not available ("" when
	// it is), e.g. "cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is
	// detected".
	Problem string
}

// OK says whether the GPU path is available: every library loaded and at
// least one GPU visible.
func (r Report) OK() bool { return r.Problem == "" }

// Probe looks for the CUDA libraries and GPUs and reports what it found. It
// never panics and needs no GPU.
func Probe() Report { return probe(defaultSearch(nil)) }

func probe(s searchSpec) Report {
	r := Report{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	r.VisibleDevices, r.VisibleSet = os.LookupEnv("CUDA_VISIBLE_DEVICES")
	problem := func(msg string) {
		if r.Problem == "" {
			r.Problem = msg
		}
	}
	if runtime.GOOS != "linux" {
		problem(fmt.Sprintf("CUDA is not available on %s/%s: the GPU path needs Linux with an NVIDIA driver", runtime.GOOS, runtime.GOARCH))
		return r
	}
	// lib records one library; dl and version are called only when it loaded.
	lib := func(name string, err error, dl func() *dynlib, version func() string) {
		e := Library{Name: name}
		if err != nil {
			e.Err = err.Error()
			problem(e.Err)
		} else {
			l := dl()
			e.Path, e.Deps = l.path, l.deps
			e.Version = version()
			if len(l.notes) > 0 {
				e.Deps = append(e.Deps, "(not loaded: "+strings.Join(l.notes, "; ")+")")
			}
		}
		r.Libraries = append(r.Libraries, e)
	}

	cu, err := loadDriver(s)
	lib("CUDA driver", err, func() *dynlib { return cu.lib }, func() string {
		var v int32
		if st := cu.cuDriverGetVersion(&v); st != 0 {
			return "? (" + cu.errText("cuDriverGetVersion", st) + ")"
		}
		r.DriverVersion = int(v)
		return versionString(int(v), 1000)
	})
	rtc, err := loadNvrtc(s)
	lib("NVRTC", err, func() *dynlib { return rtc.lib }, func() string { return rtc.version() })
	blas, err := loadCublas(s)
	lib("cuBLAS", err, func() *dynlib { return blas.lib }, func() string { return blas.version() })
	dnn, err := loadCudnn(s)
	lib("cuDNN", err, func() *dynlib { return dnn.lib }, func() string { return dnn.version() })

	if cu == nil {
		return r
	}
	gpus, err := cu.listGPUs()
	if err != nil {
		msg := err.Error()
		if r.VisibleSet {
			msg += fmt.Sprintf(" (CUDA_VISIBLE_DEVICES=%q)", r.VisibleDevices)
		}
		problem(msg)
		// The driver's failure is the root cause: say it first.
		r.Problem = msg
		return r
	}
	r.GPUs = gpus
	if len(gpus) == 0 {
		problem("cuDeviceGetCount: no CUDA device is visible")
	}
	return r
}

// String is what `mnistgpu devices` prints.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CUDA on %s/%s\n", r.GOOS, r.GOARCH)
	if r.VisibleSet {
		fmt.Fprintf(&b, "  CUDA_VISIBLE_DEVICES=%q\n", r.VisibleDevices)
	} else {
		fmt.Fprintf(&b, "  CUDA_VISIBLE_DEVICES unset (all GPUs visible)\n")
	}
	if len(r.Libraries) > 0 {
		fmt.Fprintf(&b, "  libraries:\n")
		for _, l := range r.Libraries {
			if l.Err != "" {
				fmt.Fprintf(&b, "    %-12s NOT LOADED: %s\n", l.Name, l.Err)
				continue
			}
			fmt.Fprintf(&b, "    %-12s %-8s %s", l.Name, l.Version, l.Path)
			if len(l.Deps) > 0 {
				fmt.Fprintf(&b, " (with %s)", strings.Join(l.Deps, ", "))
			}
			b.WriteString("\n")
		}
	}
	if len(r.GPUs) > 0 {
		fmt.Fprintf(&b, "  GPUs:\n")
		for _, g := range r.GPUs {
			fmt.Fprintf(&b, "    cuda:%d  %s  %s  %d SMs  %.1f GiB\n", g.Index, g.Name, g.Arch(), g.SMs, float64(g.TotalMem)/(1<<30))
		}
	}
	if r.OK() {
		fmt.Fprintf(&b, "  status: ready (--device cuda and --device auto use cuda:0)\n")
	} else {
		fmt.Fprintf(&b, "  status: GPU path not available: %s\n", r.Problem)
		fmt.Fprintf(&b, "  (--device auto falls back to the CPU; %s adds folders to search)\n", LibPathEnv)
	}
	return b.String()
}

// versionString formats NVIDIA's major*1000+minor*10 or
// major*10000+minor*100+patch encodings.
func versionString(v int, base int) string {
	switch base {
	case 1000:
		return strconv.Itoa(v/1000) + "." + strconv.Itoa((v%1000)/10)
	default:
		return fmt.Sprintf("%d.%d.%d", v/10000, (v%10000)/100, v%100)
	}
}
