package cuda

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// These tests need no GPU.

func TestFindLibEmptySearchPath(t *testing.T) {
	dir := t.TempDir()
	_, err := findLib(searchSpec{first: []string{dir}}, specDriver)
	if runtime.GOOS != "linux" {
		if err == nil || !strings.Contains(err.Error(), "not available") {
			t.Fatalf("err = %v, want CUDA not available on %s", err, runtime.GOOS)
		}
		return
	}
	if err == nil {
		t.Fatal("found libcuda.so.1 in an empty folder")
	}
	msg := err.Error()
	for _, want := range []string{"libcuda.so.1", "not found", dir} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	_, err = findLib(searchSpec{}, specCublas)
	if err == nil || !strings.Contains(err.Error(), "libcublas.so.13 or libcublas.so.12") {
		t.Errorf("cuBLAS with no search path: %v", err)
	}
}

func TestFindLibReportsUnloadableFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(bad, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := findLib(searchSpec{first: []string{dir}}, specDriver)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want it to name %s and why it did not load", err, bad)
	}
}

func TestSearchPlacesDescribed(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "")
	_, places := defaultSearch(nil).dirs()
	text := strings.Join(places, ", ")
	for _, want := range []string{"LD_LIBRARY_PATH", "ldconfig cache", "/usr/local/cuda*/", "lib64", "site-packages/nvidia/*/lib", "loader's default path"} {
		if !strings.Contains(text, want) {
			t.Errorf("search places %q lack %q", text, want)
		}
	}
}

func TestProbeWithoutGPUDoesNotPanic(t *testing.T) {
	r := Probe()
	s := r.String()
	t.Logf("Probe:\n%s", s)
	if !strings.Contains(s, "CUDA on "+runtime.GOOS) {
		t.Errorf("report lacks its header:\n%s", s)
	}
	if r.OK() {
		if len(r.GPUs) == 0 {
			t.Error("OK report without GPUs")
		}
		return
	}
	if r.Problem == "" || !strings.Contains(s, r.Problem) {
		t.Errorf("failed report does not say why:\n%s", s)
	}
	if runtime.GOOS == "linux" && len(r.Libraries) > 0 && r.Libraries[0].Err != "" {
		if !strings.Contains(r.Libraries[0].Err, "libcuda.so.1") {
			t.Errorf("driver error %q does not name libcuda.so.1", r.Libraries[0].Err)
		}
	}
	// Open fails with the same kind of one-line reason.
	if _, err := Open(0, Options{}); err == nil {
		t.Error("Open succeeded although Probe found no usable GPU")
	} else if strings.Contains(err.Error(), "\n") {
		t.Errorf("Open's error is not one line: %q", err)
	}
}

func TestProbeOnDarwinSaysSo(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("checks the non-Linux path")
	}
	r := Probe()
	if r.OK() || !strings.Contains(r.Problem, "not available") {
		t.Errorf("Probe on %s: %+v", runtime.GOOS, r)
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Func: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY", Msg: "out of memory", Detail: "asked for 4.0 MiB"}
	if got, want := e.Error(), "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory): asked for 4.0 MiB"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &Error{Func: "cublasSgemm_v2", Code: 99}
	if got := e.Error(); got != "cublasSgemm_v2: status 99" {
		t.Errorf("Error() = %q", got)
	}
}

