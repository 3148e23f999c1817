package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"mnistgpu/study/report"
)

// normSpace folds every run of white space into one space.
func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var epochsRE = regexp.MustCompile(`\b(\d+) epochs?\b`)

// TestReportPresetDocs holds README.md and `report --help` to the code's
// report presets: the same epochs (main runs and ablations), images,
// t-SNE points and measured times, and no other epoch count said of
// --quick.
func TestReportPresetDocs(t *testing.T) {
	full, quick := report.Preset(false), report.Preset(true)
	// The summaries carry the numbers, so a changed preset changes them.
	for _, want := range []string{strconv.Itoa(quick.MainEpochs) + " epochs", "and " + strconv.Itoa(quick.AblationEpochs) + " for the ablations",
		report.Commas(quick.Subset) + " training images", report.Commas(quick.TSNEPoints) + " points"} {
		if !strings.Contains(presetSummary(quick), want) {
			t.Fatalf("presetSummary(quick) = %q lacks %q", presetSummary(quick), want)
		}
	}
	if want := strconv.Itoa(full.MainEpochs) + " epochs on all the training images"; !strings.HasPrefix(presetSummary(full), want) {
		t.Fatalf("presetSummary(full) = %q, want it to start %q", presetSummary(full), want)
	}
	help, stderr, code := run(t, t.TempDir(), nil, "report", "--help")
	if code != 0 {
		t.Fatalf("report --help: exit %d: %s", code, stderr)
	}
	quickEpochs := []int{quick.MainEpochs, quick.AblationEpochs}
	for _, doc := range []struct{ name, text string }{{"README.md", readREADME(t)}, {"report --help", help}} {
		text := normSpace(doc.text)
		for _, want := range []string{
			"Full: " + presetSummary(full) + " (" + fullTime + ").",
			"--quick: " + presetSummary(quick) + " (" + quickTime + ").",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", doc.name, want)
			}
		}
		// Whatever a line says after "quick" about epochs is the quick preset's.
		for _, line := range strings.Split(doc.text, "\n") {
			i := strings.Index(strings.ToLower(line), "quick")
			if i < 0 {
				continue
			}
			for _, m := range epochsRE.FindAllStringSubmatch(line[i:], -1) {
				if n, _ := strconv.Atoi(m[1]); !slices.Contains(quickEpochs, n) {
					t.Errorf("%s says %q of --quick; the preset has %v: %q", doc.name, m[0], quickEpochs, line)
				}
			}
		}
	}
}

// TestHelpDefaultsOnce checks that no flag of any command shows its
// default twice ("(default 0.02 for momentum …) (default: 0)").
func TestHelpDefaultsOnce(t *testing.T) {
	var walk func(path string, cmds []*cli.Command)
	n := 0
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				n++
				if s := cli.FlagStringer(f); strings.Count(s, "(default") > 1 {
					t.Errorf("%s%s: %q", path, c.Name, s)
				}
			}
			walk(path+c.Name+" ", c.Subcommands)
		}
	}
	walk("", newApp().Commands)
	if n < 50 {
		t.Fatalf("walked only %d flags", n)
	}
	// And as printed.
	for _, args := range [][]string{{"train", "mlp", "--help"}, {"sweep", "--help"}, {"report", "--help"}, {"bench", "--help"}, {"eval", "--help"}} {
		out, _, code := run(t, t.TempDir(), nil, args...)
		for _, line := range strings.Split(out, "\n") {
			if code != 0 || strings.Count(line, "(default") > 1 {
				t.Errorf("%v: exit %d: %q", args, code, line)
			}
		}
	}
	// The defaults moved out of the usage text are still shown.
	out, _, _ := run(t, t.TempDir(), nil, "train", "mlp", "--help")
	for _, want := range []string{"learning rate (default: 0.02 for momentum, 0.1 for sgd, 0.001 for adam)",
		"(default: 0.3 for mlp, 0 for cnn)", "CPU threads (default: all cores)"} {
		if !strings.Contains(normSpace(out), want) {
			t.Errorf("train mlp --help lacks %q", want)
		}
	}
}

func TestMoveDefaults(t *testing.T) {
	cases := []struct{ usage, wantUsage, wantDefault string }{
		{"learning rate (default 0.02 for momentum, 0.1 for sgd)", "learning rate", "0.02 for momentum, 0.1 for sgd"},
		{"CPU threads in all (default: all cores), shared by workers", "CPU threads in all, shared by workers", "all cores"},
		{"re-split (70,000 images) at this fraction (default: the standard 60,000/10,000)", "re-split (70,000 images) at this fraction", "the standard 60,000/10,000"},
		{"runs (default: one per core (one thread each)); more", "runs; more", "one per core (one thread each)"},
		{"no default here", "no default here", ""},
	}
	for _, c := range cases {
		f := &cli.IntFlag{Name: "x", Usage: c.usage}
		moveDefaults([]*cli.Command{{Name: "c", Flags: []cli.Flag{f}}})
		if f.Usage != c.wantUsage || f.DefaultText != c.wantDefault {
			t.Errorf("%q: usage %q default %q, want %q %q", c.usage, f.Usage, f.DefaultText, c.wantUsage, c.wantDefault)
		}
	}
}

func TestThousandsWrap(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 54000: "54,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := report.Commas(n); got != want {
			t.Errorf("report.Commas(%d) = %q, want %q", n, got, want)
		}
	}
	if got := wrap("aa bb cc dd", 5); got != "aa bb\ncc dd" {
		t.Errorf("wrap = %q", got)
	}
}

// TestReadmeStaticWording: the README says what the default binary needs
// at run time and offers the static build.
func TestReadmeStaticWording(t *testing.T) {
	md := normSpace(readREADME(t))
	for _, bad := range []string{"one static Go binary", "binary stays static"} {
		if strings.Contains(md, bad) {
			t.Errorf("README.md still says %q", bad)
		}
	}
	for _, want := range []string{"dynamic loader", "make build-static", "-tags nocuda", "mnistgpu --version", "`--` ends the flags"} {
		if !strings.Contains(md, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
}
