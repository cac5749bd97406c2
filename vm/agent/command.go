//go:build linux

package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm/proto"
)

// defaultPath is the guest PATH when the spec's environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// command is the guest command: its process, its stdio ends on the agent's
// side, and its terminal when it has one.
type command struct {
	proc     *os.Process
	stdin    io.WriteCloser
	stdout   io.ReadCloser
	stderr   io.ReadCloser // nil with a terminal: it is merged into stdout
	pty      *os.File
	status   chan int
	notFound string // set instead of proc when argv[0] is not found
}

// startCommand starts the spec's command in the sandbox (whose root is
// already the process root). On the host's kernel it starts it through
// the agent's stub (nproc.go), under the layout's RLIMIT_NPROC when it
// sets one.
func startCommand(s *proto.Spec, l *launcher, lay Layout) (*command, error) {
	dir := path.Join(workdir(s), s.Cwd)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("working directory %s does not exist in the sandbox (is it excluded or a symlink?)", dir)
	}
	argv0, err := lookPath(s.Argv[0], s.Env, dir)
	if err != nil {
		return &command{notFound: err.Error()}, nil
	}
	c := &command{status: make(chan int, 1)}
	attr := &os.ProcAttr{Dir: dir, Env: s.Env, Sys: &syscall.SysProcAttr{Setsid: true}}
	child, err := c.stdio(s, attr)
	if err != nil {
		return nil, err
	}
	exe, argv := argv0, s.Argv
	if (lay.SharedKernel || lay.MaxProcs > 0) && selfStatic() {
		exe, argv = nprocArgv(lay.MaxProcs, argv0, s.Argv)
	}
	c.proc, err = l.start(exe, argv, attr)
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		c.closeAll()
		return nil, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	go c.reap()
	return c, nil
}

// stdio sets up pipes or a terminal for the command, and returns the
// child's ends, which the agent closes once the child has started.
func (c *command) stdio(s *proto.Spec, attr *os.ProcAttr) ([]*os.File, error) {
	if s.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		c.pty = master
		c.resize(s.Rows, s.Cols)
		c.stdin, c.stdout = nopCloser{master}, master
		attr.Files = []*os.File{slave, slave, slave}
		attr.Sys.Setctty = true
		attr.Sys.Ctty = 0
		return []*os.File{slave}, nil
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.stdin, c.stdout, c.stderr = inW, outR, errR
	attr.Files = []*os.File{inR, outW, errW}
	return []*os.File{inR, outW, errW}, nil
}

// closeAll closes the agent's ends of the command's stdio.
func (c *command) closeAll() {
	for _, f := range []io.Closer{c.stdin, c.stdout, c.stderr, c.pty} {
		if f != nil {
			f.Close()
		}
	}
}

// reap waits for every child (the agent is PID 1: orphans come to it) and
// reports the main process's status.
func (c *command) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if pid == c.proc.Pid {
			c.status <- exitStatus(ws)
		}
	}
}

// wait returns the main process's exit status.
func (c *command) wait() int { return <-c.status }

// exitStatus is the shell's view of a wait status: the exit code, or
// 128+N for signal N.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// signal delivers sig to the command's foreground process group: the
// terminal's, or the command's own session.
func (c *command) signal(sig unix.Signal) {
	pgid := c.proc.Pid
	if c.pty != nil {
		if fg, err := unix.IoctlGetInt(int(c.pty.Fd()), unix.TIOCGPGRP); err == nil && fg > 0 {
			pgid = fg
		}
	}
	_ = unix.Kill(-pgid, sig)
}

// resize sets the terminal's window size.
func (c *command) resize(rows, cols uint16) {
	if c.pty == nil || rows == 0 || cols == 0 {
		return
	}
	_ = unix.IoctlSetWinsize(int(c.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// killAll kills every process in the sandbox but the agent (as PID 1), or
// the command's session otherwise.
func (c *command) killAll() {
	if isInit() {
		_ = unix.Kill(-1, unix.SIGKILL)
		return
	}
	_ = unix.Kill(-c.proc.Pid, unix.SIGKILL)
}

// lookPath finds name in the guest PATH from env, as a shell would in
// dir, the command's working directory: a name with a slash, and a
// relative PATH entry, are relative to dir.
func lookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		f := inDir(dir, name)
		if err := executable(f); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return f, nil
	}
	p := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	for _, d := range strings.Split(p, ":") {
		f := inDir(dir, path.Join(d, name))
		if executable(f) == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox", name)
}

// inDir resolves p against dir unless it is absolute.
func inDir(dir, p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join(dir, p)
}

// executable reports why f is not an executable file, or nil.
func executable(f string) error {
	st, err := os.Stat(f)
	if err != nil {
		return errors.Unwrap(err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// nopCloser is a writer whose Close does nothing: the end of stdin must
// not close a terminal.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
