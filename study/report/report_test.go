package report

import (
	"bufio"
	"context"
	"fmt"
	"image/png"
	"io"
	"math"
	"mnistgpu/study/internal/studytest"
	"mnistgpu/study/runs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mnistgpu/model"
)

// tinyReport writes a report of the whole pipeline at toy size: 1,000
// training images, 1 epoch, 150 t-SNE points and two ablations.
func tinyReport(t *testing.T) (string, *Result) {
	t.Helper()
	data := studytest.RealData(t, runs.DataConfig{ValSplit: 0.1, Subset: 1000}) // skips without the data
	dc := runs.DataConfig{Dir: data.Dir, ValSplit: 0.1}
	o := Options{Quick: true, MainEpochs: 1, AblationEpochs: 1, Subset: 1000, TSNEPoints: 150, Repeat: 1,
		Ablations: []Ablation{
			{Task: model.TaskMLP, Flag: "activation", Title: "Changing the activation", Values: []string{"relu", "sigmoid"}},
			{Task: model.TaskMLP, Flag: "lr", Title: "Changing the learning rate", Values: []string{strconv.FormatFloat(model.DefaultTrainConfig().LR, 'g', -1, 64), "50"}},
			{Task: model.TaskCNN, Flag: "batchnorm", Title: "With and without batch norm", Values: []string{"true", "false"}, Labels: []string{"with", "without"}},
		},
		Config: studytest.Config(dc, nil), Open: studytest.CPUOpener(1), Parallel: 2,
		DeviceInfo: "cpu (test)", Command: "mnistgpu report --test"}
	out := filepath.Join(t.TempDir(), "report")
	if d := os.Getenv("MNISTGPU_KEEP_REPORT"); d != "" {
		out = d
	}
	res, err := Run(out, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

// TestReport makes a tiny report and checks it: every image it references
// exists and decodes as PNG, every section has content, the numbered
// sections are the seed's 1–13, the diverged run is flagged, and — when a
// Chromium is installed — that the page loads every image in a real
// browser.
func TestReport(t *testing.T) {
	start := time.Now()
	out, res := tinyReport(t)
	t.Logf("tiny report in %.1f s: %d runs trained", time.Since(start).Seconds(), res.Trained)
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}

	// Every image, in both renderings, exists and is a PNG; nothing is
	// fetched from elsewhere.
	var srcs []string
	for _, m := range regexp.MustCompile(`<img src="([^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		srcs = append(srcs, m[1])
	}
	var mdSrcs []string
	for _, m := range regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(string(readme), -1) {
		mdSrcs = append(mdSrcs, m[1])
	}
	if len(srcs) < 20 || len(srcs) != len(mdSrcs) {
		t.Fatalf("%d images in index.html and %d in README.md", len(srcs), len(mdSrcs))
	}
	for i, src := range srcs {
		if src != mdSrcs[i] {
			t.Errorf("image %d: %s in index.html, %s in README.md", i, src, mdSrcs[i])
		}
		if strings.Contains(src, "://") || filepath.IsAbs(src) {
			t.Errorf("image %s is not a relative path", src)
			continue
		}
		checkPNG(t, filepath.Join(out, filepath.FromSlash(src)))
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(page) {
		t.Error("index.html references an external asset")
	}

	// The sections are the seed's, in order, and none is empty.
	var nums []string
	for _, m := range regexp.MustCompile(`(?m)^## (\d+|A) `).FindAllStringSubmatch(string(readme), -1) {
		nums = append(nums, m[1])
	}
	if got := strings.Join(nums, " "); got != "1 2 3 4 5 6 7 8 9 10 11 12 13 A" {
		t.Errorf("sections %s", got)
	}
	checkNoEmptySection(t, string(readme))

	// The run with lr 50 diverged and is reported as such.
	if !strings.Contains(strings.Join(res.Diverged, "\n"), "lr=50_r1: training loss became NaN") {
		t.Errorf("diverged runs %v, want the lr=50 run", res.Diverged)
	}
	for _, want := range []string{"Diverged runs", "lr=50", "DIVERGED", "cpu (test)", "mnistgpu report --test",
		"Relu works better than sigmoid and tanh", "Total time",
		"McNemar's exact test (one seed each, same test set)", "not whether the settings differ", "1 per cell"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	// The default value's run is the main run, trained once.
	if res.Trained != 5 {
		t.Errorf("trained %d runs, want 5 (2 main, sigmoid, lr=50, no batch norm)", res.Trained)
	}
	if _, err := os.Stat(filepath.Join(out, "runs", "mlp", "activation=relu_r1")); err == nil {
		t.Error("the default activation was trained again instead of reusing the main run")
	}

	browserCheck(t, out)
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("image: %v", err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() < 50 || b.Dy() < 50 {
		t.Errorf("%s is only %dx%d", path, b.Dx(), b.Dy())
	}
}

// checkNoEmptySection checks that every heading of the Markdown is followed
// by content before the next heading.
func checkNoEmptySection(t *testing.T, md string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	last := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if last != "" {
				t.Errorf("section %q is empty", last)
			}
			last = line
		default:
			last = ""
		}
	}
	if last != "" {
		t.Errorf("section %q is empty", last)
	}
}

// browser finds a Chromium or Chrome on PATH.
func browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome-headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserCheck opens the report in headless Chromium and reads the marker
// the page's own script writes after load: every image decoded
// (naturalWidth > 0) and no section empty.
func browserCheck(t *testing.T, out string) {
	t.Helper()
	bin := browser()
	if bin == "" {
		t.Log("no chromium, chromium-browser or google-chrome on PATH: the in-browser check is skipped (files were checked above); apt-get install chromium to run it")
		return
	}
	abs, err := filepath.Abs(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+profile, "--virtual-time-budget=10000", "--dump-dom", "file://"+abs)
	cmd.Stderr = io.Discard
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v", bin, err)
	}
	m := regexp.MustCompile(`<div id="page-check"([^>]*)>([^<]*)</div>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's check did not run in %s (no #page-check marker in the DOM)", bin)
	}
	attr := func(name string) string {
		a := regexp.MustCompile(name + `="([^"]*)"`).FindSubmatch(m[1])
		if a == nil {
			return ""
		}
		return string(a[1])
	}
	images, _ := strconv.Atoi(attr("data-images"))
	if string(m[2]) != "page-check: ok" || images < 20 {
		t.Fatalf("in %s: %s, %d images, broken %q, empty sections %q", bin, m[2], images, attr("data-broken"), attr("data-empty"))
	}
	t.Logf("%s: %d images loaded, %s sections, none empty", bin, images, attr("data-sections"))
}

