// Package vz is silo's macOS backend: a Linux micro-VM under Apple's
// Virtualization framework (github.com/Code-Hex/vz/v3), booting the same
// kernel, initfs and ext4 rootfs entry as the qemu backend.
//
// The rootfs entry is attached read-only (the guest's writes go to its
// tmpfs scratch, as with qemu), the workspace is shared over virtio-fs,
// and the agent channel and the heartbeat are named virtio-console ports,
// as qemu's virtio-serial ports are, so that the guest's init is the same.
//
// It builds only on macOS (darwin); on other systems the package is empty.
// It has never been compiled or run by silo's CI, which runs on Linux.
package vz
