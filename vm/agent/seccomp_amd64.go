//go:build linux

package agent

import "golang.org/x/sys/unix"

// auditArch is the ABI the filter lets through; abiBit marks the x32
// ABI's syscall numbers, which share it.
const (
	auditArch = unix.AUDIT_ARCH_X86_64
	abiBit    = 0x40000000
)

// archDenied are this architecture's own syscalls the filter refuses.
var archDenied = []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_USELIB, unix.SYS_MODIFY_LDT}

// archIDArgs are the chown calls only this architecture has.
var archIDArgs = []idCall{{unix.SYS_CHOWN, []uint32{dataArg1, dataArg2}}, {unix.SYS_LCHOWN, []uint32{dataArg1, dataArg2}}}
