// Package vmtest is the contract every sandbox backend keeps, as a test
// suite that takes a vm.Backend and runs in-process: the namespace and
// qemu backends run it on Linux, and vz can run the same suite on macOS.
//
// The caller supplies the backend and a Fixture that fills a spec with
// what that backend boots (a rootfs holding busybox in the backend's form,
// and a kernel and initfs when it boots one). The suite checks, one
// sandbox each: exit codes and signals, separate stdout and stderr, binary
// stdin, the working directory and the exact environment, a file written
// to the workspace reaching the host, a protected path staying read-only,
// an excluded path never reaching the host, no network, and a pass file
// shown read-only.
package vmtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
)

// Fixture fills spec with what the backend boots: RootfsDir or RootfsImage
// (a root holding a static busybox with its applets in /bin), and Kernel
// and Initfs when the backend boots a kernel.
type Fixture func(t testing.TB, spec *vm.Spec)

// Run runs the contract suite against b.
func Run(t *testing.T, b vm.Backend, fix Fixture) {
	if err := b.Available(); err != nil {
		t.Skipf("backend %s cannot run here: %v", b.Name(), err)
	}
	c := &contract{b: b, fix: fix}
	t.Run("exit codes and signals", c.exitCodes)
	t.Run("streams and stdin", c.streams)
	t.Run("workspace, cwd and env", c.workspace)
	t.Run("protected, excluded and pass files", c.boundaries)
}

type contract struct {
	b   vm.Backend
	fix Fixture
}

// outcome is what one sandbox did.
type outcome struct {
	code           int
	stdout, stderr string
}

// run runs argv in a new sandbox over ws; mod may change the spec.
func (c *contract) run(t *testing.T, ws string, stdin []byte, mod func(*vm.Spec), argv ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		Workspace: ws, Argv: argv,
		Env:    []string{"PATH=/bin:/usr/bin", "HOME=/root", "SILO_CONTRACT=1"},
		Stdin:  bytes.NewReader(stdin),
		Stdout: &stdout, Stderr: &stderr,
	}
	c.fix(t, spec)
	if mod != nil {
		mod(spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err := c.b.Run(ctx, spec)
	if err != nil {
		t.Fatalf("%s: run %q: %v", c.b.Name(), argv, err)
	}
	return outcome{code, stdout.String(), stderr.String()}
}

func (c *contract) exitCodes(t *testing.T) {
	ws := t.TempDir()
	script := `case "$1" in 0) true;; 42) exit 42;; term) kill -TERM $$;; esac`
	for _, tt := range []struct {
		arg  string
		code int
	}{{"42", 42}, {"term", 128 + 15}} {
		if o := c.run(t, ws, nil, nil, "sh", "-c", script, "sh", tt.arg); o.code != tt.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", tt.arg, o.code, tt.code, o.stderr)
		}
	}
}

func (c *contract) streams(t *testing.T) {
	in := make([]byte, 256<<10)
	if _, err := rand.Read(in); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(in)
	o := c.run(t, t.TempDir(), in, nil, "sh", "-c", "sha256sum; echo to-err >&2")
	if want := hex.EncodeToString(sum[:]); !strings.HasPrefix(o.stdout, want) || o.stderr != "to-err\n" || o.code != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, %s…, to-err", o.code, o.stdout, o.stderr, want)
	}
}

func (c *contract) workspace(t *testing.T) {
	ws := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ws, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := c.run(t, ws, nil, func(s *vm.Spec) { s.Cwd = "sub" }, "sh", "-c", "pwd; echo made > made.txt; env | sort")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
	if lines[0] != vm.DefaultWorkdir+"/sub" {
		t.Errorf("cwd inside %q, want %s/sub", lines[0], vm.DefaultWorkdir)
	}
	if !strings.Contains(o.stdout, "SILO_CONTRACT=1\n") {
		t.Errorf("the spec's environment is missing inside:\n%s", o.stdout)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "sub", "made.txt")); err != nil || string(b) != "made\n" {
		t.Errorf("a file written inside did not reach the host: %q, %v", b, err)
	}
}

func (c *contract) boundaries(t *testing.T) {
	ws := t.TempDir()
	write(t, filepath.Join(ws, "silo.toml"), "tools = []\n")
	secret := filepath.Join(t.TempDir(), "token")
	write(t, secret, "pass-file-content\n")
	script := `echo evil >> silo.toml 2>/dev/null && echo BREACH-protected
mkdir -p node_modules/pkg && echo x > node_modules/pkg/index.js && echo excluded-written
cat /root/token; echo evil > /root/token 2>/dev/null && echo BREACH-passfile
wget -q -T 2 -O- http://127.0.0.1:1/ 2>/dev/null && echo BREACH-network
true`
	o := c.run(t, ws, nil, func(s *vm.Spec) {
		s.Protected = append(s.Protected, "silo.toml")
		s.Exclude = []string{"node_modules"}
		s.PassFiles = []vm.PassFile{{Host: secret, Guest: "/root/token"}}
	}, "sh", "-c", script)
	if o.code != 0 || strings.Contains(o.stdout, "BREACH") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", o.code, o.stdout, o.stderr)
	}
	for _, want := range []string{"excluded-written\n", "pass-file-content\n"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("%q missing inside:\n%s", want, o.stdout)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "silo.toml")); string(b) != "tools = []\n" {
		t.Errorf("silo.toml changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(ws, "node_modules", "pkg")); err == nil {
		t.Error("an excluded path reached the host")
	}
	if b, _ := os.ReadFile(secret); string(b) != "pass-file-content\n" {
		t.Errorf("the pass file changed: %q", b)
	}
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
