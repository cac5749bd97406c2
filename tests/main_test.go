package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// siloBin is the silo binary under test, built once by TestMain.
var siloBin string

// repoRoot is the repository's top directory.
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "silo-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// As make build does: silo, and the lean agent beside it, which
	// every backend then uses (TestSiloAsAgent covers silo alone).
	siloBin = filepath.Join(dir, "silo")
	for _, b := range []struct{ out, pkg string }{{siloBin, "./cmd/silo"}, {filepath.Join(dir, "silo-agent"), "./cmd/silo-agent"}} {
		build := exec.Command("go", "build", "-trimpath", "-o", b.out, b.pkg)
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// result is what one run of the silo binary did.
type result struct {
	Stdout, Stderr string
	Code           int
}

// silo runs the built binary with args in dir, with SILO_HOME set to home
// and the extra environment env, and returns what it printed and its exit
// status. It fails the test only if the binary could not be started.
func silo(t testing.TB, home, dir string, env []string, stdin []byte, args ...string) result {
	t.Helper()
	privateHome(t, home)
	cmd := exec.Command(siloBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SILO_HOME="+home), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its output and exit status; it fails the
// test when cmd could not run at all.
func runCmd(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", cmd.Path, cmd.Args[1:], err)
	}
	return res
}

// runAs runs bin with args in dir, as uid:gid, with env as its whole
// environment, for at most two minutes.
func runAs(t testing.TB, uid, gid int, dir string, env []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return runCmd(t, cmd)
}

// privateHome gives home, if it exists, the mode silo gives a home
// (0700), as after a first run: t.TempDir's directories are 0755, and
// silo would say once that it narrowed them (tests/home_private_test.go
// checks that).
func privateHome(t testing.TB, home string) {
	t.Helper()
	if st, err := os.Stat(home); err == nil && st.Mode().Perm() != 0o700 {
		if err := os.Chmod(home, 0o700); err != nil {
			t.Fatal(err)
		}
	}
}
