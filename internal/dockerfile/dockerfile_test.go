package dockerfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The files these tests read, relative to the module root.
const (
	dockerfileName   = "Dockerfile.cuda"
	dockerignoreName = ".dockerignore"
	readmeName       = "README.md"
	makefileName     = "Makefile"
)

// The image's contract with the binary and with users.
const (
	binaryPath = "/usr/local/bin/mnistgpu"
	dataEnv    = "MNISTGPU_DATA" // dataset.EnvVar
	runsDir    = "/runs"
)

// ---------------------------------------------------------------------------
// A small Dockerfile parser: instructions, `\` continuations, comments, stages.
// Not supported (reported as an error, never misread): heredocs, and a
// different escape character set by a parser directive.

// instr is one instruction of a Dockerfile.
type instr struct {
	Line int    // where it starts, 1-based
	Cmd  string // the keyword in upper case: FROM, RUN, ENV, ...
	Args string // the rest, continuation lines joined by a space
}

var heredoc = regexp.MustCompile(`(^|\s)<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?(\s|$)`)

// parse splits a Dockerfile into instructions. A line ending in `\` continues
// on the next line; comment lines and empty lines inside a continuation are
// skipped, as Docker does.
func parse(src string) ([]instr, error) {
	var out []instr
	var cur strings.Builder
	start := 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		kw, rest, _ := strings.Cut(text, " ")
		if i := strings.IndexAny(kw, "\t"); i >= 0 {
			kw, rest = kw[:i], kw[i+1:]+" "+rest
		}
		in := instr{Line: start, Cmd: strings.ToUpper(kw), Args: strings.TrimSpace(rest)}
		if (in.Cmd == "RUN" || in.Cmd == "COPY" || in.Cmd == "ADD") && heredoc.MatchString(in.Args) {
			return fmt.Errorf("line %d: %s uses a heredoc, which this parser does not read", in.Line, in.Cmd)
		}
		out = append(out, in)
		return nil
	}
	continuing := false
	for i, raw := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		line := strings.TrimRight(raw, " \t")
		trimmed := strings.TrimSpace(line)
		if !continuing {
			if trimmed == "" {
				continue
			}
			if strings.HasPrefix(trimmed, "#") {
				if d := strings.ToLower(strings.ReplaceAll(trimmed, " ", "")); strings.HasPrefix(d, "#escape=") && d != "#escape=\\" {
					return nil, fmt.Errorf("line %d: escape directive %q is not supported", i+1, trimmed)
				}
				continue
			}
			start = i + 1
		} else if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`))
			cur.WriteByte(' ')
			continuing = true
			continue
		}
		cur.WriteString(line)
		continuing = false
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if continuing {
		return nil, fmt.Errorf("line %d: the last instruction ends in a `\\` continuation", start)
	}
	return out, nil
}

// stage is a FROM and the instructions after it.
type stage struct {
	Index  int
	Line   int
	Image  string // as written: golang:1.26.8-bookworm
	Name   string // the AS name, or ""
	Instrs []instr
}

// stages groups instructions by FROM; instructions before the first FROM
// (global ARGs) are dropped.
func stages(ins []instr) ([]*stage, error) {
	var out []*stage
	for _, in := range ins {
		if in.Cmd != "FROM" {
			if len(out) > 0 {
				out[len(out)-1].Instrs = append(out[len(out)-1].Instrs, in)
			}
			continue
		}
		var words []string
		for _, w := range strings.Fields(in.Args) {
			if !strings.HasPrefix(w, "--") { // --platform=...
				words = append(words, w)
			}
		}
		s := &stage{Index: len(out), Line: in.Line}
		switch {
		case len(words) == 1:
			s.Image = words[0]
		case len(words) == 3 && strings.EqualFold(words[1], "AS"):
			s.Image, s.Name = words[0], words[2]
		default:
			return nil, fmt.Errorf("line %d: cannot read FROM %s", in.Line, in.Args)
		}
		out = append(out, s)
	}
	return out, nil
}

// refersTo reports whether a COPY --from value names stage s.
func (s *stage) refersTo(from string) bool {
	return from == fmt.Sprint(s.Index) || (s.Name != "" && strings.EqualFold(from, s.Name))
}

// imageRef splits an image reference into repository, tag and digest.
func imageRef(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// words splits shell-like text into words, honouring single and double quotes
// and backslash escapes (enough for ENV, USER, VOLUME and COPY arguments).
func words(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// envPairs reads the arguments of ENV: `K=V K2="V 2"` or the legacy `K V`.
func envPairs(args string) [][2]string {
	ws := words(args)
	if len(ws) == 0 {
		return nil
	}
	if !strings.Contains(ws[0], "=") {
		k, v, _ := strings.Cut(strings.TrimSpace(args), " ")
		return [][2]string{{k, strings.Join(words(v), " ")}}
	}
	var out [][2]string
	for _, w := range ws {
		k, v, _ := strings.Cut(w, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// copyArgs reads COPY or ADD: its --from, its sources and its destination.
func copyArgs(args string) (from string, srcs []string, dst string, err error) {
	var rest []string
	ws := words(args)
	for i, w := range ws {
		if !strings.HasPrefix(w, "--") {
			rest = ws[i:]
			break
		}
		if v, ok := strings.CutPrefix(w, "--from="); ok {
			from = v
		}
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
		if err := json.Unmarshal([]byte(strings.Join(rest, " ")), &rest); err != nil {
			// words() dropped the quotes; read the JSON from the text instead.
			j := args[strings.Index(args, "["):]
			if err := json.Unmarshal([]byte(j), &rest); err != nil {
				return "", nil, "", fmt.Errorf("COPY %s: bad JSON form: %v", args, err)
			}
		}
	}
	if len(rest) < 2 {
		return "", nil, "", fmt.Errorf("COPY %s: needs a source and a destination", args)
	}
	return from, rest[:len(rest)-1], rest[len(rest)-1], nil
}

// execForm reads a JSON array (exec form) argument, or says it is not one.
func execForm(args string) ([]string, bool) {
	var v []string
	if !strings.HasPrefix(strings.TrimSpace(args), "[") || json.Unmarshal([]byte(args), &v) != nil {
		return nil, false
	}
	return v, true
}

// absIn makes p absolute against dir (a WORKDIR), as Docker does.
func absIn(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	if dir == "" {
		dir = "/"
	}
	return path.Join(dir, p)
}

// globalArgs returns the ARGs declared before the first FROM: every name
// declared, and the default of those that have one.
func globalArgs(ins []instr) (declared map[string]bool, defaults map[string]string) {
	declared, defaults = map[string]bool{}, map[string]string{}
	for _, in := range ins {
		if in.Cmd == "FROM" {
			break
		}
		if in.Cmd != "ARG" {
			continue
		}
		for _, w := range words(in.Args) {
			k, v, ok := strings.Cut(w, "=")
			declared[k] = true
			if ok {
				defaults[k] = v
			}
		}
	}
	return declared, defaults
}

var argRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand replaces $NAME and ${NAME} by vals[NAME] where NAME has a value,
// as Docker does in FROM; other references stay as they are.
func expand(s string, vals map[string]string) string {
	return argRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := argRef.FindStringSubmatch(ref)
		name := m[1] + m[2]
		if v, ok := vals[name]; ok {
			return v
		}
		return ref
	})
}

// ---------------------------------------------------------------------------
// The checks.

// finding is one way a Dockerfile falls short; Check names the rule.
type finding struct {
	Check string
	Msg   string
}

func (f finding) String() string { return f.Check + ": " + f.Msg }

var (
	goBuildRE    = regexp.MustCompile(`\bgo build\b`)
	fetchMNISTRE = regexp.MustCompile(`\bgo run (?:\./)?scripts/fetch-mnist\b\s*([^\s;&|]*)`)
	outFlagRE    = regexp.MustCompile(`\s-o[ =](\S+)`)
	cudaTagRE    = regexp.MustCompile(`^(\d+)\.\d+\.\d+-`)
)

// check holds a Dockerfile's text to what Dockerfile.cuda must be when
// built without build arguments (a CUDA 13 runtime), with goVersion the
// `go` directive of go.mod. It returns every finding.
func check(src, goVersion string) []finding {
	return checkWith(src, goVersion, nil, "13")
}

// checkWith is check for a build with the build arguments buildArgs
// (docker build --build-arg K=V), whose runtime stage must be a CUDA
// cudaMajor image. A build argument must be declared by an ARG before the
// first FROM (else Docker ignores it); a FROM may name its image through
// such an ARG, which then needs a default.
func checkWith(src, goVersion string, buildArgs map[string]string, cudaMajor string) []finding {
	var found []finding
	add := func(c, format string, a ...any) { found = append(found, finding{c, fmt.Sprintf(format, a...)}) }

	ins, err := parse(src)
	if err != nil {
		return []finding{{"parse", err.Error()}}
	}
	st, err := stages(ins)
	if err != nil {
		return []finding{{"parse", err.Error()}}
	}
	declared, vals := globalArgs(ins)
	for _, k := range slices.Sorted(maps.Keys(buildArgs)) {
		if !declared[k] {
			add("build-arg", "--build-arg %s: no ARG %s before the first FROM, so Docker would ignore it", k, k)
			continue
		}
		vals[k] = buildArgs[k]
	}
	for _, s := range st {
		s.Image = expand(s.Image, vals)
	}
	if len(st) != 2 {
		add("stages", "want exactly two FROM stages (a golang build stage and an nvidia/cuda runtime stage), have %d", len(st))
		if len(st) < 2 {
			return found
		}
	}
	build, run := st[0], st[len(st)-1]

	// The build stage: golang at exactly go.mod's version.
	if repo, tag, _ := imageRef(build.Image); repo != "golang" && repo != "docker.io/library/golang" && repo != "library/golang" {
		add("go-image", "line %d: the build stage is %s, want the official golang image", build.Line, build.Image)
	} else if !regexp.MustCompile(`^` + regexp.QuoteMeta(goVersion) + `(-[a-z0-9.]+)*$`).MatchString(tag) {
		add("go-image", "line %d: %s: want an exact tag of go.mod's Go version %s (such as golang:%s-bookworm)", build.Line, build.Image, goVersion, goVersion)
	}

	// The runtime stage: nvidia/cuda, pinned, CUDA 13, cuDNN, runtime flavour.
	if repo, tag, _ := imageRef(run.Image); repo != "nvidia/cuda" && repo != "docker.io/nvidia/cuda" && repo != "nvcr.io/nvidia/cuda" {
		add("cuda-image", "line %d: the runtime stage is %s, want nvidia/cuda", run.Line, run.Image)
	} else {
		switch {
		case tag == "" || tag == "latest":
			add("cuda-image", "line %d: %s: the tag must be pinned, not %q", run.Line, run.Image, tag)
		case strings.Contains(tag, "$"):
			add("cuda-image", "line %d: %s: the tag must be written out, or an ARG with a pinned default, not a variable without one", run.Line, run.Image)
		case !cudaTagRE.MatchString(tag) || cudaTagRE.FindStringSubmatch(tag)[1] != cudaMajor ||
			!strings.Contains(tag, "cudnn") || !strings.Contains(tag, "runtime"):
			add("cuda-image", "line %d: %s: want an exact CUDA %s.x.y cuDNN runtime tag such as %s.0.2-cudnn-runtime-ubuntu24.04", run.Line, run.Image, cudaMajor, cudaMajor)
		}
	}

	// Build: a static binary and MNIST from the Go module.
	env := map[string]string{}
	workdir := ""
	binOut, fetchDir := "", ""
	for _, in := range build.Instrs {
		switch in.Cmd {
		case "ENV":
			for _, kv := range envPairs(in.Args) {
				env[kv[0]] = kv[1]
			}
		case "WORKDIR":
			workdir = absIn(workdir, in.Args)
		case "RUN":
			if goBuildRE.MatchString(in.Args) && strings.Contains(in.Args, "./cmd/mnistgpu") {
				before := in.Args[:goBuildRE.FindStringIndex(in.Args)[0]]
				cgo := env["CGO_ENABLED"]
				if m := regexp.MustCompile(`\bCGO_ENABLED=(\S*)`).FindAllStringSubmatch(before, -1); m != nil {
					cgo = m[len(m)-1][1]
				}
				if cgo != "0" {
					add("cgo", "line %d: go build runs with CGO_ENABLED=%q; the binary must be static (CGO_ENABLED=0)", in.Line, cgo)
				}
				if !strings.Contains(in.Args, "-trimpath") {
					add("go-build", "line %d: go build without -trimpath", in.Line)
				}
				if m := outFlagRE.FindStringSubmatch(in.Args); m != nil {
					binOut = absIn(workdir, m[1])
				} else {
					add("go-build", "line %d: go build without -o: the binary's path is not known", in.Line)
				}
			}
			if m := fetchMNISTRE.FindStringSubmatch(in.Args); m != nil {
				dir := m[1]
				if dir == "" {
					dir = "data/mnist" // dataset.DefaultDir
				}
				fetchDir = absIn(workdir, dir)
			}
		}
	}
	if binOut == "" && !slices.ContainsFunc(found, func(f finding) bool { return f.Check == "go-build" || f.Check == "cgo" }) {
		add("go-build", "the build stage has no RUN ... go build ... ./cmd/mnistgpu")
	}
	if fetchDir == "" {
		add("fetch-mnist", "the build stage does not run `go run ./scripts/fetch-mnist DIR`: the image would have no MNIST")
	}

	// Runtime: binary, data, user, working directory, entry point.
	env = map[string]string{}
	workdir = ""
	var user, entry, cmd string
	var volumes []string
	type copied struct {
		line      int
		srcs      []string
		dst       string
		fromBuild bool
	}
	var copies []copied
	for _, in := range run.Instrs {
		switch in.Cmd {
		case "ENV":
			for _, kv := range envPairs(in.Args) {
				env[kv[0]] = kv[1]
			}
		case "WORKDIR":
			workdir = absIn(workdir, in.Args)
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = in.Args
		case "CMD":
			cmd = in.Args
		case "VOLUME":
			if v, ok := execForm(in.Args); ok {
				volumes = append(volumes, v...)
			} else {
				volumes = append(volumes, words(in.Args)...)
			}
		case "COPY", "ADD":
			from, srcs, dst, err := copyArgs(in.Args)
			if err != nil {
				add("parse", "line %d: %v", in.Line, err)
				continue
			}
			c := copied{line: in.Line, dst: absIn(workdir, dst), fromBuild: from != "" && build.refersTo(from)}
			if strings.HasSuffix(dst, "/") {
				c.dst += "/"
			}
			for _, s := range srcs {
				c.srcs = append(c.srcs, absIn(build.workdirOr("/"), s))
			}
			copies = append(copies, c)
		}
	}

	// The binary on PATH at /usr/local/bin/mnistgpu.
	if binOut != "" && !slices.ContainsFunc(copies, func(c copied) bool {
		if !c.fromBuild || !slices.Contains(c.srcs, binOut) {
			return false
		}
		return c.dst == binaryPath || (strings.HasSuffix(c.dst, "/") && path.Join(c.dst, path.Base(binOut)) == binaryPath)
	}) {
		add("binary", "the runtime stage does not COPY --from=%s %s to %s", build.ref(), binOut, binaryPath)
	}

	// MNIST where $MNISTGPU_DATA says.
	data, ok := env[dataEnv]
	switch {
	case !ok || data == "":
		add("data", "the runtime stage does not set ENV %s", dataEnv)
	case !path.IsAbs(data) || strings.Contains(data, "$"):
		add("data", "ENV %s=%s: want an absolute path written out", dataEnv, data)
	case fetchDir != "" && !slices.ContainsFunc(copies, func(c copied) bool {
		return c.fromBuild && slices.Contains(c.srcs, fetchDir) && path.Clean(c.dst) == path.Clean(data)
	}):
		add("data", "the runtime stage does not COPY --from=%s %s (the fetch-mnist folder) to %s=%s", build.ref(), fetchDir, dataEnv, data)
	}

	// Not root.
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	switch {
	case user == "":
		add("user", "the runtime stage has no USER: the container would run as root")
	case name == "root" || name == "0" || strings.Contains(name, "$"):
		add("user", "USER %s: want a fixed user that is not root", user)
	}

	// WORKDIR /runs, a volume.
	if workdir != runsDir {
		add("workdir", "the runtime stage's WORKDIR is %q, want %s", workdir, runsDir)
	}
	if !slices.Contains(volumes, runsDir) {
		add("volume", "the runtime stage does not declare VOLUME %s", runsDir)
	}

	// ENTRYPOINT ["mnistgpu"]; a CMD, if any, in exec form too.
	if e, ok := execForm(entry); !ok || !slices.Equal(e, []string{"mnistgpu"}) {
		add("entrypoint", "ENTRYPOINT %s: want the exec form [\"mnistgpu\"]", entry)
	}
	if _, ok := execForm(cmd); cmd != "" && !ok {
		add("entrypoint", "CMD %s: want the exec form (a JSON array), so its words reach mnistgpu as arguments", cmd)
	}
	return found
}

// workdirOr is the stage's last WORKDIR (where relative COPY --from sources
// are read), or def.
func (s *stage) workdirOr(def string) string {
	dir := ""
	for _, in := range s.Instrs {
		if in.Cmd == "WORKDIR" {
			dir = absIn(dir, in.Args)
		}
	}
	if dir == "" {
		return def
	}
	return dir
}

// ref is how a COPY --from names the stage.
func (s *stage) ref() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprint(s.Index)
}

// ---------------------------------------------------------------------------
// The module's files.

// root finds the module root (the folder with go.mod) above this package.
func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// goDirective returns the version in go.mod's `go` line.
func goDirective(gomod string) (string, error) {
	for l := range strings.Lines(gomod) {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "go" {
			return f[1], nil
		}
	}
	return "", errors.New("go.mod has no go directive")
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Tests.

func TestDockerfileCUDA(t *testing.T) {
	goVersion, err := goDirective(readFile(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	src := readFile(t, dockerfileName)
	for _, f := range check(src, goVersion) {
		t.Errorf("%s: %s", dockerfileName, f)
	}
	// make docker-cuda12: the CUDA 12 base, passed as the build argument BASE.
	mk := readFile(t, makefileName)
	m := regexp.MustCompile(`(?m)^CUDA12_BASE\s*\??=\s*(\S+)\s*$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("%s does not set CUDA12_BASE", makefileName)
	}
	target := regexp.MustCompile(`(?m)^docker-cuda12:.*\n\t(.*)$`).FindStringSubmatch(mk)
	if target == nil || !strings.Contains(target[1], "docker build -f "+dockerfileName) ||
		!strings.Contains(target[1], "--build-arg BASE=$(CUDA12_BASE)") {
		t.Fatalf("%s: want a docker-cuda12 target running docker build -f %s --build-arg BASE=$(CUDA12_BASE), got %q", makefileName, dockerfileName, target)
	}
	for _, f := range checkWith(src, goVersion, map[string]string{"BASE": m[1]}, "12") {
		t.Errorf("%s with BASE=%s: %s", dockerfileName, m[1], f)
	}
	// The Dockerfile's comment gives the same CUDA 12 tag as the Makefile.
	if !strings.Contains(src, "--build-arg BASE="+m[1]) {
		t.Errorf("%s does not show --build-arg BASE=%s", dockerfileName, m[1])
	}
}

