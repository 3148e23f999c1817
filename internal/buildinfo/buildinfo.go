// Package buildinfo describes the running mnistgpu binary: its module
// version, the VCS revision it was built from and the Go that built it, as
// runtime/debug.ReadBuildInfo has them. `mnistgpu --version` prints it and
// every run folder's config.json records it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what the binary knows about its own build.
type Info struct {
	// Version is the main module's version: a tag or pseudo-version, or
	// "(devel)" for a build from a source tree without VCS information.
	Version string `json:"version"`
	// Revision is the VCS revision (commit) built; "" when unknown (a
	// build with -buildvcs=false or outside a repository).
	Revision string `json:"revision,omitempty"`
	// Time is the revision's commit time (RFC 3339).
	Time string `json:"revision_time,omitempty"`
	// Modified says the source tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the Go release that built the binary, e.g. "go1.26.8".
	Go string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// Tags are the build tags given with -tags (e.g. "nocuda").
	Tags string `json:"tags,omitempty"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	return FromBuildInfo(bi, ok)
}

// FromBuildInfo extracts Info from bi (ok false: no build information, as
// in some test binaries); the Go version and platform then come from the
// runtime.
func FromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	in := Info{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		return in
	}
	if v := bi.Main.Version; v != "" {
		in.Version = v
	}
	if bi.GoVersion != "" {
		in.Go = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "-tags":
			in.Tags = s.Value
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		in.Platform = goos + "/" + goarch
	}
	return in
}

// String is the one line `mnistgpu --version` prints, e.g.
// "mnistgpu v1.2.0 (revision 0123abcd4567, modified) go1.26.8 linux/amd64".
func (in Info) String() string {
	rev := "revision unknown"
	if in.Revision != "" {
		r := in.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		rev = "revision " + r
		if in.Modified {
			rev += ", modified"
		}
	}
	var tags string
	if in.Tags != "" {
		tags = " tags " + strings.ReplaceAll(in.Tags, ",", " ")
	}
	return fmt.Sprintf("mnistgpu %s (%s) %s %s%s", in.Version, rev, in.Go, in.Platform, tags)
}
