package session

import (
	"context"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/vm"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/silo-dev/silo/vm/proto"
)

// DefaultBootTimeout bounds the time from Attach until the agent reports
// the sandbox ready, when vm.Spec.BootTimeout is zero.
const DefaultBootTimeout = 60 * time.Second

// ErrBootTimeout is returned when the agent does not report ready within
// the boot timeout; the sandbox is stopped.
var ErrBootTimeout = errors.New("the sandbox did not become ready in time")

// maxPassFile bounds one pass file's size: they travel in the spec.
const maxPassFile = 16 << 20

// Attach runs spec's command through a freshly started agent at the other
// end of conn, and returns the command's exit status. It sends the spec,
// relays stdio, signals and window size, serves proxy and port-forward
// streams, and enforces spec.BootTimeout. Every backend calls it once its
// byte stream to the agent is up; Attach closes conn before it returns,
// and the backend then tears the sandbox down. It is Start, then Run.
func Attach(ctx context.Context, conn io.ReadWriteCloser, spec *vm.Spec) (exit int, err error) {
	s, err := Start(conn, spec)
	if err != nil {
		return -1, err
	}
	return s.Run(ctx)
}

// earlySpec bounds the spec Start sends: a larger one (pass files) is
// sent by Run, so that Start never waits for a reader that is not up.
const earlySpec = 64 << 10

// Session is a channel to an agent that Start opened.
type Session struct {
	s       *session
	pending *proto.Spec // the spec, when Run sends it
}

// Start opens the channel to the agent at the other end of conn: the four
// streams and, unless it is large (earlySpec), the spec. It only writes
// what the agent reads once it is up, and needs no answer: a backend may
// start it while the agent is still coming up (a VM restored from a
// snapshot), so that the agent finds them waiting. Start closes conn when
// it fails; Run goes on, and Close abandons the channel.
func Start(conn io.ReadWriteCloser, spec *vm.Spec) (*Session, error) {
	msg, err := wireSpec(spec)
	if err != nil {
		conn.Close()
		return nil, err
	}
	mux, err := yamux.Client(conn, proto.HostConfig())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("start the agent channel: %w", err)
	}
	s := &session{mux: mux, spec: spec, captured: make(chan error, 1)}
	if err := s.openStreams(); err != nil {
		mux.Close()
		return nil, err
	}
	x := &Session{s: s, pending: msg}
	if specSize(msg) <= earlySpec {
		if err := x.sendSpec(); err != nil {
			mux.Close()
			return nil, err
		}
	}
	return x, nil
}

// Run sends the spec if Start did not, relays everything until the
// command exits, the context ends or the channel fails, and closes the
// channel. spec.BootTimeout counts from here.
func (x *Session) Run(ctx context.Context) (int, error) {
	defer x.s.mux.Close()
	x.s.start = time.Now()
	if x.pending != nil {
		if err := x.sendSpec(); err != nil {
			return -1, err
		}
	}
	return x.s.run(ctx)
}

// Close abandons the channel (and closes its conn) without running.
func (x *Session) Close() { x.s.mux.Close() }

// sendSpec sends the pending spec, with the terminal's size.
func (x *Session) sendSpec() error {
	m := x.pending
	x.pending = nil
	m.Rows, m.Cols = x.s.term.size()
	return x.s.send(&proto.Msg{Type: proto.TypeSpec, Spec: m})
}

// specSize is about how large m is on the wire.
func specSize(m *proto.Spec) int {
	n := 0
	for _, f := range m.Files {
		n += len(f.Data) + len(f.Guest)
	}
	for _, l := range [][]string{m.Argv, m.Env, m.Exclude, m.Protected, m.Mounts} {
		for _, v := range l {
			n += len(v)
		}
	}
	return n
}

// session is the host end of one sandbox's channel.
type session struct {
	mux   *yamux.Session
	spec  *vm.Spec
	start time.Time

	ctrl                net.Conn
	stdin, stdout, stde net.Conn
	wmu                 sync.Mutex // serializes control writes
	output              sync.WaitGroup
	term                *hostTerm
	limits              streamLimits // zero: the defaults
	captured            chan error   // a build's capture result
	captureOnce         sync.Once
}