// TestCheckBuildArgs: a base image named by a global ARG, overridden by a
// build argument, is held to the CUDA major asked for.
func TestCheckBuildArgs(t *testing.T) {
	withArg := "ARG BASE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04\n" +
		strings.Replace(good, "FROM nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "FROM ${BASE} AS runtime\nARG BASE", 1)
	cuda12 := "nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04"
	tests := []struct {
		name  string
		src   string
		args  map[string]string
		major string
		want  string // the check that must fail; "" for none
	}{
		{"default", withArg, nil, "13", ""},
		{"cuda 12 by build arg", withArg, map[string]string{"BASE": cuda12}, "12", ""},
		{"$NAME form", strings.Replace(withArg, "${BASE}", "$BASE", 1), map[string]string{"BASE": cuda12}, "12", ""},
		{"default is not 12", withArg, nil, "12", "cuda-image"},
		{"cuda 12 where 13 is wanted", withArg, map[string]string{"BASE": cuda12}, "13", "cuda-image"},
		{"build arg latest", withArg, map[string]string{"BASE": "nvidia/cuda:latest"}, "12", "cuda-image"},
		{"build arg devel", withArg, map[string]string{"BASE": "nvidia/cuda:12.9.1-cudnn-devel-ubuntu24.04"}, "12", "cuda-image"},
		{"build arg not cuda", withArg, map[string]string{"BASE": "ubuntu:24.04"}, "12", "cuda-image"},
		{"undeclared build arg", withArg, map[string]string{"CUDA": cuda12}, "13", "build-arg"},
		{"arg without default", strings.Replace(withArg, "ARG BASE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "ARG BASE", 1), nil, "13", "cuda-image"},
		{"arg declared after FROM only", strings.Replace(withArg, "ARG BASE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04\n", "", 1),
			map[string]string{"BASE": cuda12}, "12", "build-arg"},
		{"arg default cuda 12", strings.Replace(withArg, "13.0.2", "12.9.1", 1), nil, "13", "cuda-image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := checkWith(tt.src, "1.26.8", tt.args, tt.major)
			if tt.want == "" {
				if len(found) != 0 {
					t.Fatalf("want no findings, got %v", found)
				}
				return
			}
			if !slices.ContainsFunc(found, func(f finding) bool { return f.Check == tt.want }) {
				t.Errorf("want a %q finding, got %v", tt.want, found)
			}
		})
	}
}

// good is a Dockerfile that passes every check; the cases below break it one
// way at a time, to show that each check can fail.
const good = `# syntax=docker/dockerfile:1
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
      -o /out/mnistgpu \
# a comment inside a continuation
      ./cmd/mnistgpu
RUN go run ./scripts/fetch-mnist /out/mnist

FROM nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04
RUN useradd --uid 10001 mnistgpu && mkdir /runs && chown 10001 /runs
COPY --from=build /out/mnistgpu /usr/local/bin/mnistgpu
COPY --from=build /out/mnist /usr/share/mnistgpu/mnist
ENV MNISTGPU_DATA=/usr/share/mnistgpu/mnist \
    LD_LIBRARY_PATH=/usr/local/cuda/lib64
USER 10001:10001
WORKDIR /runs
VOLUME ["/runs"]
ENTRYPOINT ["mnistgpu"]
CMD ["--help"]
`

// edit applies replacements to good; each old text must be there.
func edit(t *testing.T, edits ...string) string {
	t.Helper()
	src := good
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("the good Dockerfile has no %q", edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	return src
}

func TestCheckCatchesBrokenDockerfiles(t *testing.T) {
	if found := check(good, "1.26.8"); len(found) != 0 {
		t.Fatalf("the good Dockerfile fails: %v", found)
	}
	tests := []struct {
		name      string
		edits     []string // old, new, old, new, ... applied to good
		goVersion string   // go.mod's; default 1.26.8
		want      string   // the check that must fail
	}{
		{"three stages", []string{"FROM nvidia/cuda", "FROM alpine:3.20 AS extra\nFROM nvidia/cuda"}, "", "stages"},
		{"one stage", []string{"FROM nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", ""}, "", "stages"},
		{"go image not golang", []string{"golang:1.26.8-bookworm", "debian:bookworm"}, "", "go-image"},
		{"go tag only minor", []string{"golang:1.26.8-bookworm", "golang:1.26-bookworm"}, "", "go-image"},
		{"go tag latest", []string{"golang:1.26.8-bookworm", "golang:latest"}, "", "go-image"},
		{"go tag untagged", []string{"golang:1.26.8-bookworm", "golang"}, "", "go-image"},
		{"go.mod says another patch", nil, "1.26.9", "go-image"},
		{"go tag longer version", []string{"golang:1.26.8-bookworm", "golang:1.26.80"}, "", "go-image"},
		{"cuda not nvidia", []string{"nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "ubuntu:24.04"}, "", "cuda-image"},
		{"cuda latest", []string{"nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "nvidia/cuda:latest"}, "", "cuda-image"},
		{"cuda untagged", []string{"nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "nvidia/cuda"}, "", "cuda-image"},
		{"cuda 12", []string{"13.0.2-cudnn", "12.9.1-cudnn"}, "", "cuda-image"},
		{"cuda not patch-pinned", []string{"13.0.2-cudnn", "13.0-cudnn"}, "", "cuda-image"},
		{"cuda without cudnn", []string{"13.0.2-cudnn-runtime", "13.0.2-runtime"}, "", "cuda-image"},
		{"cuda devel", []string{"cudnn-runtime", "cudnn-devel"}, "", "cuda-image"},
		{"cuda tag variable", []string{"nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", "nvidia/cuda:${CUDA_TAG}"}, "", "cuda-image"},
		{"cgo default", []string{"CGO_ENABLED=0 go build", "go build"}, "", "cgo"},
		{"cgo on", []string{"CGO_ENABLED=0 go build", "CGO_ENABLED=1 go build"}, "", "cgo"},
		{"cgo off only after go build", []string{"CGO_ENABLED=0 go build", "go build",
			"RUN go run ./scripts/fetch-mnist", "ENV CGO_ENABLED=0\nRUN go run ./scripts/fetch-mnist"}, "", "cgo"},
		{"cgo off then on", []string{"CGO_ENABLED=0 go build", "go build",
			"RUN go mod download", "ENV CGO_ENABLED=0\nRUN go mod download\nENV CGO_ENABLED=1"}, "", "cgo"},
		{"no trimpath", []string{"-trimpath", ""}, "", "go-build"},
		{"no go build", []string{"CGO_ENABLED=0 go build", "echo"}, "", "go-build"},
		{"no fetch-mnist", []string{"RUN go run ./scripts/fetch-mnist /out/mnist", "RUN mkdir -p /out/mnist"}, "", "fetch-mnist"},
		{"fetch-mnist elsewhere", []string{"fetch-mnist /out/mnist", "fetch-mnist /out/data"}, "", "data"},
		{"no data env", []string{"MNISTGPU_DATA=/usr/share/mnistgpu/mnist \\", "\\"}, "", "data"},
		{"data env elsewhere", []string{"MNISTGPU_DATA=/usr/share/mnistgpu/mnist", "MNISTGPU_DATA=/data"}, "", "data"},
		{"data env relative", []string{"MNISTGPU_DATA=/usr/share/mnistgpu/mnist", "MNISTGPU_DATA=data/mnist"}, "", "data"},
		{"data env in build stage only", []string{"ENV MNISTGPU_DATA=/usr/share/mnistgpu/mnist \\", "ENV \\",
			"WORKDIR /src", "WORKDIR /src\nENV MNISTGPU_DATA=/usr/share/mnistgpu/mnist"}, "", "data"},
		{"data not from build", []string{"COPY --from=build /out/mnist ", "COPY data/mnist "}, "", "data"},
		{"data from another stage", []string{"COPY --from=build /out/mnist ", "COPY --from=other /out/mnist "}, "", "data"},
		{"data copy elsewhere", []string{"/out/mnist /usr/share/mnistgpu/mnist", "/out/mnist /usr/share/mnist"}, "", "data"},
		{"binary elsewhere", []string{"/out/mnistgpu /usr/local/bin/mnistgpu", "/out/mnistgpu /opt/mnistgpu"}, "", "binary"},
		{"binary not from build", []string{"COPY --from=build /out/mnistgpu", "COPY bin/mnistgpu"}, "", "binary"},
		{"binary not the one built", []string{"-o /out/mnistgpu", "-o /out/other"}, "", "binary"},
		{"no user", []string{"USER 10001:10001\n", ""}, "", "user"},
		{"user root", []string{"USER 10001:10001", "USER root"}, "", "user"},
		{"user 0", []string{"USER 10001:10001", "USER 0:0"}, "", "user"},
		{"user root with a group", []string{"USER 10001:10001", "USER root:10001"}, "", "user"},
		{"user back to root", []string{"USER 10001:10001", "USER 10001:10001\nUSER 0"}, "", "user"},
		{"no workdir", []string{"WORKDIR /runs\n", ""}, "", "workdir"},
		{"workdir elsewhere", []string{"WORKDIR /runs", "WORKDIR /work"}, "", "workdir"},
		{"workdir in build stage only", []string{"WORKDIR /runs\n", "", "WORKDIR /src", "WORKDIR /runs"}, "", "workdir"},
		{"no volume", []string{`VOLUME ["/runs"]`, ""}, "", "volume"},
		{"volume elsewhere", []string{`VOLUME ["/runs"]`, "VOLUME /data"}, "", "volume"},
		{"entrypoint shell form", []string{`ENTRYPOINT ["mnistgpu"]`, "ENTRYPOINT mnistgpu"}, "", "entrypoint"},
		{"entrypoint other", []string{`ENTRYPOINT ["mnistgpu"]`, `ENTRYPOINT ["/bin/sh", "-c", "mnistgpu"]`}, "", "entrypoint"},
		{"no entrypoint", []string{`ENTRYPOINT ["mnistgpu"]`, ""}, "", "entrypoint"},
		{"cmd shell form", []string{`CMD ["--help"]`, "CMD --help"}, "", "entrypoint"},
		{"dangling continuation", []string{`CMD ["--help"]`, `CMD ["--help"] \\`}, "", "parse"},
		{"heredoc", []string{"RUN go mod download", "RUN <<EOF\ngo mod download\nEOF"}, "", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, tt.edits...)
			v := tt.goVersion
			if v == "" {
				v = "1.26.8"
			}
			found := check(src, v)
			if !slices.ContainsFunc(found, func(f finding) bool { return f.Check == tt.want }) {
				t.Errorf("want a %q finding, got %v", tt.want, found)
			}
		})
	}
}

// TestCheckAcceptsEquivalentForms: other ways of writing the same image pass.
func TestCheckAcceptsEquivalentForms(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
	}{
		{"cgo off by ENV", []string{"CGO_ENABLED=0 go build", "go build", "WORKDIR /src", "WORKDIR /src\nENV CGO_ENABLED=0 GOFLAGS=-mod=readonly"}},
		{"golang by digest too", []string{"golang:1.26.8-bookworm", "golang:1.26.8-bookworm@sha256:0123abcd"}},
		{"golang bare version", []string{"golang:1.26.8-bookworm", "golang:1.26.8"}},
		{"docker.io names", []string{"FROM golang:", "FROM docker.io/library/golang:", "FROM nvidia/cuda:", "FROM docker.io/nvidia/cuda:"}},
		{"platform flag, lower-case as", []string{"FROM golang:1.26.8-bookworm AS build", "FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm as build"}},
		{"stage by number", []string{"COPY --from=build /out/mnistgpu", "COPY --from=0 /out/mnistgpu", "COPY --from=build /out/mnist ", "COPY --from=0 /out/mnist "}},
		{"binary into a folder", []string{"/out/mnistgpu /usr/local/bin/mnistgpu", "/out/mnistgpu /usr/local/bin/"}},
		{"relative paths from WORKDIR", []string{"-o /out/mnistgpu", "-o bin/mnistgpu", "COPY --from=build /out/mnistgpu", "COPY --from=build /src/bin/mnistgpu"}},
		{"fetch-mnist default folder", []string{"fetch-mnist /out/mnist", "fetch-mnist", "COPY --from=build /out/mnist ", "COPY --from=build /src/data/mnist "}},
		{"legacy ENV, quotes", []string{"ENV MNISTGPU_DATA=/usr/share/mnistgpu/mnist \\\n    LD_LIBRARY_PATH=/usr/local/cuda/lib64", "ENV MNISTGPU_DATA \"/usr/share/mnistgpu/mnist\""}},
		{"user by name", []string{"USER 10001:10001", "USER mnistgpu"}},
		{"volume shell form", []string{`VOLUME ["/runs"]`, "VOLUME /runs"}},
		{"no CMD", []string{`CMD ["--help"]`, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if found := check(edit(t, tt.edits...), "1.26.8"); len(found) != 0 {
				t.Errorf("want no findings, got %v", found)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []instr
	}{
		{"comments and blanks", "# c\n\nFROM a\n  # indented comment\nRUN x\n",
			[]instr{{3, "FROM", "a"}, {5, "RUN", "x"}}},
		{"continuation", "RUN a \\\n  b \\\n  c\nUSER u\n",
			[]instr{{1, "RUN", "a    b    c"}, {4, "USER", "u"}}},
		{"comment and blank inside continuation", "RUN a \\\n# no\n\n  b\n",
			[]instr{{1, "RUN", "a    b"}}},
		{"lower-case keyword, tab", "run\tx y\r\nenv K=V\n",
			[]instr{{1, "RUN", "x y"}, {2, "ENV", "K=V"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parse("# escape=`\nFROM a\n"); err == nil {
		t.Error("an escape directive is accepted")
	}
}

func TestEnvPairs(t *testing.T) {
	tests := []struct {
		args string
		want [][2]string
	}{
		{"A=1", [][2]string{{"A", "1"}}},
		{`A=1 B="two words" C=x\ y`, [][2]string{{"A", "1"}, {"B", "two words"}, {"C", "x y"}}},
		{"LEGACY some value", [][2]string{{"LEGACY", "some value"}}},
		{"P=/a:${P}", [][2]string{{"P", "/a:${P}"}}},
	}
	for _, tt := range tests {
		if got := envPairs(tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("envPairs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestImageRef(t *testing.T) {
	tests := []struct{ ref, repo, tag, digest string }{
		{"golang:1.26.8-bookworm", "golang", "1.26.8-bookworm", ""},
		{"nvidia/cuda", "nvidia/cuda", "", ""},
		{"localhost:5000/x/y:1@sha256:ab", "localhost:5000/x/y", "1", "sha256:ab"},
		{"localhost:5000/x/y", "localhost:5000/x/y", "", ""},
	}
	for _, tt := range tests {
		repo, tag, digest := imageRef(tt.ref)
		if repo != tt.repo || tag != tt.tag || digest != tt.digest {
			t.Errorf("imageRef(%q) = %q %q %q, want %q %q %q", tt.ref, repo, tag, digest, tt.repo, tt.tag, tt.digest)
		}
	}
}

// TestDockerignore keeps local data, runs and build outputs out of the build
// context (MNIST comes from the Go module inside the build).
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), dockerignoreName))
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			have = append(have, strings.Trim(l, "/"))
		}
	}
	for _, want := range []string{".git", "data", "runs", ".gpu", "bin", "report", "sweeps"} {
		if !slices.Contains(have, want) {
			t.Errorf("%s does not exclude %s/", dockerignoreName, want)
		}
	}
}

// TestReadmeDocumentsDocker: the README says how to build and run the image.
func TestReadmeDocumentsDocker(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), readmeName))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s does not exist yet: nothing to check", readmeName)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"docker run --gpus all", dockerfileName, "make docker-cuda12", "580", "525"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not mention %q", readmeName, want)
		}
	}
}
