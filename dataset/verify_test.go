package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKnownDigest(t *testing.T) {
	tests := []struct {
		name   string
		prefix string // of the digest; "" when unknown
	}{
		{"train-images-idx3-ubyte.gz", "440fcabf"},
		{"train-labels-idx1-ubyte.gz", "3552534a"},
		{"t10k-images-idx3-ubyte.gz", "8d422c7b"},
		{"t10k-labels-idx1-ubyte.gz", "f7ae60f9"},
		{"train-images-idx3-ubyte", ""},
		{"emnist-train-images.gz", ""},
	}
	for _, tt := range tests {
		d, ok := KnownDigest(tt.name)
		if ok != (tt.prefix != "") || !strings.HasPrefix(d, tt.prefix) || ok && len(d) != 64 {
			t.Errorf("KnownDigest(%q) = %q, %v; want a digest starting %q", tt.name, d, ok, tt.prefix)
		}
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	fake := []byte("not really MNIST")
	writeFile(t, dir, TrainImagesFile+".gz", fake) // standard name, wrong content
	writeFile(t, dir, TrainLabelsFile, fake)       // raw: no digest known
	writeFile(t, dir, TestImagesFile+".gz", fake)
	writeFile(t, dir, TestImagesFile, fake) // the .gz one is checked
	// TestLabelsFile is missing.
	sum := sha256.Sum256(fake)
	fakeSum := hex.EncodeToString(sum[:])

	checks, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []FileCheck{
		{Name: TrainImagesFile + ".gz", Path: filepath.Join(dir, TrainImagesFile+".gz"), SHA256: fakeSum,
			Want: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", Status: Mismatch},
		{Name: TrainLabelsFile, Path: filepath.Join(dir, TrainLabelsFile), SHA256: fakeSum, Status: Unknown},
		{Name: TestImagesFile + ".gz", Path: filepath.Join(dir, TestImagesFile+".gz"), SHA256: fakeSum,
			Want: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", Status: Mismatch},
		{Name: TestLabelsFile + ".gz", Status: Missing},
	}
	if len(checks) != len(want) {
		t.Fatalf("got %d checks, want %d: %v", len(checks), len(want), checks)
	}
	for i := range want {
		if checks[i] != want[i] {
			t.Errorf("check %d = %+v\nwant %+v", i, checks[i], want[i])
		}
		if s := checks[i].String(); !strings.Contains(s, want[i].Status.String()) || !strings.HasPrefix(s, want[i].Name) {
			t.Errorf("String() = %q: want it to start with %s and say %s", s, want[i].Name, want[i].Status)
		}
	}
}

func TestVerifyNoDir(t *testing.T) {
	if _, err := Verify(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("Verify of a missing directory: no error")
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{{Good, "good"}, {Unknown, "unknown"}, {Mismatch, "mismatch"}, {Missing, "missing"}, {Status(9), "Status(9)"}}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}

func TestInstallFromRejects(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // in the source folder
		wantErr string
	}{
		{"fake files", map[string]string{
			TrainImagesFile + ".gz": "a", TrainLabelsFile + ".gz": "b",
			TestImagesFile + ".gz": "c", TestLabelsFile + ".gz": "d",
		}, "train-images-idx3-ubyte.gz: sha256 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb, want 440fcabf"},
		{"missing file", map[string]string{TrainLabelsFile + ".gz": "b"}, "train-images-idx3-ubyte.gz: no such file"},
		{"empty source", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, src, name, []byte(content))
			}
			dst := filepath.Join(t.TempDir(), "data", "mnist")
			err := InstallFrom(src, dst)
			checkErr(t, err, tt.wantErr, "")
			if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("InstallFrom failed but created %s (stat: %v)", dst, err)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"go: error\n", "go: error"},
		{"a\n\n  b  \nc", "a; b; c"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestModuleDirOutsideModule(t *testing.T) {
	t.Chdir(t.TempDir()) // no go.mod here or above
	dir, err := ModuleDir()
	if err == nil {
		t.Fatalf("ModuleDir outside a module = %q, want an error", dir)
	}
	checkErr(t, err, "go mod download "+GoMNISTModule, "")
}
