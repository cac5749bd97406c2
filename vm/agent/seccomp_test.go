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
		res["setup"] = errstr(installSeccomp())
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
	res["getpid"] = errstr(nil)
	if unix.Getpid() <= 0 {
		res["getpid"] = "failed"
	}
	res["fork and exec"] = errstr(exec.Command("/bin/sh", "-c", "exit 0").Run())
	json.NewEncoder(os.Stdout).Encode(res)
	os.Exit(0)
}

// TestSeccompFilter runs the filter in a child process and checks what
// it refuses and what it lets through.
func TestSeccompFilter(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), seccompHelperEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	eperm, enosys := unix.EPERM.Error(), unix.ENOSYS.Error()
	want := map[string]string{
		"setup":         "ok",
		"unshare user":  eperm,
		"unshare mount": eperm,
		"unshare files": "ok",
		"mount":         eperm,
		"keyctl":        eperm,
		"clone3":        enosys,
		"io_uring":      eperm,
		"getpid":        "ok",
		"fork and exec": "ok",
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
	if n := len(seccompFilter()); n > 4096 || n == 0 {
		t.Errorf("filter of %d instructions", n)
	}
}
