package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"mnistgpu/internal/buildinfo"
)

func init() {
	// `mnistgpu --version`: the version, VCS revision, Go release and
	// platform of this binary, on one line.
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintln(c.App.Writer, buildinfo.Read())
	}
}
