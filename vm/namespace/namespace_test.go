package namespace

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	"github.com/silo-dev/silo/vm/vmtest"
)

// backend returns the backend with the test binary as its agent, or skips.
func backend(t testing.TB) *Backend {
	t.Helper()
	b := New(Options{Agent: agentBin})
	if err := b.Available(); err != nil {
		t.Skipf("namespace backend unavailable: %v", err)
	}
	return b
}

// run runs argv in a sandbox over rootfs and ws and returns its status and
// output.
func run(t testing.TB, b *Backend, rootfs, ws string, mod func(*vm.Spec), argv ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec := &vm.Spec{
		RootfsDir: rootfs, Workspace: ws, Argv: argv,
		Env:    []string{"PATH=/bin:/usr/bin", "HOME=/root"},
		Stdout: &stdout, Stderr: &stderr,
		BootTimeout: 20 * time.Second,
	}
	if mod != nil {
		mod(spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err := b.Run(ctx, spec)
	if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestRunBasics(t *testing.T) {
	b := backend(t)
	root, ws := busyboxRoot(t), t.TempDir()
	tests := []struct {
		name           string
		argv           []string
		code           int
		stdout, stderr string
	}{
		{"true", []string{"true"}, 0, "", ""},
		{"exit 42", []string{"sh", "-c", "exit 42"}, 42, "", ""},
		{"split streams", []string{"sh", "-c", "echo out; echo err >&2"}, 0, "out\n", "err\n"},
		{"signal", []string{"sh", "-c", "kill -TERM $$"}, 143, "", ""},
		{"not found", []string{"no-such-tool"}, 127, "", "silo: no-such-tool: command not found in the sandbox\n"},
		{"pid 1 is the agent", []string{"sh", "-c", "cat /proc/1/comm"}, 0, "agent\n", ""},
		{"cwd", []string{"pwd"}, 0, "/workspace\n", ""},
		{"env exact", []string{"env"}, 0, "PATH=/bin:/usr/bin\nHOME=/root\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, b, root, ws, nil, tt.argv...)
			if code != tt.code || out != tt.stdout || errOut != tt.stderr {
				t.Errorf("got (%d, %q, %q), want (%d, %q, %q)", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestWorkspaceAndRootfs(t *testing.T) {
	b := backend(t)
	root, ws := busyboxRoot(t), t.TempDir()
	write(t, filepath.Join(ws, "silo.toml"), "[tools]\n")
	code, _, errOut := run(t, b, root, ws, func(s *vm.Spec) {
		s.Protected = []string{"silo.toml", ".git/"}
		s.Exclude = []string{"node_modules"}
	}, "sh", "-c", `echo hi > /workspace/made; mkdir -p node_modules/x && echo n > node_modules/x/f;
		echo x > silo.toml && exit 3; mkdir -p .git/hooks && exit 4; rm -rf /bin/busybox /etc; test -e /etc/passwd && exit 5; exit 0`)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "made")); err != nil || string(b) != "hi\n" {
		t.Errorf("workspace file: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "silo.toml")); string(b) != "[tools]\n" {
		t.Errorf("silo.toml changed: %q", b)
	}
	for _, p := range []string{"node_modules", ".git"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); !os.IsNotExist(err) {
			t.Errorf("%s left on the host: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "bin/busybox")); err != nil {
		t.Errorf("rootfs written: %v", err)
	}
	if !strings.Contains(errOut, "") {
		t.Log(errOut)
	}
}

// BenchmarkStdioThroughput pipes 64 MiB through cat in a sandbox: host
// stdin → mux → guest cat → mux → host stdout.
func BenchmarkStdioThroughput(b *testing.B) {
	be := backend(b)
	root, ws := busyboxRoot(b), b.TempDir()
	const size = 64 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		var out countWriter
		spec := &vm.Spec{RootfsDir: root, Workspace: ws, Argv: []string{"cat"}, Env: []string{"PATH=/bin"},
			Stdin: bytes.NewReader(data), Stdout: &out, Stderr: &out, BootTimeout: 20 * time.Second}
		code, err := be.Run(context.Background(), spec)
		if err != nil || code != 0 || out.n != size {
			b.Fatalf("cat: exit %d, %v, %d bytes back", code, err, out.n)
		}
	}
}

// countWriter counts what is written to it.
type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// TestContract runs the backend contract suite in-process.
func TestContract(t *testing.T) {
	root := busyboxRoot(t)
	vmtest.Run(t, backend(t), func(_ testing.TB, s *vm.Spec) { s.RootfsDir = root })
}