// openStreams opens the four fixed streams.
func (s *session) openStreams() error {
	var err error
	open := func(k proto.Kind) net.Conn {
		if err != nil {
			return nil
		}
		var c net.Conn
		if c, err = s.mux.Open(); err == nil {
			_, err = c.Write([]byte{byte(k)})
		}
		return c
	}
	s.ctrl, s.stdin, s.stdout, s.stde = open(proto.KindControl), open(proto.KindStdin), open(proto.KindStdout), open(proto.KindStderr)
	if err != nil {
		return fmt.Errorf("open the agent channel: %w", err)
	}
	s.term = newHostTerm(s.spec)
	return nil
}

// send writes one control message.
func (s *session) send(m *proto.Msg) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := proto.Write(s.ctrl, m); err != nil {
		return fmt.Errorf("send %s to the agent: %w", m.Type, err)
	}
	return nil
}

// run relays everything until the command exits, the context ends, or the
// channel fails.
func (s *session) run(ctx context.Context) (int, error) {
	if err := s.term.setRaw(); err != nil {
		return -1, err
	}
	defer s.term.restore()
	s.output.Add(2)
	go s.copyOut(s.spec.Stdout, s.stdout)
	go s.copyOut(s.spec.Stderr, s.stde)
	go s.copyIn()
	go s.acceptStreams()
	stopFwd, err := s.forwardPorts()
	if err != nil {
		return -1, err
	}
	defer stopFwd()

	msgs := make(chan *proto.Msg)
	readErr := make(chan error, 1)
	go s.readControl(msgs, readErr)
	sig := newSignalRelay(s.spec.TTY)
	defer sig.stop()
	return s.loop(ctx, msgs, readErr, sig)
}

// loop is run's event loop.
func (s *session) loop(ctx context.Context, msgs <-chan *proto.Msg, readErr <-chan error, sig *signalRelay) (int, error) {
	boot := s.spec.BootTimeout
	if boot <= 0 {
		boot = DefaultBootTimeout
	}
	watchdog := time.NewTimer(boot)
	defer watchdog.Stop()
	ready := time.Time{}
	for {
		select {
		case <-ctx.Done():
			s.kill()
			return -1, fmt.Errorf("sandbox stopped: %w", ctx.Err())
		case <-watchdog.C:
			s.kill()
			return -1, fmt.Errorf("%w: no answer from the agent within %s; it was killed (a loaded host or a hung guest; retry, or raise the boot timeout)", ErrBootTimeout, boot)
		case err := <-readErr:
			return -1, fmt.Errorf("the sandbox's agent hung up before the command finished: %w", err)
		case ev := <-sig.events:
			if code, done := s.onSignal(ev); done {
				return code, nil
			}
		case m := <-msgs:
			switch m.Type {
			case proto.TypeReady:
				watchdog.Stop()
				ready = s.spec.Timing.Mark("agent ready", s.start)
			case proto.TypeExit:
				s.waitOutput()
				s.spec.Timing.Mark("command", ready)
				if s.spec.Capture != nil && m.Code == 0 {
					if err := s.waitCapture(ctx); err != nil {
						return -1, err
					}
				}
				return m.Code, nil
			case proto.TypeError:
				return -1, fmt.Errorf("sandbox: %s", m.Error)
			}
		}
	}
}

// onSignal handles one host signal; done reports that the sandbox was
// killed and run must return code.
func (s *session) onSignal(ev signalEvent) (code int, done bool) {
	switch {
	case ev.resize:
		rows, cols := s.term.size()
		_ = s.send(&proto.Msg{Type: proto.TypeResize, Rows: rows, Cols: cols})
	case ev.kill:
		s.kill()
		return 128 + ev.signal, true
	default:
		_ = s.send(&proto.Msg{Type: proto.TypeSignal, Signal: ev.signal})
	}
	return 0, false
}

