package runs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRunDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o644)
	run := filepath.Join(tmp, "run")
	os.Mkdir(run, 0o755)
	os.WriteFile(filepath.Join(run, "config.json"), []byte("{}"), 0o644)
	empty := filepath.Join(tmp, "empty")
	os.Mkdir(empty, 0o755)
	cases := []struct {
		dir       string
		overwrite bool
		want      string
	}{
		{filepath.Join(tmp, "new", "deeper"), false, ""},
		{empty, false, ""},
		{run, false, "already holds part of a run"},
		{run, true, ""},
		{file, false, "not a folder"},
		{filepath.Join(file, "run"), false, "is not a folder"},
	}
	for _, c := range cases {
		err := CheckRunDir(c.dir, c.overwrite)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckRunDir(%s, %v) = %v, want %q", c.dir, c.overwrite, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "new")); err == nil {
		t.Fatal("CheckRunDir made a folder")
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("CheckRunDir left %v", ents)
	}
}

// TestDivergedStatus checks that a run recorded as diverged in metrics.json
// is flagged with its own message, even when its test accuracy is fine.
func TestDivergedStatus(t *testing.T) {
	r := &Record{Metrics: Metrics{Status: StatusDiverged, Why: "validation loss became NaN in epoch 4: x"}}
	r.Metrics.Accuracy = 0.9
	if got := r.Diverged(); got != r.Metrics.Why {
		t.Fatalf("Diverged() = %q", got)
	}
}
