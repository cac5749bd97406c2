// Package store holds silo's immutable, blake3-addressed entries: image
// layers, root filesystems, setup results, kernels, initfs images and VM
// memory snapshots.
//
// The store knows nothing of OCI, virtual machines or TOML. It keeps bytes
// and trees, their metadata, the roots that keep them alive, and it
// collects what no root reaches.
//
// # Layout
//
// Under $SILO_HOME (Open's argument), which Open first makes private
// (mode 0700; a home another user owns is refused): entries keep
// the images' setuid files, which no other local user may reach.
//
//	store/<hash>-<name>          an entry: a read-only file or directory tree
//	store/.meta/<entry>.json     its metadata, written atomically; the file's
//	                             mtime is the entry's last use
//	store/.zst/<entry>.zst       the compressed form of a compressed entry
//	store/.idx/content/<hex>/<entry>
//	                             content index of derivation-addressed entries
//	store/.real/<hex>.json       realisations: key -> entry
//	store/.tmp/<owner>/          staging of one open Store handle
//	store/.lock                  the store lock (flock)
//	roots/<name>                 direct root: symlink to ../store/<entry>
//	roots/.indirect/<hex>.json   indirect root: an external file + entries,
//	                             optionally in named parts (one per tool)
//	roots/.temp/<owner>[.<n>]    temporary roots: entry names, one a line,
//	                             flock'ed by the live process that owns them
//
// <hash> is the Nix base32 form of the first 20 bytes (160 bits) of a
// blake3-256 digest: of the entry's content for content-addressed
// entries, or the caller's derivation hash for derivation-addressed ones.
// A derivation may have several outputs (entries of the same <hash> and
// different <name>s: a build step rebuilt to other bytes); ByDeriver
// returns the one its realisation names, which SetOutput moves.
// <name> is human-readable; names that are empty, longer than 200 bytes,
// start with a dot, or contain "/", "..", NUL, control characters or
// invalid UTF-8 are refused. An entry that is a metadata file without an
// entry, or an entry without a metadata file, is not an entry: GC removes
// it and Verify reports it.
//
// # Content hashes
//
// A file's content hash is the blake3-256 of its bytes; the executable
// bit is kept on disk but not hashed. A file of 2 MiB or more is hashed
// on every core, in aligned 1 MiB subtrees of BLAKE3's tree (hashpar.go),
// each by the AVX-512 kernels of internal/b3simd where the CPU has them;
// the digest is b3sum's, bit for bit. A directory's is the blake3-256 of
// its canonical serialization, in the spirit of Nix's NAR:
//
//	"silo-tree-1\n" node
//	node      = 'd' mode { 'e' str(name) node } 'E'   names sorted bytewise
//	          | 'f' mode u64(size) bytes
//	          | 'l' mode(0555) str(target)
//	          | 'c'|'b' mode u64(rdev) | 'p' mode
//	mode      = u32: permission, setuid, setgid and sticky bits, write bits cleared
//	str(s)    = u32(len) bytes;  integers are little-endian
//
// Owners and timestamps are not hashed: the same tree added by two users
// is the same entry. Hard links are serialized as separate files; sockets
// are refused. The compressed form of a directory is this serialization
// with magic "silo-tree-1+owner\n", each mode as it is on disk (write bits
// included) and, after each mode, the uid, gid and mtime (u32, u32, i64
// nanoseconds), so that decompressing restores modes, owners (when
// running as root) and mtimes; the hash is computed over the form without
// them.
//
// Entries are read-only on disk: files 0444 or 0555, directories with
// their write bits cleared; modes and owners inside a moved tree are kept.
// A tree added with AddOptions.KeepModes (a directory rootfs, which the
// namespace backend shows as the image has it) keeps every mode below its
// top directory, write bits included; only the top directory is made
// read-only, so nothing can be added to or removed from the entry's top,
// and Verify, which hashes the content, finds any change to a file. The
// sandboxes see such an entry through a read-only bind mount only.
//
// # Adding
//
// Content is staged under the handle's store/.tmp/<owner>/, fsynced (a
// tree with one syncfs) and made read-only. A stream is copied and hashed
// in one pass, holes kept, and dropped before its fsync when its entry
// exists already. A regular file is copied inside the kernel
// (copy_file_range over its data segments, so holes stay holes), and the
// copy, not the source, is hashed while its fsync runs: the hash is that
// of the bytes the store keeps. With AddOptions.Move the file is renamed
// there instead. A content-addressed tree is hashed first and not copied
// at all when already present. Then, holding the store lock shared:
//
//  1. if the entry's metadata exists, the staged copy is dropped and the
//     existing entry returned: nothing is written;
//  2. an intent file store/.tmp/<owner>/intent-<entry> is written;
//  3. the staged content is renamed into place with RENAME_NOREPLACE (if
//     another process won the race, its entry is hashed and adopted),
//     the top directory of a tree is made read-only, and store/ is fsynced;
//  4. the metadata is written (temp file, fsync, rename, fsync of .meta/);
//  5. the entry joins the handle's temporary root; the intent is removed.
//
// A process killed at any point leaves either nothing in the store or a
// whole, registered entry, plus its staging directory. Open (and GC)
// sweep the staging directories of dead owners, and, under the exclusive
// lock, roll back what a dead owner's intent names but has no metadata.
//
// # Roots and the lock protocol
//
// Direct roots are symlinks roots/<name>. Indirect roots pin entries while
// an external file (a project's silo.lock) exists, and are pruned by GC
// once it is gone. Temporary roots are files under roots/.temp/ held with
// flock(2) by their owner; the kernel drops the lock when the process dies,
// even by SIGKILL, and the next Open or GC removes the file. A temporary
// root file is created and locked under a ".new" name and renamed into
// place, so it is never seen unlocked while its owner lives. Every Store
// handle owns one: everything it adds or uses stays alive until Close.
//
// GC takes store/.lock exclusively (flock LOCK_EX) for mark and sweep;
// adding, root registration, realisations and decompression take it
// shared, only around the steps that make an entry visible and rooted,
// never while copying or hashing. So a GC either runs before an entry is
// visible (and cannot see it) or after it is rooted (and keeps it). GC
// marks from direct, indirect and live temporary roots through references,
// then moves unreachable entries, their metadata and compressed forms
// into its staging directory and deletes them after releasing the lock,
// on several goroutines (an unlink waits on the journal more than on a
// core).
// GCOptions.DropRoots names direct roots the caller wants gone (silo's
// stale VM snapshots): GC removes each under its lock, first, unless it
// was re-pointed to another entry since; a dry run marks as if they were
// gone. With MaxSize or MaxAge it first evicts rebuildable entries, least
// recently used first, never one a temporary or indirect root pins nor
// one a kept entry refers to. A direct root does not protect a rebuildable
// entry from eviction; its link is left dangling (Roots reports it) until
// the entry is rebuilt and rooted again.
//
// # Progress
//
// A handle opened with OpenOptions.Progress (or given one by
// SetProgress) tells it about its steps that may take long: a
// decompression (the compressed bytes read of the total) and a wait for
// the store lock that another process holds, named from /proc/locks
// ("held by pid 1234 (silo)"). The lock is first tried without waiting;
// only a wait is told.
//
// # Compression
//
// Compress writes an entry's zstd form (a tree as its owned archive) to
// staging, checks on the way that the bytes still hash to the recorded
// content hash, and then, under the exclusive lock and only if no live
// temporary root holds the entry, renames it into store/.zst, records it
// and removes the raw entry. Entries zstd would not shrink on disk are
// kept raw. Use decompresses (holes restored, hash checked) and renames
// the entry back into place. Content hashes never change.
package store
