//go:build linux && (amd64 || arm64)

package agent

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The guest command runs under a seccomp filter, installed on the
// launcher's thread right after it drops its capabilities, so that it
// binds the command and everything it starts, but not the agent. It
// refuses (EPERM) what a build tool has no business doing and what
// widens the kernel's attack surface, which matters most where the
// sandbox shares the host's kernel: new namespaces (a user namespace
// would hand the command a full set of capabilities over a nested
// namespace), the mount API, the kernel keyring, BPF, perf events,
// userfaultfd, io_uring, kernel modules and kexec, open_by_handle_at.
// clone3 gets ENOSYS, as under Docker, because its flags cannot be
// inspected: C libraries and Go fall back to clone, whose flags can.
// socket and socketpair make only the families a build tool uses (unix,
// inet, inet6, and netlink's route protocol, which getifaddrs and so
// Node's os.networkInterfaces need); every other family (vsock, which
// no network namespace isolates, packet, bluetooth, the crypto API, …)
// gets EAFNOSUPPORT, as from a kernel without it. A fault's signal
// (SIGSEGV, …) cannot be queued, sent through a pidfd with a siginfo, or
// chosen as a file's SIGIO signal (see faultSignals): the agent must be
// able to tell a sent signal from its own fault. Syscalls of another ABI
// (i386, x32) are refused too.
//
// On the host's kernel (the namespace backend) the filter also keeps the
// command to root's ids: the chown family may only give uid and gid 0 (or
// -1, "unchanged"), and the setuid family only switch to 0 (or -1), else
// EPERM. The sandbox's user namespace maps a range of ids when it can, so
// that the image's files show their owners; without this rule a command
// could chown a file in the project or a cache, or become another id and
// create one there, to an id that is, on the host, one of the user's
// subordinate ids: a file the user could then no longer change or remove.
// Inside a VM the ids are the guest kernel's own and the rule is off.

// deniedSyscalls get EPERM whatever their arguments.
var deniedSyscalls = append([]uintptr{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT,
	unix.SYS_OPEN_TREE, unix.SYS_OPEN_TREE_ATTR, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG,
	unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR,
	unix.SYS_SETNS,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT, unix.SYS_QUOTACTL,
	unix.SYS_SYSLOG, unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_ADJTIMEX,
	unix.SYS_CLOCK_ADJTIME, unix.SYS_LOOKUP_DCOOKIE,
}, archDenied...)

// namespaceFlags are the clone and unshare flags that make a namespace.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// Offsets in struct seccomp_data.
const (
	dataNr   = 0
	dataArch = 4
	dataArg0 = 16 // the low half of args[0] (little-endian)
	dataArg1 = 24 // the low half of args[1]
	dataArg2 = 32 // the low half of args[2]
	dataArg3 = 40 // the low half of args[3]
)

// idArgs are the syscalls that give a file an owner or the caller an id,
// with the offsets of their id arguments (uid_t and gid_t are 32 bits).
var idArgs = append([]idCall{
	{unix.SYS_FCHOWN, []uint32{dataArg1, dataArg2}},
	{unix.SYS_FCHOWNAT, []uint32{dataArg2, dataArg3}},
	{unix.SYS_SETUID, []uint32{dataArg0}},
	{unix.SYS_SETGID, []uint32{dataArg0}},
	{unix.SYS_SETFSUID, []uint32{dataArg0}},
	{unix.SYS_SETFSGID, []uint32{dataArg0}},
	{unix.SYS_SETREUID, []uint32{dataArg0, dataArg1}},
	{unix.SYS_SETREGID, []uint32{dataArg0, dataArg1}},
	{unix.SYS_SETRESUID, []uint32{dataArg0, dataArg1, dataArg2}},
	{unix.SYS_SETRESGID, []uint32{dataArg0, dataArg1, dataArg2}},
}, archIDArgs...)

// idCall is a syscall and the offsets of its id arguments.
type idCall struct {
	nr   uintptr
	args []uint32
}

// faultSignals are the signals the Go runtime takes for a fault in the
// agent (or, SIGSTKFLT, throws on) unless their si_code says a process
// sent them (see ignoreSignals). The filter refuses every way to send one with another
// code: rt_sigqueueinfo, rt_tgsigqueueinfo and pidfd_send_signal with
// one of them, and fcntl F_SETSIG to one of them (SIGIO redirected to a
// process carries POLL_* codes, which read as fault codes).
var faultSignals = []uint32{
	uint32(unix.SIGSEGV), uint32(unix.SIGBUS), uint32(unix.SIGFPE),
	uint32(unix.SIGILL), uint32(unix.SIGTRAP), uint32(unix.SIGSYS), uint32(unix.SIGSTKFLT),
}

