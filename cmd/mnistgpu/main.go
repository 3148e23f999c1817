// Command mnistgpu trains the course study's MLP and CNN on MNIST on an
// NVIDIA GPU (cuBLAS, cuDNN and NVRTC loaded at run time) or on the CPU, and
// writes the figures and tables of the study.
//
// This package is flags and wiring only; the work happens in dataset, model,
// kernels, eval, plots and study.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"mnistgpu/internal/buildinfo"
)

// exitError carries a one-line message and an exit code to main.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }

func main() {
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(code)
	}
}

// errorLine is err as the one line main prints: one "mnistgpu: " prefix
// (a message that already starts with it does not get a second), line
// breaks and runs of spaces folded into single spaces.
func errorLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	for strings.HasPrefix(msg, "mnistgpu: ") {
		msg = strings.TrimPrefix(msg, "mnistgpu: ")
	}
	return "mnistgpu: " + msg
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "mnistgpu",
		Usage: "train the MNIST study's MLP and CNN on an NVIDIA GPU or the CPU, and write its figures and tables",
		Description: "Typical use:\n" +
			"   mnistgpu data                          # put MNIST in ./data/mnist (HTTPS mirror, else the Go module proxy)\n" +
			"   mnistgpu train cnn                     # task 2 with the study's defaults, on the GPU if there is one\n" +
			"   mnistgpu train mlp --epochs 3 --device cpu\n" +
			"   mnistgpu devices                       # which GPU and CUDA libraries were found, or why not\n\n" +
			"Flags may come before, between or after a command's arguments; -- ends the flags.",
		Version:              strings.TrimPrefix(buildinfo.Read().String(), "mnistgpu "),
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Commands: []*cli.Command{
			trainCommand(),
			devicesCommand(),
			dataCommand(),
			benchCommand(),
			evalCommand(),
			predictCommand(),
			sweepCommand(),
			reportCommand(),
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return &exitError{msg: err.Error() + " (see --help)", code: exitUsage}
		},
	}
	moveDefaults(app.Commands)
	return app
}
