package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// repeatFlag is --repeat of report and sweep: seeds per cell, by default
// 3 when the runs train on a GPU and 1 on the CPU.
func repeatFlag(what string) *cli.IntFlag {
	return &cli.IntFlag{Name: "repeat", Usage: what + ", seeds seed, seed+1, ... (default 3 when training on a GPU, 1 on the CPU)"}
}

// repeatOf resolves --repeat: the value given, else 3 when the device the
// runs will open is a usable GPU (--device auto or cuda and the CUDA probe
// succeeds) and 1 on the CPU. why says which, for the report's header.
func repeatOf(c *cli.Context) (n int, why string, err error) {
	if c.IsSet("repeat") {
		n = c.Int("repeat")
		if n < 1 {
			return 0, "", fmt.Errorf("--repeat %d: must be at least 1", n)
		}
		return n, fmt.Sprintf("--repeat %d", n), nil
	}
	if c.String("device") != "cpu" && probeCUDA().OK() {
		return 3, "the default when training on a GPU, where seeds are cheap; --repeat N to change", nil
	}
	return 1, "the default when training on the CPU; --repeat N for more, e.g. 3 for confidence intervals over seeds", nil
}