// kill asks the agent to stop everything and closes the channel.
func (s *session) kill() {
	done := make(chan struct{})
	go func() {
		_ = s.send(&proto.Msg{Type: proto.TypeKill})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	s.mux.Close()
}

// readControl forwards control messages until the stream ends.
func (s *session) readControl(msgs chan<- *proto.Msg, errc chan<- error) {
	for {
		m, err := proto.Read(s.ctrl)
		if err != nil {
			errc <- err
			return
		}
		select {
		case msgs <- m:
		case <-s.mux.CloseChan():
			return
		}
	}
}

// waitCapture waits for the build's capture stream to be read and kept.
func (s *session) waitCapture(ctx context.Context) error {
	select {
	case err := <-s.captured:
		if err != nil {
			return fmt.Errorf("keep the build's changes: %w", err)
		}
		return nil
	case <-ctx.Done():
		s.kill()
		return fmt.Errorf("sandbox stopped: %w", ctx.Err())
	case <-s.mux.CloseChan():
		return errors.New("the sandbox's agent hung up before it sent the build's changes")
	}
}

// waitOutput waits for stdout and stderr to drain. The agent closes them
// before it reports the exit, so this is short unless the host's own
// writer blocks.
func (s *session) waitOutput() {
	done := make(chan struct{})
	go func() { s.output.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// copyOut copies one output stream to w (or discards it).
func (s *session) copyOut(w io.Writer, c net.Conn) {
	defer s.output.Done()
	if w == nil {
		w = io.Discard
	}
	_, _ = io.Copy(w, c)
}

// copyIn copies the command's stdin and closes the stream at its end, so
// that the guest command sees end of file.
func (s *session) copyIn() {
	if s.spec.Stdin != nil {
		_, _ = io.Copy(s.stdin, s.spec.Stdin)
	}
	s.stdin.Close()
}

// wireSpec turns spec into what the agent needs, reading pass files.
func wireSpec(spec *vm.Spec) (*proto.Spec, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, errors.New("no command to run: give one after the tool name")
	}
	cwd, err := guestCwd(spec.Cwd)
	if err != nil {
		return nil, err
	}
	workdir, err := guestWorkdir(spec.Workdir)
	if err != nil {
		return nil, err
	}
	m := &proto.Spec{
		Argv: spec.Argv, Env: spec.Env, Cwd: cwd, TTY: spec.TTY,
		Exclude: spec.Exclude, Protected: spec.Protected, Hostname: "silo",
		ReadOnly: spec.WorkspaceReadOnly, Workdir: workdir, HostAccess: spec.Network.HostAccess,
		Owners: spec.Owners,
	}
	for _, mt := range spec.Mounts {
		g := path.Clean(mt.Guest)
		if !path.IsAbs(g) || g == "/" || fsutil.Within(g, workdir) || fsutil.Within(workdir, g) {
			return nil, fmt.Errorf("cache %s: guest path %q must be absolute and apart from the workspace (%s)", mt.Host, mt.Guest, workdir)
		}
		m.Mounts = append(m.Mounts, g)
	}
	if spec.Proxy != nil && spec.Network.Enabled(false) {
		m.Proxy = true
		m.Env = append(append([]string(nil), m.Env...), ProxyEnv()...)
	}
	if spec.SSHAgent != "" {
		m.SSHAgent = true
		m.Env = append(slices.DeleteFunc(slices.Clone(m.Env), func(kv string) bool {
			return strings.HasPrefix(kv, "SSH_AUTH_SOCK=")
		}), "SSH_AUTH_SOCK="+proto.SSHAgentSocket)
	}
	for _, f := range spec.PassFiles {
		pf, err := readPassFile(f, workdir, spec.Workspace)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, pf)
	}
	m.ExcludeMounts = excludeMounts(spec)
	if spec.Capture != nil {
		m.Capture = &proto.Capture{Epoch: spec.CaptureEpoch, Skip: slices.Clone(m.Mounts)}
		for _, f := range m.Files {
			m.Capture.Skip = append(m.Capture.Skip, f.Guest)
		}
	}
	return m, nil
}

// excludeMounts is where the agent finds each excluded path's kept
// directory among the shared ones (Spec.Shared), or -1 for scratch.
func excludeMounts(spec *vm.Spec) []int {
	if len(spec.ExcludeDirs) == 0 {
		return nil
	}
	out := make([]int, len(spec.Exclude))
	n := len(spec.Mounts)
	for i := range out {
		out[i] = -1
		if i < len(spec.ExcludeDirs) && spec.ExcludeDirs[i] != "" {
			out[i] = n
			n++
		}
	}
	return out
}

// ProxyEnv is the environment a sandbox gets when its policy allows some
// network, and the only place it is written: every spelling of the proxy
// variables that common tools read (curl, pip, npm, cargo, go, git),
// pointing at the agent's bridge on 127.0.0.1:proto.ProxyPort, and
// NO_PROXY for the sandbox's own loopback.
func ProxyEnv() []string {
	u := fmt.Sprintf("http://127.0.0.1:%d", proto.ProxyPort)
	const noProxy = "localhost,127.0.0.1,::1"
	return []string{"HTTP_PROXY=" + u, "http_proxy=" + u, "HTTPS_PROXY=" + u, "https_proxy=" + u,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy}
}

// guestCwd checks that a workspace-relative cwd stays in the workspace.
func guestCwd(cwd string) (string, error) {
	if cwd == "" {
		return ".", nil
	}
	c := path.Clean(filepath.ToSlash(cwd))
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("working directory %q is outside the workspace: run silo from inside the project", cwd)
	}
	return c, nil
}

