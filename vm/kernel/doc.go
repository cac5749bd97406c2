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
package kernel
