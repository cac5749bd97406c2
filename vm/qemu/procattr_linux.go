package qemu

import "syscall"

// sysProcAttr makes QEMU die with silo, however silo ends, and keeps it
// out of silo's process group: a Ctrl-C at the terminal is for silo to
// relay to the guest, and must not reach QEMU, which would quit.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
