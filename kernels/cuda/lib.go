package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// dynlib is one shared library opened with dlopen.
type dynlib struct {
	name   string // soname asked for, e.g. libcublas.so.13
	path   string // file loaded
	handle uintptr
	deps   []string // dependencies preloaded from the same folder
	notes  []string // preloads that failed (not fatal by themselves)
}

// sym returns the address of a symbol, or an error naming the library.
func (l *dynlib) sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(l.handle, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%s: symbol %s not found (%s)", l.path, name, dlerr(err))
	}
	return p, nil
}

// optSym returns the address of a symbol or 0 when the library lacks it.
func (l *dynlib) optSym(name string) uintptr {
	p, err := purego.Dlsym(l.handle, name)
	if err != nil {
		return 0
	}
	return p
}

// bind registers a typed Go function for a C symbol.
func (l *dynlib) bind(fptr any, name string) error {
	p, err := l.sym(name)
	if err != nil {
		return err
	}
	purego.RegisterFunc(fptr, p)
	return nil
}

// bindOpt registers fptr when the symbol exists and reports whether it did.
func (l *dynlib) bindOpt(fptr any, name string) bool {
	p := l.optSym(name)
	if p == 0 {
		return false
	}
	purego.RegisterFunc(fptr, p)
	return true
}

// symbols resolves a table of name → *uintptr and reports the first missing one.
func (l *dynlib) symbols(table map[string]*uintptr) error {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := l.sym(n)
		if err != nil {
			return err
		}
		*table[n] = p
	}
	return nil
}

func dlerr(err error) string {
	if err == nil {
		return "no error text"
	}
	var de purego.Dlerror
	if errors.As(err, &de) {
		return strings.TrimSpace(de.Error())
	}
	return err.Error()
}

const (
	rtldNowGlobal  = purego.RTLD_NOW | purego.RTLD_GLOBAL
	rtldLazyGlobal = purego.RTLD_LAZY | purego.RTLD_GLOBAL
)

// dlopen opens a file or soname.
func dlopen(path string, mode int) (uintptr, error) {
	h, err := purego.Dlopen(path, mode)
	if err != nil {
		return 0, errors.New(dlerr(err))
	}
	return h, nil
}

// cstring returns the NUL-terminated C string at p as a Go string (copied).
func cstring(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
		if n > 1<<16 {
			break
		}
	}
	return string(unsafe.Slice(p, n))
}

// cbytes returns s as a NUL-terminated byte slice.
func cbytes(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// loadedPath finds the file of a library loaded by soname in
// /proc/self/maps (Linux); "" when unknown. A soname is often a symlink to a
// longer versioned name, so a mapping whose base name starts with the soname
// counts too.
func loadedPath(soname string) string {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		i := strings.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		p := line[i:]
		if strings.HasPrefix(filepath.Base(p), soname) {
			return p
		}
	}
	return ""
}
