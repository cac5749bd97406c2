package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// siloNoHome runs the binary with --home home and no SILO_HOME in its
// environment, HOME set to userHome: whatever silo keeps must go to home,
// and nothing to userHome/.silo.
func siloNoHome(t testing.TB, home, userHome, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(siloBin, append([]string{"--home", home}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SILO_HOME=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "SILO_BACKEND=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+userHome)
	return runCmd(t, cmd)
}

// TestHomeFlagEveryBackend: `silo --home DIR` keeps everything in DIR on
// every backend, in doctor and in the backend choice; a second store at
// ~/.silo (or $SILO_HOME) is never opened. Before the run pipeline was a
// library, the qemu backend opened ~/.silo for its kernel and initfs.
func TestHomeFlagEveryBackend(t *testing.T) {
	s := newSandbox(t, "namespace")
	userHome := t.TempDir()
	ws := s.project(t)
	stray := filepath.Join(userHome, ".silo")
	for _, backend := range []string{"namespace", "qemu"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "qemu" {
				if testing.Short() {
					t.Skip("boots a VM under TCG: skipped with -short")
				}
				vmlinuz, mods := debianKernel(t)
				if r := siloNoHome(t, s.home, userHome, ws, "runtime", "import-kernel", vmlinuz, "--modules", mods); r.Code != 0 {
					t.Fatalf("import-kernel: exit %d\n%s", r.Code, r.Stderr)
				}
			}
			r := siloNoHome(t, s.home, userHome, ws, "exec", "--backend", backend, "bb", "sh", "-c", "echo ran")
			if r.Code != 0 || r.Stdout != "ran\n" {
				t.Fatalf("run: exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
			}
			if _, err := os.Lstat(stray); err == nil {
				t.Errorf("silo --home %s made %s", s.home, stray)
			}
		})
	}
	// doctor and the automatic choice read the same home: with no kernel
	// in it, doctor must not import one into ~/.silo.
	r := siloNoHome(t, s.home, userHome, ws, "doctor", "--no-probe", "--json")
	if !strings.Contains(r.Stdout, `"selected"`) {
		t.Errorf("doctor: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Lstat(stray); err == nil {
		t.Errorf("silo --home doctor made %s", stray)
	}
}
