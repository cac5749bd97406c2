// Package proto is the wire format between silo's host and its guest agent.
//
// The host and the agent share one byte stream (a virtio-serial port, a
// vsock connection or an inherited socket), multiplexed with yamux. Every
// stream starts with one Kind byte saying what it carries. The host opens
// the control, stdin, stdout and stderr streams; the agent opens one proxy
// stream per connection the sandbox makes to its HTTP proxy; the host opens
// one forward stream per connection to a forwarded port.
//
// Control messages are length-prefixed JSON documents (Msg), in both
// directions on the control stream.
//
// Both ends use Config; the host uses HostConfig, whose stream receive
// window (HostStreamWindow, yamux's minimum) and accept backlog
// (HostAcceptBacklog) bound what the sandbox can make the host buffer (see
// package vm/session). Opening a stream has no timeout, since the host may keep
// the agent's new stream waiting while its budget is spent.
package proto
