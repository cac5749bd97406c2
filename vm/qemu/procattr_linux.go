package qemu

import "syscall"

// sysProcAttr makes QEMU die with silo, however silo ends.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
