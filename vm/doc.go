// Package vm is silo's isolation runtime: the Backend interface, the Spec a
// backend runs, and the choice between the qemu, vz and namespace backends.
//
// Every backend starts the same guest agent (package vm/agent) as PID 1 of
// the sandbox and talks to it over one multiplexed byte stream.
package vm
