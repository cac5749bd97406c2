// Package rootfs merges the layers of an image into one root filesystem
// and writes it out, either as an ext4 filesystem image (what a VM boots
// read-only) or as a directory (what the namespace backend uses).
//
// Layers are uncompressed tar streams applied in order with OCI semantics:
// a ".wh.NAME" entry deletes NAME from the layers below, a ".wh..wh..opq"
// entry hides everything the layers below put in its directory, and a
// later entry replaces an earlier one at the same path.
//
// Merging happens in two passes over the layers, without extracting
// anything to disk in between. The first pass reads only the tar headers
// and builds the final tree in memory; this is where every safety rule is
// enforced (no absolute paths or "..", no entry beneath a symlink, hardlinks
// only to regular files already in the tree, no unknown entry types, tar
// streams that end early or are corrupt are errors) and where the entries
// are counted: an image with more than MaxEntries (default 250,000; a
// tool's maxFiles) is refused as soon as its headers pass the limit, so the
// tree's memory is bounded by the limit, not by the layers. CheckLayer is
// the part of these rules that needs no tree (a pull runs it on each layer
// as it arrives, so that such an image fails there).
//
// Device nodes are kept in the ext4 form (the VM's kernel owns the devices
// they name) and left out of the directory form, which an ordinary user
// could not create and the namespace sandbox does not need (it mounts its
// own /dev): one note (Notes) names them. The second pass writes the
// directories (sorted), then streams the layers once more and copies out
// only the file contents that survived. The output order depends only on
// the layers, so the same layers always give a byte-identical ext4 image.
//
// Ownership, mode bits (setuid, setgid, sticky) and extended attributes
// come from the tar headers and are written into the ext4 image directly,
// so building an image never needs host root. The directory output cannot
// do that as an ordinary user: every file there belongs to the invoking
// user (a user namespace maps it to root inside the sandbox), modes are
// kept, extended attributes are dropped; the Owners option lists the
// paths whose owner is not root (internal/owners), for the sandbox to
// show them with their owners.
//
// The ext4 writer is silo's own (ext4*.go): it writes a compact,
// reproducible image straight from the tar headers, with ownership, modes,
// xattrs and POSIX ACLs in ext4's on-disk forms and times in ext4's
// encoding (1901 to 2446), with no host root and no e2fsprogs. Its tests
// read every image back with e2fsck and debugfs, loop-mount one through
// the host kernel, and boot one as a guest's root. Limits become clear
// errors: file names are at most 255 bytes in both outputs.
package rootfs
