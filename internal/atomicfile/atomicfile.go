// Package atomicfile writes files through a temporary file that is renamed
// into place only when the whole write succeeded, so a failed or interrupted
// run never leaves a half-written result behind. The file is synced before
// the rename and its folder after it, so after a power loss the final name
// holds either the old or the whole new content, never an empty file.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// syncHook, when set (by tests), is called with each path that is synced.
var syncHook func(path string)

// Write creates path with the bytes write produces.
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	maybeCrash(path)
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if syncHook != nil {
		syncHook(f.Name())
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SyncDir flushes a folder's entries (a rename or a removal in it) to disk.
// File systems that cannot sync a folder are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	if syncHook != nil {
		syncHook(dir)
	}
	return nil
}

// WriteBytes creates path holding b.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
