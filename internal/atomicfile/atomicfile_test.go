package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := WriteBytes(p, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read back %q, %v", got, err)
	}
	// Overwriting replaces the whole file.
	if err := WriteBytes(p, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "hi" {
		t.Fatalf("after overwrite %q", got)
	}
	// A failing writer leaves neither the file nor a temporary behind.
	q := filepath.Join(dir, "b.txt")
	boom := errors.New("boom")
	if err := Write(q, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("want only a.txt left, got %v", ents)
	}
	// An unwritable folder is an error naming the path.
	if err := WriteBytes(filepath.Join(dir, "missing", "c.txt"), nil); err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

// TestWriteSyncs checks that the temporary file is synced before the rename
// and the folder after it.
func TestWriteSyncs(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	syncHook = func(p string) { synced = append(synced, p) }
	defer func() { syncHook = nil }()
	p := filepath.Join(dir, "a.txt")
	if err := WriteBytes(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 2 || filepath.Dir(synced[0]) != dir || filepath.Base(synced[0]) == "a.txt" ||
		filepath.Clean(synced[1]) != filepath.Clean(dir) {
		t.Fatalf("want the temporary file then %s synced, got %v", dir, synced)
	}
}
