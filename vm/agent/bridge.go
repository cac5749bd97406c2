//go:build linux

package agent

import (
	"fmt"
	"net"
	"os"
	"path"
	"strconv"

	"github.com/silo-dev/silo/vm/proto"
)

// proxyBridge listens on the sandbox's 127.0.0.1:ProxyPort and carries
// each connection to the host's policy proxy as a proxy stream. The
// returned function stops listening.
func (a *agent) proxyBridge() (stop func(), err error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(proto.ProxyPort)))
	if err != nil {
		return nil, fmt.Errorf("listen for the network proxy: %w", err)
	}
	go a.bridge(l, proto.KindProxy)
	return func() { l.Close() }, nil
}

// sshAgentBridge listens on SSHAgentSocket in the sandbox's root (the
// agent has moved into it) and carries each connection to the host's SSH
// agent. The returned function stops listening.
func (a *agent) sshAgentBridge() (stop func(), err error) {
	if err := os.MkdirAll(path.Dir(proto.SSHAgentSocket), 0o755); err != nil {
		return nil, fmt.Errorf("make the SSH agent socket's directory: %w", err)
	}
	os.Remove(proto.SSHAgentSocket)
	l, err := net.Listen("unix", proto.SSHAgentSocket)
	if err != nil {
		return nil, fmt.Errorf("listen for the SSH agent: %w", err)
	}
	go a.bridge(l, proto.KindSSHAgent)
	return func() { l.Close() }, nil
}

// bridge carries each connection l accepts to the host as a stream of
// kind, until l is closed.
func (a *agent) bridge(l net.Listener, kind proto.Kind) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go a.bridgeOne(c, kind)
	}
}

// bridgeOne carries one sandbox connection to the host.
func (a *agent) bridgeOne(c net.Conn, kind proto.Kind) {
	defer c.Close()
	st, err := a.mux.Open()
	if err != nil {
		return
	}
	defer st.Close()
	if _, err := st.Write([]byte{byte(kind)}); err != nil {
		return
	}
	proto.Splice(c, st)
}
