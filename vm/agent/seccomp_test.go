//go:build linux && (amd64 || arm64)

package agent

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompHelperEnv makes the test binary the filtered process of
// TestSeccompFilter instead of running tests.
const seccompHelperEnv = "SILO_AGENT_SECCOMP_HELPER"

// seccompRootOnlyEnv makes the helper install the filter with rootOnly.
const seccompRootOnlyEnv = "SILO_AGENT_SECCOMP_ROOT_ONLY"

func init() {
	if os.Getenv(seccompHelperEnv) == "1" {
		seccompHelper()
	}
}

// seccompHelper installs the filter on its thread, tries each syscall on
// that thread, prints what each returned as JSON, and exits.
func seccompHelper() {
	runtime.LockOSThread()
	res := map[string]string{}
	errstr := func(err error) string {
		if err == nil {
			return "ok"
		}
		return err.Error()
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		res["setup"] = errstr(err)
	} else {
		res["setup"] = errstr(installSeccomp(os.Getenv(seccompRootOnlyEnv) == "1"))
	}
	res["unshare user"] = errstr(unix.Unshare(unix.CLONE_NEWUSER))
	res["unshare mount"] = errstr(unix.Unshare(unix.CLONE_NEWNS))
	res["unshare files"] = errstr(unix.Unshare(unix.CLONE_FILES))
	res["mount"] = errstr(unix.Mount("none", "/nonexistent/silo-seccomp-test", "tmpfs", 0, "")) // ENOENT without the filter
	_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	res["keyctl"] = errstr(err)
	// A size of 0 is EINVAL without the filter: no child is made.
	_, _, errno := unix.Syscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&[88]byte{})), 0, 0)
	res["clone3"] = errstr(errno)
	var params [120]byte // struct io_uring_params
	_, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	res["io_uring"] = errstr(errno)
	sock := func(family, typ, proto int) string {
		fd, err := unix.Socket(family, typ, proto)
		if err == nil {
			unix.Close(fd)
		}
		return errstr(err)
	}
	res["socket unix"] = sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	res["socket inet"] = sock(unix.AF_INET, unix.SOCK_STREAM, 0)
	res["socket inet6"] = sock(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	res["socket netlink route"] = sock(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	res["socket netlink uevent"] = sock(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_KOBJECT_UEVENT)
	res["socket vsock"] = sock(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	res["socket packet"] = sock(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	res["socket alg"] = sock(unix.AF_ALG, unix.SOCK_SEQPACKET, 0)
	_, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	res["socketpair unix"] = errstr(err)
	_, _, errno = unix.Syscall6(unix.SYS_SOCKETPAIR, unix.AF_VSOCK, unix.SOCK_STREAM, 0, uintptr(unsafe.Pointer(&[2]int32{})), 0, 0)
	res["socketpair vsock"] = errstr(errno)
	_, _, errno = unix.Syscall6(unix.SYS_OPEN_TREE_ATTR, 0, 0, 0, 0, 0, 0)
	res["open_tree_attr"] = errstr(errno)
	var info [128]byte
	_, _, errno = unix.Syscall(unix.SYS_RT_SIGQUEUEINFO, uintptr(unix.Getpid()), uintptr(unix.SIGSEGV), uintptr(unsafe.Pointer(&info[0])))
	res["sigqueue SIGSEGV"] = errstr(errno)
	_, _, errno = unix.Syscall6(unix.SYS_RT_TGSIGQUEUEINFO, uintptr(unix.Getpid()), uintptr(unix.Gettid()), uintptr(unix.SIGBUS), uintptr(unsafe.Pointer(&info[0])), 0, 0)
	res["tgsigqueue SIGBUS"] = errstr(errno)
	_, _, errno = unix.Syscall6(unix.SYS_PIDFD_SEND_SIGNAL, 1<<30, uintptr(unix.SIGFPE), 0, 0, 0, 0)
	res["pidfd_send_signal SIGFPE"] = errstr(errno)
	_, err = unix.FcntlInt(0, 10 /* F_SETSIG */, int(unix.SIGSEGV))
	res["F_SETSIG SIGSEGV"] = errstr(err)
	_, err = unix.FcntlInt(0, 10, int(unix.SIGURG))
	res["F_SETSIG SIGURG"] = errstr(err)
	_, err = unix.FcntlInt(0, unix.F_GETFD, 0)
	res["F_GETFD"] = errstr(err)
	res["getpid"] = errstr(nil)
	if unix.Getpid() <= 0 {
		res["getpid"] = "failed"
	}
	res["fork and exec"] = errstr(exec.Command("/bin/sh", "-c", "exit 0").Run())
	idCalls(res, errstr)
	json.NewEncoder(os.Stdout).Encode(res)
	os.Exit(0)
}

// idCalls tries the chown and setuid families with root's ids and with
// another's, last: a setuid that succeeds (no filter, as root) changes
// the thread for good.
func idCalls(res map[string]string, errstr func(error) string) {
	f, err := os.CreateTemp("", "silo-seccomp-")
	if err != nil {
		res["id setup"] = errstr(err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	res["fchownat -1 -1"] = errstr(unix.Fchownat(unix.AT_FDCWD, f.Name(), -1, -1, 0))
	res["fchownat uid 1000"] = errstr(unix.Fchownat(unix.AT_FDCWD, f.Name(), 1000, -1, 0))
	res["fchown gid 1000"] = errstr(unix.Fchown(int(f.Fd()), -1, 1000))
	res["setresuid -1"] = errstr(unix.Setresuid(-1, -1, -1))
	_, _, errno := unix.RawSyscall(unix.SYS_SETFSGID, 1000, 0, 0)
	res["setfsgid 1000"] = errstr(errnoErr(errno))
	_, _, errno = unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 1000, ^uintptr(0))
	res["setresuid 1000"] = errstr(errnoErr(errno))
	_, _, errno = unix.RawSyscall(unix.SYS_SETUID, 1000, 0, 0)
	res["setuid 1000"] = errstr(errnoErr(errno))
}

// errnoErr is errno as an error, nil for 0.
func errnoErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// seccompRun runs the helper, with rootOnly as given, and returns what
// each call returned.
func seccompRun(t *testing.T, rootOnly bool) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), seccompHelperEnv+"=1")
	if rootOnly {
		cmd.Env = append(cmd.Env, seccompRootOnlyEnv+"=1")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	return res
}

// TestSeccompRootOnly checks that, on the host's kernel, the command can
// neither give a file another owner nor take another id, and can still
// make the calls that keep root's.
func TestSeccompRootOnly(t *testing.T) {
	res := seccompRun(t, true)
	eperm := unix.EPERM.Error()
	want := map[string]string{
		"setup":             "ok",
		"fchownat -1 -1":    "ok",
		"fchownat uid 1000": eperm,
		"fchown gid 1000":   eperm,
		"setresuid -1":      "ok",
		"setfsgid 1000":     eperm,
		"setresuid 1000":    eperm,
		"setuid 1000":       eperm,
		"fork and exec":     "ok",
		"unshare user":      eperm,
	}
	for k, w := range want {
		if res[k] != w {
			t.Errorf("%s: %q, want %q", k, res[k], w)
		}
	}
	if os.Geteuid() == 0 {
		// Without the rule, root may do both: the rule is what refuses.
		plain := seccompRun(t, false)
		for _, k := range []string{"fchownat uid 1000", "setresuid 1000"} {
			if plain[k] != "ok" {
				t.Errorf("without rootOnly, %s: %q, want ok", k, plain[k])
			}
		}
	}
}

// TestSeccompFilter runs the filter in a child process and checks what
// it refuses and what it lets through.
func TestSeccompFilter(t *testing.T) {
	res := seccompRun(t, false)
	eperm, enosys, eafno := unix.EPERM.Error(), unix.ENOSYS.Error(), unix.EAFNOSUPPORT.Error()
	want := map[string]string{
		"setup":                    "ok",
		"unshare user":             eperm,
		"unshare mount":            eperm,
		"unshare files":            "ok",
		"mount":                    eperm,
		"keyctl":                   eperm,
		"clone3":                   enosys,
		"io_uring":                 eperm,
		"getpid":                   "ok",
		"socket unix":              "ok",
		"socket inet":              "ok",
		"socket inet6":             "ok",
		"socket netlink route":     "ok",
		"socket netlink uevent":    eafno,
		"socket vsock":             eafno,
		"socket packet":            eafno,
		"socket alg":               eafno,
		"socketpair unix":          "ok",
		"socketpair vsock":         eafno,
		"open_tree_attr":           eperm,
		"sigqueue SIGSEGV":         eperm,
		"tgsigqueue SIGBUS":        eperm,
		"pidfd_send_signal SIGFPE": eperm,
		"F_SETSIG SIGSEGV":         eperm,
		"F_SETSIG SIGURG":          "ok",
		"F_GETFD":                  "ok",
		"fork and exec":            "ok",
	}
	for k, w := range want {
		if res[k] != w {
			t.Errorf("%s: %q, want %q", k, res[k], w)
		}
	}
}

// TestSeccompFilterFitsBPF checks the program stays within what the
// kernel accepts.
func TestSeccompFilterFitsBPF(t *testing.T) {
	if n := len(seccompFilter(true)); n > 4096 || n == 0 {
		t.Errorf("filter of %d instructions", n)
	}
}
