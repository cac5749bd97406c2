package tests

// The runtime contract, through the built binary, on every backend that can
// run here: exit codes, stdio, signals, the workspace, the isolation
// boundaries. Each backend in contractBackends runs the same cases; one
// whose Available() fails is skipped with its reason.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/vm"
	_ "github.com/silo-dev/silo/vm/namespace"
)

// contractBackends are the backends the contract runs on. The qemu
// backend's part is kept to the cases that need a VM (see vmCases).
var contractBackends = []string{"namespace"}

// sandbox is one backend's test environment: a silo home whose
// config.toml defines the tool "bb" (the busybox image, from an OCI
// layout), and a user home with secrets that must stay outside.
type sandbox struct {
	backend  string
	home     string // SILO_HOME
	userHome string // HOME: has .ssh/id_rsa
	image    string // oci-layout:DIR
}

// forEachBackend runs fn as a subtest per backend that can run here.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *sandbox)) {
	for _, name := range contractBackends {
		t.Run(name, func(t *testing.T) {
			b, err := vm.NewRegistry(vm.Options{Home: t.TempDir()}).Lookup(name)
			if err != nil {
				t.Skipf("backend %s is not built in: %v", name, err)
			}
			if err := b.Available(); err != nil {
				t.Skipf("backend %s cannot run here: %v", name, err)
			}
			fn(t, newSandbox(t, name))
		})
	}
}

// newSandbox makes the homes for one backend.
func newSandbox(t testing.TB, backend string) *sandbox {
	t.Helper()
	s := &sandbox{backend: backend, home: t.TempDir(), userHome: t.TempDir()}
	privateHome(t, s.home)
	s.image = "oci-layout:" + ociLayout(t, busyboxImage(t))
	writeFile(t, filepath.Join(s.home, "config.toml"), fmt.Sprintf("[tool.bb]\nimage = %q\nshims = [\"sh\"]\n", s.image))
	writeFile(t, filepath.Join(s.userHome, ".ssh/id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\nhost secret\n")
	return s
}

// project makes a workspace using bb, passing SILO_TEST_PASS and excluding
// node_modules. Its silo.toml is trusted as written; a test that changes
// it trusts it again (trustAsIs).
func (s *sandbox) project(t testing.TB) string {
	t.Helper()
	ws := t.TempDir()
	writeTrusted(t, s.home, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\npassEnv = [\"SILO_TEST_PASS\"]\n[mount]\nexclude = [\"node_modules\"]\n")
	return ws
}

// run runs "silo run bb ARGS…" in dir with the sandbox's homes and backend.
func (s *sandbox) run(t *testing.T, dir string, env []string, stdin []byte, args ...string) result {
	t.Helper()
	return s.silo(t, dir, env, stdin, append([]string{"exec", "bb"}, args...)...)
}

// silo runs the binary with the sandbox's homes and backend, killing it
// (and failing the test) if it does not finish within two minutes.
func (s *sandbox) silo(t *testing.T, dir string, env []string, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, siloBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // even if this test binary dies
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("silo %q did not finish within 2 minutes; killed. stderr: %s", args, stderr.String())
	}
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("silo %q: %v", args, err)
	}
	return res
}

// sh runs a shell script in the sandbox and fails the test unless it exits
// 0; it returns stdout.
func (s *sandbox) sh(t *testing.T, dir, script string) string {
	t.Helper()
	r := s.run(t, dir, nil, nil, "sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("script exited %d\nscript: %s\nstdout: %s\nstderr: %s", r.Code, script, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func TestContractExitCodesAndStdio(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		// The first run assembles the rootfs, and says so on stderr when
		// that takes more than half a second (a loaded machine): the
		// streams checked here are a warm run's, which carry the
		// command's alone.
		if r := s.run(t, ws, nil, nil, "true"); r.Code != 0 {
			t.Fatalf("warm-up run: exit %d\n%s", r.Code, r.Stderr)
		}
		tests := []struct {
			name           string
			args           []string
			code           int
			stdout, stderr string
		}{
			{"exit 0", []string{"true"}, 0, "", ""},
			{"exit 1", []string{"false"}, 1, "", ""},
			{"exit 42", []string{"sh", "-c", "exit 42"}, 42, "", ""},
			{"after --", []string{"--", "sh", "-c", "echo $0; exit 3"}, 3, "sh\n", ""},
			{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, "", ""},
			{"killed by SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, "", ""},
			{"stdout and stderr apart", []string{"sh", "-c", "echo to-out; echo to-err >&2; echo more-out"}, 0, "to-out\nmore-out\n", "to-err\n"},
			{"binary stdout", []string{"printf", `\000\377\001`}, 0, "\x00\xff\x01", ""},
			{"command not found", []string{"no-such-command"}, 127, "", "silo: no-such-command: command not found in the sandbox\n"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := s.run(t, ws, nil, nil, tt.args...)
				if r.Code != tt.code || r.Stdout != tt.stdout || r.Stderr != tt.stderr {
					t.Errorf("got exit %d, stdout %q, stderr %q; want %d, %q, %q", r.Code, r.Stdout, r.Stderr, tt.code, tt.stdout, tt.stderr)
				}
			})
		}
	})
}

