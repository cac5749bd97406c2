//go:build linux

package agent

import "golang.org/x/sys/unix"

// auditArch is the ABI the filter lets through; arm64 has no second ABI
// sharing it.
const (
	auditArch = unix.AUDIT_ARCH_AARCH64
	abiBit    = 0
)

// archDenied are this architecture's own syscalls the filter refuses.
var archDenied = []uintptr{}

// archIDArgs: arm64 has only fchownat and fchown (seccomp.go).
var archIDArgs = []idCall{}
