package tests

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestContractNoInheritedDescriptors starts silo the way a careless parent
// might, with a host directory open and inheritable, and checks the
// command inside holds no descriptor on it: an inherited directory
// descriptor would be a way out to the whole host file system.
func TestContractNoInheritedDescriptors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		secret := t.TempDir()
		writeFile(t, secret+"/hostname", "host-only\n")
		dir, err := os.Open(secret)
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		cmd := exec.Command(siloBin, "exec", "bb", "sh", "-c",
			`for f in /proc/$$/fd/*; do echo "$f -> $(readlink $f)"; cat $f/hostname 2>/dev/null; done; true`)
		cmd.Dir = ws
		cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
		// Descriptors 3 to 6 are silo's to reuse; 7 is the directory,
		// inheritable, as a shell's `exec 7</etc` leaves it.
		cmd.ExtraFiles = []*os.File{dir, dir, dir, dir, dir}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("silo run: %v\n%s", err, stderr.String())
		}
		if strings.Contains(stdout.String(), secret) || strings.Contains(stdout.String(), "host-only") {
			t.Errorf("the sandbox holds the host directory silo inherited:\n%s", stdout.String())
		}
	})
}
