package sweep

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mnistgpu/study/runs"
)

// FuzzSetGrammar feeds arbitrary --set arguments to ParseParam and Plan:
// no panic, one-line errors, and what parses is a flag name with distinct,
// non-empty values whose runs live in their own folders.
func FuzzSetGrammar(f *testing.F) {
	for _, s := range []string{"batch-size=32,64", "--lr=0.01, 0.1", "hidden=128,64;128,64,32", "batchnorm=false",
		"batch-size", "=1,2", "lr=0.1,,0.2", "lr=0.1,0.1", "../x=1", "a/b=1", "lr=../..", "lr=a/b,a:b", "x=;", " = "} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, repeat int) {
		p, err := ParseParam(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if p.Name == "" || strings.ContainsAny(p.Name, "/\\=. ") || len(p.Values) == 0 {
			t.Fatalf("accepted %q as %+v", s, p)
		}
		for i, v := range p.Values {
			if v == "" || slices.Contains(p.Values[:i], v) {
				t.Fatalf("accepted %q with values %q", s, p.Values)
			}
		}
		points, err := Plan([]Param{p}, repeat%4)
		if err != nil {
			return
		}
		for _, pt := range points {
			if strings.ContainsAny(pt.ID, "/\\") || filepath.Base(pt.ID) != pt.ID || pt.ID == ".." {
				t.Fatalf("%q plans a run folder %q", s, pt.ID)
			}
		}
	})
}

// seedManifest is the sweep.json of a sweep of two learning rates.
const seedManifest = `{"task":"mlp","params":[{"name":"lr","values":["0.1","0.01"]}],"repeat":1,` +
	`"runs":[{"id":"lr=0.01_r1","values":["0.01"],"repeat":1},{"id":"lr=0.1_r1","values":["0.1"],"repeat":1}],"command":"mnistgpu sweep"}`

const seedMetrics = `{"accuracy":0.91,"weighted_recall":0.9,"weighted_f1":0.9,"test_loss":0.3,"train_seconds":1.5,"params":100,"device":"cpu"}`

const seedHistory = "epoch,train_loss,train_acc,val_loss,val_acc,seconds,images_per_sec\n1,0.5,0.8,0.4,0.85,1.5,1000\n"

// FuzzSweepFiles feeds arbitrary sweep.json, config.json, metrics.json and
// history.csv contents to the readers that `sweep merge` and a resumed
// sweep use: no panic, one-line errors, no run folder outside the sweep's.
func FuzzSweepFiles(f *testing.F) {
	f.Add([]byte(seedManifest), []byte(`{"arch":{"task":"mlp"}}`), []byte(seedMetrics), []byte(seedHistory))
	f.Add([]byte(seedManifest), []byte(`{}`), []byte(`{"test_loss":null}`), []byte("epoch,train_loss,train_acc,val_loss,val_acc,seconds\n1,NaN,0.1,NaN,0.1,1\n"))
	f.Add([]byte(`{"task":"mlp","params":[],"repeat":1,"runs":[{"id":"../../escape","values":[],"repeat":1}]}`), []byte(`{}`), []byte(`{}`), []byte(seedHistory))
	f.Add([]byte(`{"task":"mlp","params":[{"name":"a","values":["1","2","3","4","5","6","7","8","9","10"]},{"name":"b","values":["1","2","3","4","5","6","7","8","9","10"]}],"repeat":2000000000}`), []byte(`{}`), []byte(`{}`), []byte(""))
	f.Add([]byte(`{"task":"mlp","params":[{"name":"lr","values":["1"]}],"repeat":1,"runs":[{"id":"lr=1_r1","values":["1"],"repeat":1}]}`), []byte(`{}`), []byte(`{}`), []byte("epoch\n\"1"))
	f.Fuzz(func(t *testing.T, manifest, config, metrics, history []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "sweep.json")
		if err := os.WriteFile(path, manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		man, err := readManifest(path)
		if err != nil {
			oneLine(t, err)
			return
		}
		if len(man.Runs) > 8 {
			return // the plan is checked; filling thousands of folders is not the point
		}
		runsDir := filepath.Join(dir, "runs")
		for _, r := range man.Runs {
			rd := filepath.Join(runsDir, r.ID)
			if filepath.Dir(rd) != runsDir {
				t.Fatalf("run %q is not a folder of %s", r.ID, runsDir)
			}
			if err := os.MkdirAll(rd, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range map[string][]byte{"config.json": config, "metrics.json": metrics, "history.csv": history} {
				if err := os.WriteFile(filepath.Join(rd, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if rec, err := runs.Read(rd); err != nil {
				oneLine(t, err)
			} else {
				_ = rec.Diverged()
			}
		}
		res, err := sweepResults(dir, man, nil)
		if err != nil {
			oneLine(t, err)
			return
		}
		for _, row := range res.Rows {
			if got, want := len(row.CSVRecord()), len(man.Params)+len(Columns); got != want {
				t.Fatalf("a results row has %d fields, want %d", got, want)
			}
		}
		_ = res.markdown(man, nil)
	})
}

func oneLine(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
}

// TestManifestChecked checks that a sweep.json whose runs are not its plan
// (a folder outside runs/, a grid without end) and a --set name that is not
// a flag name are refused.
func TestManifestChecked(t *testing.T) {
	cases := []struct{ name, manifest, want string }{
		{"good", seedManifest, ""},
		{"escaping id", `{"task":"mlp","params":[],"repeat":1,"runs":[{"id":"../../escape","values":[],"repeat":1}]}`, "not the plan"},
		{"huge grid", `{"task":"mlp","params":[{"name":"a","values":["1","2"]}],"repeat":2000000000}`, "more than"},
		{"bad name", `{"task":"mlp","params":[{"name":"../a","values":["1"]}],"repeat":1}`, "flag name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sweep.json")
			if err := os.WriteFile(path, []byte(c.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readManifest(path)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := ParseParam("a/b=1"); err == nil {
		t.Fatal("ParseParam accepted the flag name a/b")
	}
}
