package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshProbe is a static program run inside the sandbox: it asks the agent
// at $SSH_AUTH_SOCK for its identities (SSH2_AGENTC_REQUEST_IDENTITIES)
// and prints each key's comment, so the test sees a real agent answer
// through the sandbox.
const sshProbe = `package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	c.Write([]byte{0, 0, 0, 1, 11})
	var n uint32
	binary.Read(c, binary.BigEndian, &n)
	b := make([]byte, n)
	io.ReadFull(c, b)
	if len(b) < 5 || b[0] != 12 {
		fmt.Println("bad answer")
		os.Exit(4)
	}
	keys, p := binary.BigEndian.Uint32(b[1:]), b[5:]
	field := func() []byte {
		l := binary.BigEndian.Uint32(p)
		f := p[4 : 4+l]
		p = p[4+l:]
		return f
	}
	for range keys {
		field()
		fmt.Printf("key %s\n", field())
	}
}
`

// TestSSHAgentForwarded runs a real ssh-agent holding a fresh key: with
// passSshAgent the sandbox can ask it for identities through
// SSH_AUTH_SOCK, though the agent's socket is not in the sandbox; without
// it, there is no agent inside.
func TestSSHAgentForwarded(t *testing.T) {
	forEachBackend(t, sshAgentForwarded)
}

// sshAgentForwarded is TestSSHAgentForwarded on one backend; the qemu
// contract runs it too.
func sshAgentForwarded(t *testing.T, s *sandbox) {
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (openssh-client)", tool)
		}
	}
	sock := startSSHAgent(t)

	ws := s.project(t)
	buildProbe(t, filepath.Join(ws, "probe"))
	env := []string{"SSH_AUTH_SOCK=" + sock}
	r := s.run(t, ws, env, nil, "sh", "-c", "echo sock=$SSH_AUTH_SOCK; ls "+sock+" 2>&1; ./probe")
	if !strings.Contains(r.Stdout, "sock=\n") || !strings.Contains(r.Stdout, "dial:") || strings.Contains(r.Stdout, "silo-test-key") {
		t.Errorf("without passSshAgent the sandbox reached an agent: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	f, err := os.OpenFile(filepath.Join(ws, "silo.toml"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(f.Name())
	f.WriteAt([]byte("passSshAgent = true\n"+string(old)), 0)
	f.Close()
	trustAsIs(t, s.home, f.Name())
	r = s.run(t, ws, env, nil, "sh", "-c", "echo sock=$SSH_AUTH_SOCK; ls "+sock+" >/dev/null 2>&1 && echo host socket visible; ./probe")
	if r.Code != 0 || !strings.Contains(r.Stdout, "sock=/run/silo/ssh-agent.sock\n") || !strings.Contains(r.Stdout, "key silo-test-key\n") {
		t.Errorf("with passSshAgent: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, "host socket visible") {
		t.Errorf("the host's agent socket itself is visible inside")
	}

	r = s.run(t, ws, nil, nil, "true")
	if !strings.Contains(r.Stderr, "SSH_AUTH_SOCK is unset") {
		t.Errorf("passSshAgent without an agent gave no warning: %q", r.Stderr)
	}
}

// startSSHAgent runs a real ssh-agent holding a fresh ed25519 key
// commented "silo-test-key" until the test ends, and returns its socket.
func startSSHAgent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	agent := exec.CommandContext(ctx, "ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "silo-test-key", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return sock
}

// buildProbe builds sshProbe, statically, at out.
func buildProbe(t *testing.T, out string) {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "main.go"), sshProbe)
	writeFile(t, filepath.Join(src, "go.mod"), "module probe\n\ngo 1.22\n")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, b)
	}
}
