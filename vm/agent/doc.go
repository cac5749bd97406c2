// Package agent is the guest side of every silo sandbox: PID 1, which
// builds the sandbox's filesystem view, runs the command and relays its
// stdio, signals, window size and exit status to the host.
package agent