// guestWorkdir checks where the workspace is to appear inside.
func guestWorkdir(w string) (string, error) {
	if w == "" {
		return vm.DefaultWorkdir, nil
	}
	c := path.Clean(w)
	if !path.IsAbs(c) || c == "/" {
		return "", fmt.Errorf("workdir %q: give an absolute path inside the sandbox, not /", w)
	}
	for _, sys := range []string{"/proc", "/dev", "/sys", "/tmp"} {
		if fsutil.Within(c, sys) || fsutil.Within(sys, c) {
			return "", fmt.Errorf("workdir %q: the sandbox needs %s for itself", w, sys)
		}
	}
	return c, nil
}

// readPassFile reads one pass file from the host. One inside the workspace
// is opened beneath it: the sandbox shares that directory and could have
// swapped the file for a link to a host secret since the config was read.
func readPassFile(f vm.PassFile, workdir, workspace string) (proto.File, error) {
	if !path.IsAbs(f.Guest) {
		return proto.File{}, fmt.Errorf("pass file %s: guest path %q is not absolute", f.Host, f.Guest)
	}
	g := path.Clean(f.Guest)
	if g == "/" || fsutil.Within(g, workdir) || fsutil.Within(workdir, g) {
		return proto.File{}, fmt.Errorf("pass file %s: guest path %s must be apart from the workspace (%s)", f.Host, g, workdir)
	}
	var fh *os.File
	var err error
	if rel, rerr := filepath.Rel(workspace, f.Host); workspace != "" && rerr == nil && fsutil.Within(f.Host, workspace) {
		fh, err = openBeneath(workspace, rel)
	} else {
		fh, err = os.Open(f.Host)
	}
	if err != nil {
		return proto.File{}, fmt.Errorf("pass file: %w (remove it from passFiles or create it)", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return proto.File{}, fmt.Errorf("pass file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return proto.File{}, fmt.Errorf("pass file %s is not a regular file", f.Host)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxPassFile+1))
	if err != nil {
		return proto.File{}, fmt.Errorf("read pass file: %w", err)
	}
	if len(data) > maxPassFile {
		return proto.File{}, fmt.Errorf("pass file %s is over %d MiB", f.Host, maxPassFile>>20)
	}
	return proto.File{Guest: g, Mode: uint32(st.Mode().Perm()) &^ 0o222, Data: data}, nil
}
