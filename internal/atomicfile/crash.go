package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// CrashEnv names the test hook "NAME:N": the process kills itself with
// SIGKILL during its N-th write of a file named NAME, once the temporary
// file holds the new content, before it is synced and renamed. Tests of
// resume after a kill use it to stop a child process inside a checkpoint
// write; it is read once, and unset it does nothing.
const CrashEnv = "MNISTGPU_TEST_CRASH"

var crash = sync.OnceValues(func() (string, int64) {
	name, n, ok := strings.Cut(os.Getenv(CrashEnv), ":")
	k, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || k < 1 {
		return "", 0
	}
	return name, k
})

var crashCount atomic.Int64

// maybeCrash kills the process when path is the write CrashEnv names.
func maybeCrash(path string) {
	name, n := crash()
	if name == "" || filepath.Base(path) != name {
		return
	}
	if crashCount.Add(1) == n {
		killSelf()
	}
}
