package proto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/silo-dev/silo/internal/owners"
)

// Kind is the first byte of every stream and says what the stream carries.
type Kind byte

// The stream kinds.
const (
	// KindControl carries Msgs both ways. Opened by the host, first.
	KindControl Kind = 'C'
	// KindStdin carries the command's stdin, host to guest; the host
	// closes its side at end of input.
	KindStdin Kind = 'I'
	// KindStdout and KindStderr carry the command's output, guest to host.
	KindStdout Kind = 'O'
	KindStderr Kind = 'E'
	// KindProxy is one connection the sandbox made to its HTTP proxy on
	// 127.0.0.1:ProxyPort, opened by the agent.
	KindProxy Kind = 'P'
	// KindForward is one connection to a forwarded guest port, opened by
	// the host; the kind byte is followed by the port, 2 bytes big-endian.
	KindForward Kind = 'F'
	// KindSSHAgent is one connection the sandbox made to the SSH agent
	// socket at SSHAgentSocket, opened by the agent; the host carries it
	// to the user's SSH agent.
	KindSSHAgent Kind = 'A'
	// KindCapture carries a build's captured changes, opened by the agent
	// once the command exited 0 and before it reports the exit: one
	// normalized, uncompressed OCI layer tar (see Capture), then EOF.
	KindCapture Kind = 'L'
)

// SSHAgentSocket is where the forwarded SSH agent listens inside the
// sandbox; SSH_AUTH_SOCK names it.
const SSHAgentSocket = "/run/silo/ssh-agent.sock"

// ProxyPort is the port the agent's proxy bridge listens on inside the
// sandbox, on 127.0.0.1.
const ProxyPort = 3128

// MaxMsg bounds one control message, pass files included.
const MaxMsg = 64 << 20

// Message types.
const (
	// Host to agent.
	TypeSpec   = "spec"   // Spec: what to run.
	TypeSignal = "signal" // Signal: deliver to the foreground process group.
	TypeResize = "resize" // Rows, Cols: the terminal's new size.
	TypeKill   = "kill"   // Kill everything and exit.

	// Agent to host.
	TypeReady = "ready" // The sandbox is built; the command is starting.
	TypeExit  = "exit"  // Code: the command's exit status; output is flushed.
	TypeError = "error" // Error: the sandbox could not run the command.
)

