package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dieWithEditor has the kernel send silo SIGTERM when the editor that
// started it dies, even if something else still holds silo's stdin open:
// the sandbox relay forwards it to the server, and the sandbox ends.
func dieWithEditor() {
	ppid := os.Getppid()
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	if os.Getppid() != ppid { // it died before the line above
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