func TestDocumentRender(t *testing.T) {
	d := &document{Title: "T <1>", Header: []headerItem{{Key: "Reproduce", Value: "mnistgpu report --out a&b", Code: true}}}
	s := d.section("1", "Section <one>")
	s.text("a < b & c")
	s.table(&table{Head: []string{"x", "y"}, Rows: [][]string{{"1|2", "<b>"}}, Num: []bool{false, true}, Flag: map[int]bool{0: true}})
	d.addFigures(s, figure{Src: "runs/a=1/x.png", Caption: "cap"}, figure{}, figure{Src: "f/y.png", Caption: "two"})
	page, err := d.html()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>T &lt;1&gt;</title>", "a &lt; b &amp; c", "<code>mnistgpu report --out a&amp;b</code>", `<tr class="flag">`,
		`<td class="num">&lt;b&gt;</td>`, `<img src="runs/a=1/x.png"`, "Figure 2: two", `<section id="s1">`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	md := d.markdown()
	for _, want := range []string{"# T <1>", "## 1 Section <one>", `| 1\|2 | <b> |`, "| --- | ---: |", "![Figure 1](runs/a=1/x.png)", "*Figure 2: two*"} {
		if !strings.Contains(md, want) {
			t.Errorf("README.md lacks %q:\n%s", want, md)
		}
	}
}

// TestClaim checks the verdicts on the seed's claims from synthetic runs
// on 10,000 test images, one seed each: McNemar's exact test on per-image
// correctness where every model gets the same 100 images wrong and the
// rest of its errors on images of its own, so 0.975 vs 0.974 is 150 vs
// 160 discordant images (p ≈ 0.6) and 0.975 vs 0.96 is 150 vs 300
// (p < 1e-12).
func TestClaim(t *testing.T) {
	const n, shared = 10000, 100
	correct := map[string][]bool{}
	next := shared
	cell := func(v string, acc float64, diverged bool) *ablCell {
		dir := fmt.Sprintf("%s-%d", v, next)
		rec := &runs.Record{Dir: dir}
		rec.Metrics.Accuracy, rec.Metrics.Samples, rec.Metrics.TestLoss = acc, n, 0.1
		ok := make([]bool, n)
		for i := range ok {
			ok[i] = true
		}
		wrong := int(math.Round((1 - acc) * n))
		for i := 0; i < shared; i++ {
			ok[i] = false
		}
		for i := 0; i < wrong-shared; i++ {
			ok[shared+(next-shared+i)%(n-shared)] = false
		}
		next += wrong - shared
		correct[dir] = ok
		c := &ablCell{Value: v, Label: v, Runs: []*runs.Record{rec}}
		if diverged {
			c.Why = []string{"test accuracy near chance"}
		} else {
			c.Healthy = []*runs.Record{rec}
			c.Acc = runs.StatOf([]float64{acc})
		}
		return c
	}
	cases := []struct {
		name  string
		cells []*ablCell
		want  string
	}{
		{"clear winner", []*ablCell{cell("relu", 0.975, false), cell("sigmoid", 0.96, false), cell("tanh", 0.965, false)}, "supported"},
		{"ahead within noise", []*ablCell{cell("relu", 0.975, false), cell("tanh", 0.974, false)}, "not clearly supported"},
		{"partly", []*ablCell{cell("relu", 0.975, false), cell("sigmoid", 0.96, false), cell("tanh", 0.974, false)}, "partly supported"},
		{"behind within noise", []*ablCell{cell("relu", 0.974, false), cell("tanh", 0.975, false)}, "not supported"},
		{"beaten", []*ablCell{cell("relu", 0.96, false), cell("tanh", 0.975, false)}, "contradicted"},
		{"other diverged", []*ablCell{cell("relu", 0.975, false), cell("tanh", 0.2, true)}, "not measured"},
		{"winner diverged", []*ablCell{cell("relu", 0.2, true), cell("tanh", 0.97, false)}, "not measured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &reportRun{abl: []*ablResult{{Ablation: Ablation{Task: model.TaskMLP, Flag: "activation"}, Cells: c.cells}}, correctOf: correct}
			got, ev := r.claim(model.TaskMLP, "activation", "relu")
			if got != c.want && !strings.HasPrefix(got, c.want+" ") {
				t.Fatalf("verdict %q (%s), want %q", got, ev, c.want)
			}
			if c.want != "not measured" && !strings.Contains(ev, "McNemar's exact test") {
				t.Errorf("evidence does not name its test: %s", ev)
			}
		})
	}
}