// Msg is one control message.
type Msg struct {
	Type   string `json:"type"`
	Spec   *Spec  `json:"spec,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Rows   uint16 `json:"rows,omitempty"`
	Cols   uint16 `json:"cols,omitempty"`
	Code   int    `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Spec is what the agent needs to build the sandbox's view and run the
// command. Paths are guest paths; workspace paths are relative to it.
type Spec struct {
	Argv      []string `json:"argv"`
	Env       []string `json:"env"`
	Cwd       string   `json:"cwd,omitempty"`
	Files     []File   `json:"files,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
	Protected []string `json:"protected,omitempty"`
	// Mounts are the guest paths of the host directories the backend
	// shared, in order: the agent finds the i-th at Layout.Mounts/i.
	Mounts []string `json:"mounts,omitempty"`
	// Workdir is the absolute guest path of the workspace ("" means
	// /workspace).
	Workdir string `json:"workdir,omitempty"`
	// ReadOnly mounts the workspace read-only, its excludes aside.
	ReadOnly bool   `json:"readOnly,omitempty"`
	TTY      bool   `json:"tty,omitempty"`
	Rows     uint16 `json:"rows,omitempty"`
	Cols     uint16 `json:"cols,omitempty"`
	// Proxy asks the agent to listen on 127.0.0.1:ProxyPort and bridge
	// each connection to the host.
	Proxy bool `json:"proxy,omitempty"`
	// SSHAgent asks the agent to listen on SSHAgentSocket and bridge each
	// connection to the host.
	SSHAgent bool `json:"sshAgent,omitempty"`
	// Hostname is the sandbox's host name.
	Hostname string `json:"hostname,omitempty"`
	// ExcludeMounts backs exclude i with the backend's shared directory
	// Layout.Mounts/ExcludeMounts[i] (kept by the host between runs)
	// instead of scratch; -1, or an index past the list, means scratch.
	ExcludeMounts []int `json:"excludeMounts,omitempty"`
	// Capture, when set, makes the run a build: after the command exits 0
	// the agent streams what it changed as a KindCapture stream.
	Capture *Capture `json:"capture,omitempty"`
	// HostAccess says the policy lets the sandbox reach the host's
	// services (through the proxy): the /etc/hosts the agent supplies then
	// names host.silo.internal.
	HostAccess bool `json:"hostAccess,omitempty"`
	// Owners are the rootfs paths whose owner the image says is not root
	// (a directory rootfs: the namespace backend). The agent shows them
	// with those owners, in a layer below the overlay's upper.
	Owners owners.Table `json:"owners,omitempty"`
}

// Capture says what a build keeps. The agent writes one uncompressed OCI
// layer: every change in the root's upper layer (outside the workspace),
// then each excluded workspace path whole, under the workspace's guest
// path and marked opaque. Entries come in sorted order per tree, owners
// are numeric, mtimes are clamped to Epoch (SOURCE_DATE_EPOCH), deletions
// are ".wh." whiteouts, opaque directories ".wh..wh..opq"; device nodes
// and sockets are left out.
type Capture struct {
	// Epoch is SOURCE_DATE_EPOCH: no mtime in the layer is later.
	Epoch int64 `json:"epoch"`
	// Skip are guest paths not captured: mount points (/proc, /dev, the
	// caches, the pass files), /tmp and the workspace.
	Skip []string `json:"skip,omitempty"`
}

// File is a pass file: its content, shown read-only at Guest.
type File struct {
	Guest string `json:"guest"`
	Mode  uint32 `json:"mode"`
	Data  []byte `json:"data"`
}

// Write sends m on w as a 4-byte big-endian length and JSON.
func Write(w io.Writer, m *Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	if len(b) > MaxMsg {
		return fmt.Errorf("%s message is %d bytes, over the %d limit: pass fewer or smaller files", m.Type, len(b), MaxMsg)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

// Read receives one message from r.
func Read(r io.Reader) (*Msg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMsg {
		return nil, fmt.Errorf("control message of %d bytes is over the %d limit", n, MaxMsg)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read control message: %w", err)
	}
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode control message: %w", err)
	}
	if m.Type == "" {
		return nil, errors.New("control message without a type")
	}
	return &m, nil
}

// Config is the yamux configuration both ends use: no keepalives (the
// backends have their own watchdogs, and a TCG guest can stall for
// seconds), quiet logs and a window large enough for bulk stdio. A stream
// open has no timeout: the host takes the agent's streams only as its
// memory budget allows (HostConfig), and a stream waiting for that must
// not end the session.
func Config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.LogOutput = io.Discard
	c.MaxStreamWindowSize = 1 << 20
	c.ConnectionWriteTimeout = 30 * time.Second
	c.StreamOpenTimeout = 0
	c.StreamCloseTimeout = 5 * time.Minute
	return c
}

// HostStreamWindow is the receive window of every stream at the host's
// end: yamux's minimum, so that a stream the sandbox fills and the host
// does not read holds at most this much of the host's memory.
const HostStreamWindow = 256 << 10

// HostAcceptBacklog bounds the streams the agent has opened and the host
// has not taken yet; yamux resets the ones past it at once and drops
// what they carry.
const HostAcceptBacklog = 16

// HostConfig is Config for the host's end: the sandbox drives what the host
// receives, so windows and backlog are bounded (see vm's stream budget).
func HostConfig() *yamux.Config {
	c := Config()
	c.MaxStreamWindowSize = HostStreamWindow
	c.AcceptBacklog = HostAcceptBacklog
	return c
}
