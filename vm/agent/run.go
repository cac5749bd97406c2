//go:build linux

package agent

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/silo-dev/silo/vm/proto"
)

// run builds the sandbox, runs the command and returns its exit status.
func (a *agent) run(s *proto.Spec) (int, error) {
	selfStatic() // while the host's root, and the binary's path, are still there
	l := newLauncher(a.layout.SharedKernel)
	defer l.close()
	fs, err := buildRoot(a.layout, s)
	if err != nil {
		return -1, err
	}
	defer fs.cleanup()
	if err := a.send(&proto.Msg{Type: proto.TypeReady}); err != nil {
		return -1, fmt.Errorf("tell the host the sandbox is ready: %w", err)
	}
	if s.Proxy {
		stop, err := a.proxyBridge()
		if err != nil {
			return -1, err
		}
		defer stop()
	}
	if s.SSHAgent {
		stop, err := a.sshAgentBridge()
		if err != nil {
			return -1, err
		}
		defer stop()
	}
	c, err := startCommand(s, l, a.layout)
	if err != nil {
		return -1, err
	}
	stdout, stderr := a.streams[proto.KindStdout], a.streams[proto.KindStderr]
	if c.notFound != "" {
		fmt.Fprintf(stderr, "silo: %s\n", c.notFound)
		stdout.Close()
		stderr.Close()
		return 127, nil
	}
	code := a.relay(c, stdout, stderr)
	if s.Capture != nil && code == 0 {
		if err := a.capture(fs, s); err != nil {
			return -1, err
		}
	}
	fs.syncToHost()
	return code, nil
}

// relay copies the command's stdio, handles control messages, and returns
// the command's status once its output is flushed.
func (a *agent) relay(c *command, stdout, stderr net.Conn) int {
	var out sync.WaitGroup
	out.Add(2)
	go copyClose(&out, stdout, c.stdout)
	go copyClose(&out, stderr, c.stderr)
	go func() {
		_, _ = io.Copy(c.stdin, a.streams[proto.KindStdin])
		c.stdin.Close()
	}()
	go a.control(c)
	go func() {
		<-a.mux.CloseChan()
		c.killAll()
	}()
	code := c.wait()
	// The main process is gone: stop whatever it left behind, so that
	// its output pipes close.
	c.killAll()
	waitTimeout(&out, 5*time.Second)
	stdout.Close()
	stderr.Close()
	return code
}

// control handles the host's control messages until the channel closes.
func (a *agent) control(c *command) {
	for {
		m, err := proto.Read(a.ctrl)
		if err != nil {
			return
		}
		switch m.Type {
		case proto.TypeSignal:
			c.signal(unix.Signal(m.Signal))
		case proto.TypeResize:
			c.resize(m.Rows, m.Cols)
		case proto.TypeKill:
			c.killAll()
		}
	}
}

// copyClose copies r to w and marks wg done; nil r means nothing to copy.
func copyClose(wg *sync.WaitGroup, w io.Writer, r io.ReadCloser) {
	defer wg.Done()
	if r == nil {
		return
	}
	_, _ = io.Copy(w, r)
	r.Close()
}

// waitTimeout waits for wg, or gives up after d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// isInit reports whether the agent is PID 1 of its namespace, and so may
// kill every other process in it.
func isInit() bool { return os.Getpid() == 1 }
