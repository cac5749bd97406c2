package tests

// Trust in a project's silo.toml: a cloned repository's file that grants
// itself the user's secrets is obeyed only once the user trusted exactly
// its content, through the built binary on the namespace backend.

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
)

// writeTrusted writes a project's silo.toml and trusts it, as silo does
// for a file it writes at the user's word: for tests whose subject is not
// trust.
func writeTrusted(t testing.TB, home, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := lock.WriteTrusted(home, p, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// trustAsIs trusts the present content of the silo.toml at p, after a
// test changed it.
func trustAsIs(t testing.TB, home, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	writeTrusted(t, home, p, string(b))
}

var expectRE = regexp.MustCompile(`silo config trust (\S+) --expect ([0-9a-f]{32})\b`)

// refusedHash returns the hash a refusal printed for file, failing the
// test unless the refusal names the exact command that trusts it.
func refusedHash(t *testing.T, r result, file string) string {
	t.Helper()
	m := expectRE.FindStringSubmatch(r.Stderr)
	if r.Code == 0 || m == nil || m[1] != file {
		t.Fatalf("want a refusal naming `silo config trust %s --expect HASH`; exit %d, stderr:\n%s", file, r.Code, r.Stderr)
	}
	return m[2]
}

// namespaceSandbox is the sandbox environment on the namespace backend,
// or a skip where it cannot run.
func namespaceSandbox(t *testing.T) *sandbox {
	t.Helper()
	b, err := vm.NewRegistry(vm.Options{Home: t.TempDir()}).Lookup("namespace")
	if err != nil {
		t.Skipf("namespace backend not built in: %v", err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("namespace backend cannot run here: %v", err)
	}
	return newSandbox(t, "namespace")
}

const secretEnv = "AWS_SECRET_ACCESS_KEY=host-aws-secret"

// TestTrustProjectGrants: a project file that passes a host secret is
// refused without a terminal, naming the command; trusted with --expect,
// it runs and the secret passes; changed, it is refused again; swapped
// between the refusal and the trust, it is not trusted.
func TestTrustProjectGrants(t *testing.T) {
	s := namespaceSandbox(t)
	ws := t.TempDir()
	p := filepath.Join(ws, "silo.toml")
	writeFile(t, p, "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")
	env := []string{secretEnv}
	show := []string{"sh", "-c", "echo secret=$AWS_SECRET_ACCESS_KEY"}

	r := s.run(t, ws, env, nil, show...)
	if strings.Contains(r.Stdout, "host-aws-secret") {
		t.Fatal("an untrusted project file passed the secret in")
	}
	hash := refusedHash(t, r, p)
	if !strings.Contains(r.Stderr, "passEnv AWS_SECRET_ACCESS_KEY  (line 2)") {
		t.Errorf("the refusal does not show the grant:\n%s", r.Stderr)
	}

	// Without a terminal and without --expect, nothing is trusted.
	if r := s.silo(t, ws, nil, nil, "config", "trust", p); r.Code == 0 || !strings.Contains(r.Stderr, "--expect "+hash) {
		t.Errorf("config trust without a terminal or --expect: exit %d, stderr %s", r.Code, r.Stderr)
	}
	if r := s.run(t, ws, env, nil, show...); r.Code == 0 {
		t.Fatalf("the file was trusted without a yes: %s", r.Stdout)
	}

	if r := s.silo(t, ws, nil, nil, "config", "trust", p, "--expect", hash); r.Code != 0 {
		t.Fatalf("config trust --expect: exit %d: %s", r.Code, r.Stderr)
	}
	if r := s.run(t, ws, env, nil, show...); r.Code != 0 || !strings.Contains(r.Stdout, "secret=host-aws-secret\n") {
		t.Fatalf("the trusted file: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}

	// A change asks again.
	writeFile(t, p, "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\", \"GITHUB_TOKEN\"]\n")
	r = s.run(t, ws, env, nil, show...)
	changed := refusedHash(t, r, p)
	if strings.Contains(r.Stdout, "host-aws-secret") || !strings.Contains(r.Stderr, "has changed since it was trusted") ||
		!strings.Contains(r.Stderr, "passEnv GITHUB_TOKEN") {
		t.Fatalf("a changed file: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}

	// The file is swapped after the user read the refusal: the hash the
	// user was shown no longer names it, and nothing is trusted.
	writeFile(t, p, "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\", \"GITHUB_TOKEN\"]\n[overrides.bb.network]\nproxy.allow = [\"*\"]\n")
	r = s.silo(t, ws, nil, nil, "config", "trust", p, "--expect", changed)
	if r.Code == 0 || !strings.Contains(r.Stderr, "has changed") || !strings.Contains(r.Stderr, "bb: network.allow *") {
		t.Fatalf("config trust of a swapped file: exit %d, stderr %s", r.Code, r.Stderr)
	}
	if r := s.run(t, ws, env, nil, show...); r.Code == 0 || strings.Contains(r.Stdout, "host-aws-secret") {
		t.Fatalf("the swapped file was obeyed: exit %d, stdout %q", r.Code, r.Stdout)
	}
}

// TestTrustPrompt answers the question silo asks on a terminal: y runs
// the tool with the grant, n refuses.
func TestTrustPrompt(t *testing.T) {
	s := namespaceSandbox(t)
	ws := t.TempDir()
	p := filepath.Join(ws, "silo.toml")
	writeFile(t, p, "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")

	out, code := s.onTerminal(t, ws, "n\n", "exec", "bb", "sh", "-c", "echo secret=$AWS_SECRET_ACCESS_KEY")
	if code == 0 || strings.Contains(out, "host-aws-secret") || !strings.Contains(out, "not trusted") {
		t.Fatalf("answered n: exit %d, terminal %q", code, out)
	}
	out, code = s.onTerminal(t, ws, "y\n", "exec", "bb", "sh", "-c", "echo secret=$AWS_SECRET_ACCESS_KEY")
	if code != 0 || !strings.Contains(out, "secret=host-aws-secret") {
		t.Fatalf("answered y: exit %d, terminal %q", code, out)
	}
	if r := s.run(t, ws, []string{secretEnv}, nil, "sh", "-c", "echo secret=$AWS_SECRET_ACCESS_KEY"); r.Code != 0 || !strings.Contains(r.Stdout, "secret=host-aws-secret") {
		t.Fatalf("after y, a run without a terminal: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}

	// silo config trust asks on a terminal too.
	writeFile(t, p, "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\npassSshAgent = false\n")
	out, code = s.onTerminal(t, ws, "y\n", "config", "trust", p)
	if code != 0 || !strings.Contains(out, "passEnv AWS_SECRET_ACCESS_KEY") || !strings.Contains(out, "trusted "+p) {
		t.Fatalf("config trust answered y: exit %d, terminal %q", code, out)
	}
	if r := s.run(t, ws, []string{secretEnv}, nil, "true"); r.Code != 0 {
		t.Fatalf("after config trust: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// onTerminal runs silo with a pseudo-terminal as its stdin, stdout and
// stderr, types answer once silo asks, and returns what the terminal
// showed and the exit status.
func (s *sandbox) onTerminal(t *testing.T, dir, answer string, args ...string) (string, int) {
	t.Helper()
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, siloBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend, "TERM=dumb", secretEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := newTermReader(master)
	var all strings.Builder
	asked := false
	deadline := time.After(time.Minute)
	for {
		select {
		case b, ok := <-term.data:
			if !ok {
				return all.String(), exitCode(t, cmd)
			}
			all.Write(b)
			if !asked && strings.Contains(all.String(), "[y/N] ") {
				asked = true
				io.WriteString(master, answer)
			}
		case <-deadline:
			t.Fatalf("silo %q: no end within a minute; the terminal showed %q", args, all.String())
		}
	}
}

// TestTrustUserWideNeedsNone: the user's own files grant without a
// question.
func TestTrustUserWideNeedsNone(t *testing.T) {
	s := namespaceSandbox(t)
	writeFile(t, filepath.Join(s.home, "silo.toml"), "passEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n[overrides.bb.network]\nproxy.allow = [\"*\"]\n")
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\npassEnv = [\"AWS_SECRET_ACCESS_KEY\"]\n")
	r := s.run(t, ws, []string{secretEnv}, nil, "sh", "-c", "echo secret=$AWS_SECRET_ACCESS_KEY")
	if r.Code != 0 || !strings.Contains(r.Stdout, "secret=host-aws-secret") {
		t.Fatalf("grants of the user-wide silo.toml: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := s.silo(t, ws, nil, nil, "config", "trust", filepath.Join(s.home, "silo.toml")); r.Code != 0 || !strings.Contains(r.Stderr, "without trust") {
		t.Errorf("config trust of the user-wide file: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// TestTrustProjectImageOutside: a project's silo.toml cannot run the
// sandbox on a local image outside the project; the user-wide file can.
func TestTrustProjectImageOutside(t *testing.T) {
	s := namespaceSandbox(t)
	layout := strings.TrimPrefix(s.image, "oci-layout:")
	ws := t.TempDir()
	p := filepath.Join(ws, "silo.toml")
	for _, ref := range []string{s.image, "oci-layout:~/img", "docker-archive:~/x.tar", "oci-archive:../x.tar"} {
		writeFile(t, p, "tools = [\"bb\"]\n[overrides.bb]\nimage = \""+ref+"\"\n")
		r := s.run(t, ws, nil, nil, "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, p+":3:1: image") || !strings.Contains(r.Stderr, "outside the project") {
			t.Errorf("image %s in a project file: exit %d, stderr %s", ref, r.Code, r.Stderr)
		}
		// Trust does not lift it: it is not a grant a project may ask for.
		if r := s.silo(t, ws, nil, nil, "config", "trust", p, "--expect", strings.Repeat("0", 32)); r.Code == 0 {
			t.Errorf("config trust took a file naming an image outside the project")
		}
	}
	writeFile(t, p, "tools = [\"bb\"]\n")
	writeFile(t, filepath.Join(s.home, "silo.toml"), "[overrides.bb]\nimage = \"oci-layout:"+layout+"\"\n")
	if r := s.run(t, ws, nil, nil, "true"); r.Code != 0 {
		t.Errorf("a local image outside the project, named in the user-wide file: exit %d, stderr %s", r.Code, r.Stderr)
	}
}
