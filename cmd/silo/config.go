package main

import "errors"

// ConfigCmd is being written.
type ConfigCmd struct{}

// Run is not written yet.
func (ConfigCmd) Run() error { return errors.New("not written yet") }