func TestContractAdHocImageAndShell(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := t.TempDir()
		r := s.silo(t, ws, []string{"SILO_TEST_PASS=x"}, nil, "exec", "--image", s.image, "sh", "-c", "pwd; env | grep -c SILO_TEST_PASS; exit 9")
		if r.Code != 9 || r.Stdout != "/workspace\n0\n" {
			t.Errorf("silo run --image: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		// Without a command, the image's own (busybox's Cmd is /bin/sh).
		r = s.silo(t, ws, nil, []byte("echo image command; exit 3\n"), "exec", "--image", s.image)
		if r.Code != 3 || r.Stdout != "image command\n" {
			t.Errorf("silo run --image without a command: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		r = s.silo(t, ws, nil, []byte("echo from a shell; exit 4\n"), "shell", "--image", s.image)
		if r.Code != 4 || r.Stdout != "from a shell\n" {
			t.Errorf("silo shell with a script on stdin: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		r = s.silo(t, ws, nil, nil, "run", "no-such-tool", "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "no-such-tool") {
			t.Errorf("an unknown tool: exit %d, stderr %q", r.Code, r.Stderr)
		}
		r = s.silo(t, ws, nil, nil, "exec", "--backend", "no-such-backend", "bb", "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "unknown backend") {
			t.Errorf("an unknown backend: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

func TestContractStdinRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		in := make([]byte, 1<<20)
		if _, err := rand.Read(in); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(in)
		r := s.run(t, ws, nil, in, "cat")
		if r.Code != 0 {
			t.Fatalf("cat exited %d: %s", r.Code, r.Stderr)
		}
		if got := sha256.Sum256([]byte(r.Stdout)); got != sum {
			t.Errorf("1 MiB through cat: %d bytes back, sha256 differs", len(r.Stdout))
		}
		r = s.run(t, ws, nil, in, "sha256sum")
		if want := hex.EncodeToString(sum[:]); !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("sha256 inside %q, want %s", r.Stdout, want)
		}
		// End of input reaches the guest even when nothing is sent.
		if r := s.run(t, ws, nil, []byte{}, "wc", "-c"); strings.TrimSpace(r.Stdout) != "0" {
			t.Errorf("empty stdin: wc -c said %q (exit %d)", r.Stdout, r.Code)
		}
	})
}

func TestContractWorkspace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		sub := filepath.Join(ws, "src", "deep dir")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if got := s.sh(t, sub, "pwd"); got != "/workspace/src/deep dir\n" {
			t.Errorf("cwd inside is %q, want /workspace/src/deep dir", got)
		}
		s.sh(t, sub, "echo made inside > made.txt")
		p := filepath.Join(sub, "made.txt")
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "made inside\n" {
			t.Fatalf("file made inside: %q, %v", b, err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
			t.Errorf("file made inside is owned by uid %d on the host, want %d", uid, os.Getuid())
		}
		// Nothing outside /workspace survives a run.
		s.sh(t, ws, "echo x > /etc/left-behind; echo y > /root/left-behind; echo z > /tmp/left-behind")
		out := s.sh(t, ws, "ls /etc/left-behind /root/left-behind /tmp/left-behind 2>&1; true")
		if strings.Count(out, "No such file") != 3 {
			t.Errorf("files written outside /workspace survived a run: %s", out)
		}
	})
}

func TestContractWorkdir(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		f, err := os.OpenFile(filepath.Join(ws, "silo.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("[overrides.bb]\nworkdir = \"/src/app\"\n")
		f.Close()
		trustAsIs(t, s.home, filepath.Join(ws, "silo.toml"))
		if err := os.Mkdir(filepath.Join(ws, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		out := s.sh(t, filepath.Join(ws, "lib"), "pwd; echo here > made; ls /workspace 2>&1 | head -1; echo x >> /src/app/silo.toml || echo DENIED")
		if !strings.HasPrefix(out, "/src/app/lib\n") || !strings.Contains(out, "DENIED") {
			t.Errorf("with workdir /src/app: %q", out)
		}
		if got := readFile(filepath.Join(ws, "lib/made")); got != "here\n" {
			t.Errorf("a file made under the workdir is not in the project: %q", got)
		}
	})
}

func TestContractCacheSurvivesRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		f, err := os.OpenFile(filepath.Join(s.home, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "[[tool.bb.cache]]\nguest = \"/root/.cache/pkgs\"\n")
		f.Close()
		ws := s.project(t)
		s.sh(t, ws, "echo downloaded > /root/.cache/pkgs/wheel && echo elsewhere > /root/gone")
		if got := s.sh(t, ws, "cat /root/.cache/pkgs/wheel; ls /root/gone 2>&1 || true"); !strings.HasPrefix(got, "downloaded\n") || !strings.Contains(got, "No such file") {
			t.Errorf("second run: %q (want the cached file, and nothing else kept)", got)
		}
		var found []string
		filepath.Walk(filepath.Join(s.home, "cache"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "wheel" {
				found = append(found, p)
			}
			return nil
		})
		if len(found) != 1 || readFile(found[0]) != "downloaded\n" {
			t.Errorf("the cache on the host: %q", found)
		}
	})
}

// writeFile writes data at p, making its directory.
func writeFile(t testing.TB, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile returns p's content, or "" when it cannot be read.
func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestSiloAsAgent runs a sandbox with silo itself as the agent, as a plain
// `go build ./cmd/silo` without silo-agent beside it gives.
func TestSiloAsAgent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		r := s.run(t, ws, []string{"SILO_AGENT=" + siloBin}, []byte("in\n"), "sh", "-c", "cat; echo err >&2; exit 7")
		if r.Code != 7 || r.Stdout != "in\n" || r.Stderr != "err\n" {
			t.Errorf("silo as the agent: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		// The variable is what picks the agent: a missing one fails.
		if r := s.run(t, ws, []string{"SILO_AGENT=" + filepath.Join(t.TempDir(), "none")}, nil, "true"); r.Code == 0 {
			t.Errorf("a run with a missing agent binary succeeded")
		}
	})
}
