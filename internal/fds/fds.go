// Package fds keeps file descriptors that silo inherited from leaking into
// the processes it starts: a sandbox must never hold a handle on the host.
package fds
