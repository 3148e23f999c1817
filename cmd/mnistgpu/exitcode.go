package main

import (
	"os"
	"syscall"
)

// The exit codes of mnistgpu, in one place. exitCodesHelp documents them
// for `train --help`, and the README repeats it.
const (
	exitOK       = 0 // done
	exitFailure  = 1 // failed: data, device, files
	exitUsage    = 2 // bad flags or values; nothing was written
	exitDiverged = 3 // train: the loss stopped being finite; the run folder is complete, its status "diverged"
	// An interrupted command exits with 128 + the signal's number, as shells
	// report it: 130 for SIGINT (Ctrl-C), 143 for SIGTERM (see exitSignal).
)

const exitCodesHelp = "Exit codes: 0 done; 1 failed (data, device, files); 2 bad flags or values (nothing written);\n" +
	"   3 diverged: the loss became NaN or infinite, training stopped, the run folder is complete with\n" +
	"     status \"diverged\" in metrics.json and history.csv;\n" +
	"   130 (SIGINT, Ctrl-C) or 143 (SIGTERM): interrupted; the last finished epoch is saved, continue\n" +
	"     with `mnistgpu train --resume DIR`."

// exitSignal is the exit code after sig: 128 + its number.
func exitSignal(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitFailure
}
