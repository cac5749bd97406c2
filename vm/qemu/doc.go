// Package qemu is silo's micro-VM backend on Linux: QEMU's microvm machine
// booting a PVH vmlinux and the silo initfs, under KVM when KVM really
// works here and under TCG otherwise.
//
// The rootfs image entry is attached as a read-only virtio-blk disk (QEMU
// opens it read-only, so the entry can never be written; like the scratch
// disk, with aio=io_uring where QEMU and the kernel allow it, iouring.go),
// the workspace is shared over virtio-9p, and so is each of the tool's
// caches (Spec.Mounts), one 9p device apiece, tagged silo.m0, silo.m1, …
// in the spec's order; a cache that cannot be shared fails the run. A cache directory the caller
// opened (Mount.Dir) is handed to QEMU as an inherited descriptor and
// shared as /proc/self/fd/N, so QEMU opens that directory, not its path.
// The host talks to the guest over two virtio-serial ports: "silo.agent"
// carries the agent protocol (session.Start, then session.Run; a restored
// VM's host starts the session as soon as QEMU has connected the port,
// while the guest resumes, so that the spec waits for the agent) and
// "silo.hb" carries the guest init's readiness, heartbeats and errors.
// A host-side watchdog kills a VM whose agent is not ready within the boot
// deadline, or whose heartbeats stop, and says so.
//
// # Snapshots
//
// The backend is a vm.Snapshotter. MakeSnapshot boots the kernel and
// initfs with silo.pause=1 in the spec's shape, its disks and directories
// replaced by empty stand-ins, waits for the guest init's BeatPaused (its
// modules loaded, virtio_blk bound to no disk; no disk read, no 9p share
// attached, so QEMU has no migration blocker and the guest holds nothing
// of a disk),
// and migrates the running guest over QMP to "exec:cat > FILE.part && mv
// FILE.part FILE" (QEMU 7.2 has no file: URI; the bandwidth limit lifted),
// waiting for FILE, which is whole. The stream is then compacted: QEMU
// writes a record for each zero page of the guest's RAM (half a million
// for 2 GiB) and, loading, checks each such page of its own, a tenth of a
// second of every restore; they are left out (compactStream), but for the
// guest RAM's pages QEMU loads the kernel into and those of the other RAM
// blocks (firmware, ACPI tables), and the rest of the stream is copied
// byte for byte. A stream of another shape is kept as QEMU wrote it.
// The snapshot's guest boots every vCPU (no maxcpus=1: a vCPU first
// brought online after a restore can hang the guest) and zeroes the pages
// it frees (init_on_free=1), which the migration then skips.
// Its guest RAM is a memory backend of its own, "silo-ram", the name of
// its pages in the stream.
//
// A run with Spec.Snapshot starts the same command line (the kernel
// command line of a paused guest carries no run parameters) with the
// run's own rootfs, scratch, workspace and caches and -incoming fd:N. The
// guest RAM is mapped, not loaded from the stream: the entry's stream is
// split once (splitStream) into the guest RAM as a sparse file and the
// rest (the devices' state and the small RAM blocks: tens of KB), kept in
// the home's runtime/snapshot-ram under the entry's name, size and
// modification time, so that an entry changed since is split again
// (ramimage.go). The run's QEMU maps the RAM file privately
// (memory-backend-file, share=off: the guest's writes go to pages of its
// own, never to the file) and loads the rest from -incoming; that took
// the restore phase from about 160 ms to about 100 ms under TCG here (a 2
// GiB guest, 116 MB of RAM in the stream). Without a home, or with a
// stream it cannot split, QEMU loads the entry's whole stream. The split
// files are derived from the entry, which stays what GC and verify see;
// those of entries no longer in the store, or changed, are removed
// whenever a new pair is made.
//
// The guest resumes running, and the host sends on the
// heartbeat port a go line (guestinit.Go: the run's parameters, 64 bytes
// of entropy, the time). The guest answers BeatResumed and goes on as a
// booted one does. SnapshotShape is the command line with stand-in paths,
// the QEMU binary's identity and, under KVM, the host CPU model: what a
// snapshot restores in. A restore that fails before BeatResumed (QEMU
// cannot load the stream, the guest does not answer within
// restoreTimeout) is a RestoreError: one line on the spec's Stderr,
// Spec.SnapshotFailed, and the VM boots.
//
// # What restored guests share
//
// Every VM restored from one snapshot starts from the same memory, so
// whatever the guest did before its snapshot point is the same in every
// run, by construction:
//
//   - The kernel's address layout. It is not randomized on a cold boot
//     either: the backend boots the vmlinux through PVH, which skips the
//     bzImage decompressor where x86 Linux randomizes the kernel's base
//     and sets the flag that enables the randomization of its memory
//     regions (KASLR). A bzImage boot would randomize a cold boot, not the
//     runs of one snapshot.
//   - Kernel state drawn from the RNG during boot rather than on first
//     use: the slab freelist order, the stack canaries of the tasks that
//     exist at the snapshot point (the init and agent, PID 1, and the
//     kernel threads), and any secret a subsystem takes once at its start.
//   - The guest agent's process, PID 1: its address layout and its Go
//     runtime's random state (map hash seeds, select order, math/rand's
//     global source), which therefore produce the same sequence after
//     every restore. The agent draws no secret from them; crypto/rand
//     reads getrandom(2), reseeded like the rest. Only restarting the
//     agent after the go line (a new process: a Go runtime start per run)
//     would make them each run's own.
//
// What is each run's own: the go line's 64 bytes of host entropy are
// credited to the kernel's pool and the CRNG reseeded before anything of
// the run starts, so /dev/urandom and getrandom(2), the address layout
// and stack canaries of every process the command starts (exec
// randomizes them afresh), and the boot ID (made on its first read)
// differ between runs (tests/qemu_snapshot_test.go checks /dev/urandom);
// and the clock is set to the host's. Nothing of a run is in the
// snapshot: the guest has read no disk and mounted no share before its
// snapshot point.
package qemu
