package main

import "errors"

// AgentCmd is being written.
type AgentCmd struct{}

// Run is not written yet.
func (AgentCmd) Run() error { return errors.New("not written yet") }