// fSetSig is fcntl's F_SETSIG.
const fSetSig = 10

// allowedFamilies are the socket families the command may use; netlink
// only with the protocol NETLINK_ROUTE (see socketCheck).
var allowedFamilies = []uint32{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6}

// seccompFilter is the BPF program. Each check jumps over its own
// return when it does not match, so no jump needs a label.
func seccompFilter(rootOnly bool) []unix.SockFilter {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
	}
	ret := func(v uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, v) }
	eperm := ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	allow := ret(unix.SECCOMP_RET_ALLOW)
	ldNr := stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataNr)
	is := func(nr uintptr, skip uint8) unix.SockFilter {
		return jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(nr), 0, skip)
	}

	f := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArch, 1, 0),
		enosys, // another ABI
		ldNr,
	}
	if abiBit != 0 {
		f = append(f, jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, abiBit, 0, 1), enosys)
	}
	for _, nr := range deniedSyscalls {
		f = append(f, is(nr, 1), eperm)
	}
	for _, nr := range []uintptr{unix.SYS_CLONE, unix.SYS_UNSHARE} {
		f = append(f,
			is(nr, 4),
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataArg0),
			jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, namespaceFlags, 0, 1),
			eperm,
			allow,
		)
	}
	for _, c := range []struct {
		nr  uintptr
		arg uint32
	}{{unix.SYS_RT_SIGQUEUEINFO, dataArg1}, {unix.SYS_RT_TGSIGQUEUEINFO, dataArg2}, {unix.SYS_PIDFD_SEND_SIGNAL, dataArg1}} {
		block := faultSignalCheck(c.arg, allow, eperm)
		f = append(f, is(c.nr, uint8(len(block))))
		f = append(f, block...)
	}
	setsig := faultSignalCheck(dataArg2, allow, eperm)
	f = append(f, is(unix.SYS_FCNTL, uint8(len(setsig)+2)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataArg1),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, fSetSig, 0, uint8(len(faultSignals)+1)))
	f = append(f, setsig...)
	for _, nr := range []uintptr{unix.SYS_SOCKET, unix.SYS_SOCKETPAIR} {
		block := socketCheck(allow)
		f = append(f, is(nr, uint8(len(block))))
		f = append(f, block...)
	}
	if rootOnly {
		for _, c := range idArgs {
			block := rootIDCheck(c.args, allow, eperm)
			f = append(f, is(c.nr, uint8(len(block))))
			f = append(f, block...)
		}
	}
	return append(f, is(unix.SYS_CLONE3, 1), enosys, allow)
}

// faultSignalCheck loads the argument at off and ends in deny when it is
// one of faultSignals, else in allow: [load, one test per signal, allow,
// deny].
func faultSignalCheck(off uint32, allow, deny unix.SockFilter) []unix.SockFilter {
	n := len(faultSignals)
	f := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}}
	for i, sig := range faultSignals {
		f = append(f, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: sig, Jt: uint8(n - i)})
	}
	return append(f, allow, deny)
}

// rootIDCheck ends in deny unless every id argument at offs is 0 or -1:
// for each, [load, is 0 (to the next), is -1 (to the next), deny], then
// allow.
func rootIDCheck(offs []uint32, allow, deny unix.SockFilter) []unix.SockFilter {
	var f []unix.SockFilter
	for _, off := range offs {
		f = append(f,
			unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off},
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: 2},
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0xffffffff, Jt: 1},
			deny,
		)
	}
	return append(f, allow)
}

// socketCheck checks a socket or socketpair call's family (args[0]) and,
// for netlink, its protocol (args[2]): it ends in allow or EAFNOSUPPORT.
func socketCheck(allow unix.SockFilter) []unix.SockFilter {
	n := uint8(len(allowedFamilies))
	f := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: dataArg0}}
	for i, fam := range allowedFamilies {
		// To the allow, past the rest of the families and the netlink check.
		f = append(f, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: fam, Jt: n - uint8(i) - 1 + 3})
	}
	return append(f,
		unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.AF_NETLINK, Jf: 3},
		unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: dataArg2},
		unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.NETLINK_ROUTE, Jf: 1},
		allow,
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)},
	)
}

// installSeccomp puts the filter on the calling thread only (no TSYNC):
// the agent's other threads stay free. no_new_privs must be set.
func installSeccomp(rootOnly bool) error {
	f := seccompFilter(rootOnly)
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("install the seccomp filter: %w", errno)
	}
	return nil
}
