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
// What the guest can make the host hold is bounded: the number of open
// streams, how long a new one may stay silent, each stream's buffer, and
// a fixed budget for all of them together (streams.go); a stream past a
// bound is reset at once and its data dropped.
package session