func TestStatusTables(t *testing.T) {
	cases := []struct {
		table map[int]string
		code  int
		want  string
	}{
		{cuResultNames, 100, "CUDA_ERROR_NO_DEVICE"},
		{cuResultNames, 2, "CUDA_ERROR_OUT_OF_MEMORY"},
		{cuResultNames, 700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
		{cuResultNames, 209, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
		{cublasStatusNames, 7, "CUBLAS_STATUS_INVALID_VALUE"},
		{cublasStatusNames, 13, "CUBLAS_STATUS_EXECUTION_FAILED"},
		{cublasStatusNames, 3, "CUBLAS_STATUS_ALLOC_FAILED"},
		{cudnnStatusNames, 2000, "CUDNN_STATUS_BAD_PARAM"},
		{cudnnStatusNames, 3000, "CUDNN_STATUS_NOT_SUPPORTED"},
		{cudnnStatusNames, 1008, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED"},
		{nvrtcResultNames, 6, "NVRTC_ERROR_COMPILATION"},
		{nvrtcResultNames, 5, "NVRTC_ERROR_INVALID_OPTION"},
	}
	for _, c := range cases {
		if got := statusName(c.table, "X", c.code); got != c.want {
			t.Errorf("statusName(%d) = %q, want %q", c.code, got, c.want)
		}
	}
	if got := statusName(cublasStatusNames, "CUBLAS_STATUS", 42); got != "CUBLAS_STATUS_42" {
		t.Errorf("unknown code: %q", got)
	}
	for code, name := range cuResultNames {
		if code != 0 && !strings.HasPrefix(name, "CUDA_ERROR_") {
			t.Errorf("cuResultNames[%d] = %q", code, name)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	if !versionLess("/usr/local/cuda-12.6", "/usr/local/cuda-13.0") || versionLess("/usr/local/cuda-13.0", "/usr/local/cuda-12.10") {
		t.Error("versionLess")
	}
	if got := versionString(91400, 10000); got != "9.14.0" {
		t.Errorf("cuDNN version %q", got)
	}
	if got := versionString(13000, 1000); got != "13.0" {
		t.Errorf("driver version %q", got)
	}
}

// ldCacheBytes builds a glibc-ld.so.cache1.1 file with the given entries.
func ldCacheBytes(entries [][2]string, flags uint32) []byte {
	var strs bytes.Buffer
	hdr := 48 + 24*len(entries)
	type off struct{ k, v uint32 }
	var offs []off
	for _, e := range entries {
		k := uint32(hdr + strs.Len())
		strs.WriteString(e[0] + "\x00")
		v := uint32(hdr + strs.Len())
		strs.WriteString(e[1] + "\x00")
		offs = append(offs, off{k, v})
	}
	var b bytes.Buffer
	b.WriteString("glibc-ld.so.cache1.1")
	le := binary.LittleEndian
	var u [4]byte
	le.PutUint32(u[:], uint32(len(entries)))
	b.Write(u[:])
	le.PutUint32(u[:], uint32(strs.Len()))
	b.Write(u[:])
	b.Write(make([]byte, 48-b.Len()))
	for _, o := range offs {
		var e [24]byte
		le.PutUint32(e[0:], flags)
		le.PutUint32(e[4:], o.k)
		le.PutUint32(e[8:], o.v)
		b.Write(e[:])
	}
	b.Write(strs.Bytes())
	return b.Bytes()
}

func TestParseLdCache(t *testing.T) {
	flags := uint32(0x0303)
	if runtime.GOARCH == "arm64" {
		flags = 0x0a03
	}
	data := ldCacheBytes([][2]string{
		{"libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"},
		{"libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn.so.9"},
	}, flags)
	m, err := parseLdCache(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := m["libcuda.so.1"]; len(got) != 1 || got[0] != "/usr/lib/x86_64-linux-gnu/libcuda.so.1" {
		t.Errorf("libcuda.so.1 → %v", got)
	}
	// Another architecture's entries are skipped.
	other := ldCacheBytes([][2]string{{"libcuda.so.1", "/x/libcuda.so.1"}}, 0x0b03)
	if m, _ := parseLdCache(other); len(m) != 0 {
		t.Errorf("foreign-architecture entries kept: %v", m)
	}
	if _, err := parseLdCache([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
	// The real cache, when there is one, names libc.
	if real, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		m, err := parseLdCache(real)
		if err != nil {
			t.Fatalf("/etc/ld.so.cache: %v", err)
		}
		if len(m["libc.so.6"]) == 0 {
			t.Errorf("/etc/ld.so.cache: no libc.so.6 among %d sonames", len(m))
		}
	}
}

func TestParseLdconfigP(t *testing.T) {
	out := "3 libs found in cache `/etc/ld.so.cache'\n" +
		"\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n" +
		"\tlibcuda.so.1 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libcuda.so.1\n" +
		"\tlibnvrtc.so.13 (libc6,x86-64) => /usr/local/cuda/lib64/libnvrtc.so.13\n"
	m := parseLdconfigP(out)
	want := "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
	if runtime.GOARCH == "arm64" {
		want = "/usr/lib/aarch64-linux-gnu/libcuda.so.1"
	}
	if got := m["libcuda.so.1"]; len(got) != 1 || got[0] != want {
		t.Errorf("libcuda.so.1 → %v, want [%s]", got, want)
	}
}

func TestBrief(t *testing.T) {
	long := strings.Repeat("word ", 40)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"not found", &LoadError{Sonames: []string{"libcuda.so.1"}, Places: []string{"LD_LIBRARY_PATH", "the ldconfig cache"}},
			"libcuda.so.1 not found"},
		{"wrapped, two names", fmt.Errorf("cuda: %w", &LoadError{Sonames: []string{"libcublas.so.13", "libcublas.so.12"}}),
			"libcublas.so.13 or libcublas.so.12 not found"},
		{"did not load", &LoadError{Sonames: []string{"libcuda.so.1"}, Tried: []string{"/x/libcuda.so.1: invalid ELF header"}},
			"libcuda.so.1 found but did not load"},
		{"prefix dropped", errors.New("cuda: cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"),
			"cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"},
		{"long cut at a word", errors.New("cuda: " + long), strings.TrimSpace(long[:100]) + " …"},
		{"one line", errors.New("cuda: a\nb"), "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Brief(c.err); got != c.want {
				t.Fatalf("Brief = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLoadErrorKeepsDetail(t *testing.T) {
	e := &LoadError{Sonames: []string{"libcuda.so.1"}, Places: []string{"/opt/a", "LD_LIBRARY_PATH"}, Tried: []string{"/opt/a/libcuda.so.1: bad"}}
	for _, want := range []string{"libcuda.so.1: not found in /opt/a, LD_LIBRARY_PATH", "tried /opt/a/libcuda.so.1: bad"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("Error() = %q lacks %q", e.Error(), want)
		}
	}
}
