//go:build linux

package agent

import (
	"fmt"
	"net"
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
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go a.bridgeOne(c)
		}
	}()
	return func() { l.Close() }, nil
}

// bridgeOne carries one sandbox connection to the host's proxy.
func (a *agent) bridgeOne(c net.Conn) {
	defer c.Close()
	st, err := a.mux.Open()
	if err != nil {
		return
	}
	defer st.Close()
	if _, err := st.Write([]byte{byte(proto.KindProxy)}); err != nil {
		return
	}
	splice(c, st)
}
