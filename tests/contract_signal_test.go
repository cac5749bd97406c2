package tests

// Signals, the terminal, the watchdog and the unprivileged path, through the
// built binary.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// start starts "silo run bb ARGS…" with stdout piped, and returns the
// command, a reader of its stdout and its stderr buffer.
func (s *sandbox) start(t *testing.T, dir string, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, siloBin, append([]string{"exec", "bb"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(out), &stderr
}

// expectLine reads one line and fails unless it is want.
func expectLine(t *testing.T, r *bufio.Reader, want string, stderr *bytes.Buffer) {
	t.Helper()
	line, err := r.ReadString('\n')
	if line != want+"\n" {
		t.Fatalf("read %q (%v), want %q; stderr: %s", line, err, want, stderr)
	}
}

// exitCode waits for cmd and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return 0
}

func TestContractSIGINT(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		t.Run("reaches the guest's handler", func(t *testing.T) {
			cmd, out, stderr := s.start(t, ws, "sh", "-c", `trap 'echo caught INT; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
			expectLine(t, out, "ready", stderr)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			expectLine(t, out, "caught INT", stderr)
			if code := exitCode(t, cmd); code != 7 {
				t.Errorf("exit %d, want the handler's 7; stderr: %s", code, stderr)
			}
		})
		t.Run("a second one kills the sandbox", func(t *testing.T) {
			cmd, out, stderr := s.start(t, ws, "sh", "-c", `trap '' INT; echo ready; sleep 600; echo not killed`)
			expectLine(t, out, "ready", stderr)
			_ = cmd.Process.Signal(syscall.SIGINT)
			time.Sleep(300 * time.Millisecond) // two separate presses
			_ = cmd.Process.Signal(syscall.SIGINT)
			rest, _ := io.ReadAll(out)
			if code := exitCode(t, cmd); code != 130 {
				t.Errorf("exit %d, want 130; stderr: %s", code, stderr)
			}
			if strings.Contains(string(rest), "not killed") {
				t.Errorf("the command ran on after the sandbox was killed")
			}
			expectGone(t, ws)
		})
	})
}

func TestContractSiloKilled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		cmd, out, stderr := s.start(t, ws, "sh", "-c", "echo up; sleep 987654")
		expectLine(t, out, "up", stderr)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		// Nothing of the sandbox outlives silo: not bwrap (which names
		// the workspace), not the command (and so not its PID 1, the
		// agent, whose death ends every process of the namespace).
		expectGone(t, ws)
		expectGone(t, "sleep\x00987654")
	})
}

func TestContractWatchdog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		r := s.run(t, ws, []string{"SILO_BOOT_TIMEOUT=1ms"}, nil, "true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "did not become ready") || !strings.Contains(r.Stderr, "killed") {
			t.Errorf("a sandbox missing its boot deadline: exit %d, stderr %q", r.Code, r.Stderr)
		}
		expectGone(t, ws)
		if r := s.run(t, ws, []string{"SILO_BOOT_TIMEOUT=soon"}, nil, "true"); r.Code == 0 || !strings.Contains(r.Stderr, "SILO_BOOT_TIMEOUT") {
			t.Errorf("a bad SILO_BOOT_TIMEOUT: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

// expectGone fails if a process whose command line names ws (the sandbox
// of that workspace) is still running a few seconds after silo exited.
func expectGone(t *testing.T, ws string) {
	t.Helper()
	var left []string
	for i := 0; i < 50; i++ {
		left = left[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(ws)) {
				left = append(left, strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("processes of the sandbox are still running: %q", left)
}

func TestContractTerminal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		ws := s.project(t)
		master, slave := openPTY(t)
		setSize(t, master, 33, 101)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, siloBin, "shell", "bb")
		cmd.Dir = ws
		cmd.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend, "TERM=dumb")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		term := newTermReader(master)
		io.WriteString(master, "stty size; tty; echo $((6*7))x\n")
		term.waitFor(t, "33 101")
		term.waitFor(t, "/dev/pts/")
		term.waitFor(t, "42x")
		// The window changes size: the guest follows.
		setSize(t, master, 50, 120)
		_ = cmd.Process.Signal(syscall.SIGWINCH)
		io.WriteString(master, "sleep 0.2; stty size\n")
		term.waitFor(t, "50 120")
		// Ctrl-C in a terminal goes to the guest's foreground job, not silo.
		io.WriteString(master, "sleep 600\n")
		time.Sleep(300 * time.Millisecond)
		io.WriteString(master, "\x03")
		io.WriteString(master, "echo after-interrupt; exit 5\n")
		term.waitFor(t, "after-interrupt")
		if code := exitCode(t, cmd); code != 5 {
			t.Errorf("shell exited %d, want 5", code)
		}
		master.Close()
	})
}

// termReader collects what a terminal prints.
type termReader struct {
	data chan []byte
	seen bytes.Buffer
}

func newTermReader(f *os.File) *termReader {
	r := &termReader{data: make(chan []byte, 64)}
	go func() {
		for {
			b := make([]byte, 4096)
			n, err := f.Read(b)
			if n > 0 {
				r.data <- b[:n]
			}
			if err != nil {
				close(r.data)
				return
			}
		}
	}()
	return r
}

// waitFor reads until the output holds want (then forgets what came
// before it), or fails after 30 seconds.
func (r *termReader) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if i := strings.Index(r.seen.String(), want); i >= 0 {
			rest := r.seen.String()[i+len(want):]
			r.seen.Reset()
			r.seen.WriteString(rest)
			return
		}
		select {
		case b, ok := <-r.data:
			if !ok {
				t.Fatalf("terminal closed before %q; got %q", want, r.seen.String())
			}
			r.seen.Write(b)
		case <-deadline:
			t.Fatalf("no %q on the terminal within 30s; got %q", want, r.seen.String())
		}
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// setSize sets a terminal's window size.
func setSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

func TestContractPortForward(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hostPort := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ws := s.project(t)
		f, err := os.OpenFile(filepath.Join(ws, "silo.toml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "[[overrides.bb.ports]]\nhost = %d\nguest = 8080\n", hostPort)
		f.Close()
		trustAsIs(t, s.home, filepath.Join(ws, "silo.toml"))
		cmd, out, stderr := s.start(t, ws, "sh", "-c", "echo listening; echo served from the sandbox | nc -l -p 8080")
		expectLine(t, out, "listening", stderr)
		var got string
		for i := 0; i < 100 && got == ""; i++ {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hostPort)); err == nil {
				b, _ := io.ReadAll(c)
				c.Close()
				got = string(b)
			}
			if got == "" {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if got != "served from the sandbox\n" {
			t.Errorf("through the forwarded port: %q; stderr %s", got, stderr)
		}
		if code := exitCode(t, cmd); code != 0 {
			t.Errorf("exit %d; stderr %s", code, stderr)
		}
	})
}

func TestContractManyRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sandbox) {
		if s.backend != "namespace" {
			t.Skip("VM backends have their own boot loop test")
		}
		ws := s.project(t)
		n := 30
		if testing.Short() {
			n = 5
		}
		before := snapshot(t, ws)
		for i := 0; i < n; i++ {
			if r := s.run(t, ws, nil, nil, "sh", "-c", "exit "+strconv.Itoa(i%7)); r.Code != i%7 {
				t.Fatalf("run %d: exit %d, want %d; stderr %s", i, r.Code, i%7, r.Stderr)
			}
		}
		// Four at once, in the same project.
		codes := make(chan int, 4)
		for i := 0; i < 4; i++ {
			go func(i int) {
				// Not s.run: only the test's goroutine may fail the test.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				c := exec.CommandContext(ctx, siloBin, "exec", "bb", "sh", "-c", "sleep 0.2; exit "+strconv.Itoa(10+i))
				c.Dir = ws
				c.Env = append(os.Environ(), "SILO_HOME="+s.home, "HOME="+s.userHome, "SILO_BACKEND="+s.backend)
				_ = c.Run() // the exit code says it all
				code := -1  // could not start
				if c.ProcessState != nil {
					code = c.ProcessState.ExitCode()
				}
				codes <- code
			}(i)
		}
		sum := 0
		for i := 0; i < 4; i++ {
			sum += <-codes
		}
		if sum != 10+11+12+13 {
			t.Errorf("concurrent runs: exit codes sum to %d", sum)
		}
		if diff := diffSnapshots(before, snapshot(t, ws)); diff != "" {
			t.Errorf("the workspace changed after %d runs:\n%s", n+4, diff)
		}
		expectGone(t, ws)
	})
}
