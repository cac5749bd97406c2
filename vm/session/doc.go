// Package session is the host's end of a sandbox: Attach, which every
// backend calls once its byte stream to the guest agent is up.
//
// Attach sends the spec (argv, environment, working directory, protected
// and excluded paths, pass files read on the host beneath the workspace
// without following a link out of it, the proxy's guest environment,
// ProxyEnv), then relays the command's stdio, the terminal (raw mode,
// window size changes), signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, and
// SIGTSTP/SIGCONT as the terminal sends them) and the streams the guest
// opens: connections to the host-side proxy (vm.Spec.Proxy), forwarded
// ports, and the SSH agent. It enforces the boot timeout (the agent must
// report ready in time, else ErrBootTimeout) and returns the command's
// exit status, or 128+N when signal N ended it.
//
// Attach is Start, then Run. Start only writes (the streams, and the spec
// unless pass files make it larger than 64 KiB, which Run then sends) and
// waits for no answer, so a backend may call it before the agent is up:
// the qemu backend does for a VM restored from a snapshot, as soon as
// QEMU has connected the port, and the agent finds the spec waiting.
//
// What the guest can make the host hold is bounded: the number of open
// streams, how long a new one may stay silent, each stream's buffer, and
// a fixed budget for all of them together (streams.go); a stream past a
// bound is reset at once and its data dropped.
//
// # The host's memory
//
// The sandbox decides what Attach receives, so what it may make
// the host hold is a fixed budget: 64 MiB for all the streams the agent
// opens (one per connection the sandbox makes to its proxy or SSH agent).
// Each stream's receive window at the host is yamux's minimum, 256 KiB
// (proto.HostConfig), and is costed at twice that plus 64 KiB for its
// server's buffers; the budget pays for 16 streams waiting in yamux's
// accept backlog and 97 taken ones. The host takes a stream only when one
// of those slots is free; past the backlog yamux resets new streams at
// once and drops their data. A stream the host is done with (served, or
// of no known kind) is closed, and what the sandbox still sends on it is
// read and dropped until the agent closes its end, so it keeps its slot
// but none of the host's memory; yamux gives up on a stream whose other
// end never closes after 5 minutes.
package session
