package main

import "errors"

// AgentCmd is being written.
type AgentCmd struct{}

// Run is not written yet.
func (AgentCmd) Run() error { return errors.New("not written yet") }

// maybeRunAsInit runs the VM guest init when silo is PID 1 of a VM, and
// reports whether it did.
func maybeRunAsInit() bool { return false }
