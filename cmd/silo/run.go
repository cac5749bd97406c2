package main

import "errors"

// RunCmd is being written.
type RunCmd struct{}

// Run is not written yet.
func (RunCmd) Run() error { return errors.New("not written yet") }

// ShellCmd is being written.
type ShellCmd struct{}

// Run is not written yet.
func (ShellCmd) Run() error { return errors.New("not written yet") }
