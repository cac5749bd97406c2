// Package qemu is silo's micro-VM backend on Linux: QEMU's microvm machine
// booting a PVH vmlinux and the silo initfs, under KVM when KVM really
// works here and under TCG otherwise.
//
// The rootfs image entry is attached as a read-only virtio-blk disk (QEMU
// opens it read-only, so the entry can never be written), the workspace is
// shared over virtio-9p, and so is each of the tool's caches (Spec.Mounts),
// one 9p device apiece, tagged silo.m0, silo.m1, … in the spec's order; a
// cache that cannot be shared fails the run. A cache directory the caller
// opened (Mount.Dir) is handed to QEMU as an inherited descriptor and
// shared as /proc/self/fd/N, so QEMU opens that directory, not its path. The host talks to the guest over two
// virtio-serial ports: "silo.agent" carries the agent protocol (session.Attach)
// and "silo.hb" carries the guest init's readiness, heartbeats and errors.
// A host-side watchdog kills a VM whose agent is not ready within the boot
// deadline, or whose heartbeats stop, and says so.
package qemu
