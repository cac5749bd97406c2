// Package kernel turns a Linux kernel into the two store entries a silo VM
// boots: the kernel entry and the initfs entry.
//
// The kernel entry is content-addressed: a directory holding the PVH
// vmlinux (extracted from a compressed bzImage: xz, gzip or zstd payload),
// the kernel modules a sandbox needs (virtio, 9p, ext4, overlay, fuse and their
// dependencies, resolved from each module's .modinfo "depends=" and kept in
// load order, signatures stripped) and kernel.json describing both.
//
// The initfs entry is derivation-addressed by the kernel entry's content
// hash and the guest agent's hash: a newc cpio archive whose /init is the
// agent (silo itself, statically linked), with /dev/console, the modules
// and a marker file, /silo-initfs, listing the modules in load order.
//
// The snapshot entry (kind snapshot) is derivation-addressed by the kernel
// and initfs content hashes, the hash of a vm.Snapshotter's shape and the
// snapshot generation: a VM's memory at the guest init's snapshot point,
// made by the backend on first use (Snapshot), referring to its kernel and
// initfs, and rooted per shape (SnapshotRootPrefix + the shape's hash). A
// snapshot that did not restore (SnapshotBroken) moves the generation in
// $SILO_HOME/runtime/snapshot-generation, so that every snapshot is made
// again and the broken one never used; after MaxBrokenSnapshots, VMs only
// boot. GC, through which silo runs every store collection (`silo store
// gc`, `silo runtime gc`, `silo cache gc`, the policy's eviction), drops
// the roots of the stale snapshots (StaleSnapshots: of a kernel or initfs
// that is no longer current, of an older generation, or dangling) under
// the collection's lock, so that it collects them; a dry run lists them
// and what they free, and removes nothing.
package kernel
