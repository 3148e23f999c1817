package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "mnistgpu", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "-tags", Value: "nocuda"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-02T08:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want Info
		line string
	}{
		{"tagged build from git", vcs, true,
			Info{Version: "v1.2.0", Revision: "0123456789abcdef0123", Time: "2026-12-02T08:00:00Z", Modified: true,
				Go: "go1.26.8", Platform: "linux/arm64", Tags: "nocuda"},
			"mnistgpu v1.2.0 (revision 0123456789ab, modified) go1.26.8 linux/arm64 tags nocuda"},
		{"source tree without VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "mnistgpu", Version: "(devel)"}}, true,
			Info{Version: "(devel)", Go: "go1.26.8", Platform: runtime.GOOS + "/" + runtime.GOARCH},
			"mnistgpu (devel) (revision unknown) go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH},
		{"no build information", nil, false,
			Info{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH},
			"mnistgpu (devel) (revision unknown) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromBuildInfo(c.bi, c.ok)
			if got != c.want {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			if s := got.String(); s != c.line {
				t.Fatalf("String() = %q, want %q", s, c.line)
			}
		})
	}
}

func TestRead(t *testing.T) {
	in := Read()
	if in.Go != runtime.Version() || in.Version == "" || !strings.Contains(in.Platform, "/") {
		t.Fatalf("Read() = %+v", in)
	}
}
