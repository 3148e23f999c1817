//go:build unix

package atomicfile

import "syscall"

func killSelf() { syscall.Kill(syscall.Getpid(), syscall.SIGKILL) }
