// Package agent is the guest side of every silo sandbox: PID 1, which
// builds the sandbox's filesystem view, runs the command and relays its
// stdio, signals, window size and exit status to the host.
//
// # The workspace filter
//
// The command never sees the host's workspace directly: the agent serves
// it at /workspace (or the spec's Workdir) through a FUSE file system of
// its own, the workspace filter, on both backends (the namespace backend
// binds /dev/fuse in for the agent and the agent detaches it from the
// command's /dev; a VM's kernel loads the fuse module). The filter runs in
// PID 1, which the command can neither signal nor trace, and applies its
// policy to every request while the command runs:
//
//   - Protected names (Spec.Protected: sandbox.DefaultProtected, each a path
//     of one or more names, a name possibly a path.Match pattern) cannot
//     be created, written, truncated, chmod/chown/utime'd, given or
//     stripped of extended attributes, removed, renamed away or renamed
//     onto, hard-linked or symlinked, at any depth of the workspace,
//     whether they exist or not; a directory's name covers all below it.
//     A directory may not be renamed to where a protected path of several
//     names would start (a prepared fish/config.fish renamed to .config).
//     Names compare without case (.GIT/config is .git/config on a file
//     system that folds case), as do the excluded paths. The refusal is
//     EPERM.
//   - In the workspace's top-level .git, when it is a directory at the
//     start of the run, git's data stays writable: objects, refs, logs,
//     packed-refs, the index and its temporary copies, HEAD and the other
//     all-capitals state files, rebase and sequencer state, each with
//     git's .lock suffix; everything else there (config, config.worktree,
//     hooks/, commondir, worktrees/, modules/, info/) does not. Any other
//     .git, a file or a directory, anywhere, is protected whole.
//   - No mode the command sets (create, mkdir, mknod, chmod) keeps the
//     setuid or setgid bit; security.capability and trusted.* attributes
//     cannot be set; mknod makes no device.
//   - Each excluded path (Spec.Exclude) is served from its own directory
//     in the sandbox's scratch, so nothing written there reaches the host
//     and the host's copy stays hidden; the excluded paths and the
//     directories above them cannot be removed or renamed, so an
//     exclusion cannot be moved aside; the excluded names are listed in
//     their parent whether the host has them or not.
//   - A read-only workspace (Spec.ReadOnly) refuses every change outside
//     the excluded paths with EROFS.
//
// The filter reaches the backing directories through descriptors only,
// resolving every path beneath them with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) and acting on the last name with calls that do not
// follow it, so that a symlink the command plants, or swaps in, cannot
// lead the filter (which has the agent's privilege) anywhere else. The
// kernel checks each caller's permissions (default_permissions), caches
// names and attributes for a second (a change made on the host during the
// run shows inside within that), keeps file pages across opens until a
// file's size or time changes, and caches symlink targets; files the
// command creates belong to the calling user. Changes made on the host
// raise no inotify event inside: a file watcher in the sandbox must poll. Where the kernel allows FUSE passthrough
// (CAP_SYS_ADMIN in the initial user namespace, Linux 6.9 or later), reads
// and writes of opened files bypass the agent.
//
// # /etc/hosts
//
// When the image has no /etc/hosts (neither a file nor a link), the agent
// writes one into the root's overlay, as Docker does: 127.0.0.1 and ::1
// as localhost, 127.0.1.1 as the sandbox's host name, and, when the
// policy grants host access, host.silo.internal as 127.0.0.1 (the proxy
// resolves that name to the host's loopback; the line lets a client that
// looks the name up before handing the URL to the proxy go on). It lives
// in the scratch upper layer and a build does not capture it.
//
// # The image's owners
//
// On the host's kernel the rootfs is a directory the user owns, so every
// file of it is root's inside. The spec's owner table names the paths the
// image gives to other users; where the user namespace maps their ids
// (vm/namespace maps a range when it can), the agent copies them, on
// scratch, into a layer between the rootfs and the upper, with their
// owners and otherwise as they are (owners.go). A build never captures
// that layer. The command itself acts only as root there (see below).
//
// Nothing is written into the host's workspace to make this work: no
// placeholder, no mount point. Without a usable /dev/fuse the sandbox
// does not start, and the error says how to provide one.
//
// # The command
//
// The command starts in its working directory (the spec's Cwd under the
// workspace); a command name with a slash, and a relative PATH entry, are
// looked up there, as a shell would (silo run T ./script.sh). It runs in
// a session of its own with a reduced capability set (keptCaps: no
// SYS_ADMIN, SYS_PTRACE, NET_ADMIN or NET_RAW), no_new_privs, and a
// seccomp filter (seccomp.go) that refuses new namespaces, the mount API
// (open_tree_attr included), the keyring, BPF, io_uring and the like,
// every socket family but unix, inet, inet6 and netlink's route protocol
// (no vsock, which crosses network namespaces, and no packet sockets),
// and every way to send a fault's signal with a fault's si_code, and, on
// the host's kernel, any chown or setuid-family call to an id other than
// root's (so nothing it writes to the project or a cache belongs, on the
// host, to a subordinate id). On the
// host's kernel the command starts through a stub, the agent's own
// binary executed again, which then executes the command (nproc.go): so
// the agent's forked child never executes a workspace file through the
// agent's own filter, and, where the layout asks for it (Layout.MaxProcs:
// the namespace backend without a cgroup), the command and all it starts
// run under an RLIMIT_NPROC the agent itself is not bound by. A
// dynamically linked agent cannot run as the stub and starts the command
// directly, without that limit.
//
// The agent, as PID 1, catches and drops every signal the command may
// send it, SIGSEGV, SIGBUS and SIGFPE included (a signal sent by kill or
// tgkill carries SI_USER or SI_TKILL, which the Go runtime tells from a
// fault); a real fault in the agent still crashes it loudly.
//
// # Capturing a build
//
// When the spec has Capture (a build step), the agent opens the overlay's
// upper layer before it enters the sandbox's root, and once the command
// has exited 0 (and everything it left is killed) it writes one
// uncompressed OCI layer tar on a stream of kind proto.KindCapture, then
// reports the exit. The layer holds every change of the upper layer (read
// through /proc/self/fd, so owners and modes are the guest's), leaving
// out /proc, /dev, /sys, /tmp, the workspace, the caches' and pass files'
// mount points; then each excluded workspace path whole, as the command
// sees it, under the workspace's guest path, with an opaque marker so
// that it replaces a lower step's. Entries are written in sorted order per
// directory, owners as numbers without names, mtimes truncated to the
// second and clamped to Capture.Epoch, hard links as links to the first
// name; a 0/0 character device (an overlay whiteout) becomes a ".wh."
// entry and an opaque directory (trusted. or user.overlay.opaque) gets
// ".wh..wh..opq"; other devices and sockets are left out. The same tree
// always writes the same bytes.
package agent
