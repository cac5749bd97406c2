// Package namespace is silo's bubblewrap backend: the sandbox is a set of
// Linux namespaces (user, mount, PID, network, IPC, UTS, cgroup) made by
// bwrap, with the guest agent as its PID 1 and the unpacked rootfs
// directory entry as the read-only lower layer. A cache directory the
// caller opened (Mount.Dir) is bound with bwrap's --bind-fd (bubblewrap
// 0.8 or later), from the open descriptor, which bwrap closes: no path is
// resolved again between silo's check and the bind.
//
// It bounds each sandbox's processes, and where it can its memory and
// CPUs, with a cgroup of its own or else an RLIMIT_NPROC (limits.go;
// Limits says which applies here).
//
// When the spec's rootfs has files the image gives to users other than
// root (Spec.Owners) and silo can map a range of ids (as root, or through
// newuidmap with a subordinate range), bwrap waits while silo writes the
// maps (idmap.go); else bwrap maps the user alone to root. Describe says
// which, for silo doctor.
//
// It shares the host's kernel, so it is weaker isolation than a VM: a
// kernel bug reachable from an unprivileged user namespace crosses it. It
// needs no virtualization, starts in milliseconds, and runs for an
// unprivileged user wherever unprivileged user namespaces are allowed.
package namespace
