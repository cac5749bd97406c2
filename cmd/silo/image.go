package main

import "errors"

// ImageCmd is being written.
type ImageCmd struct{}

// Run is not written yet.
func (ImageCmd) Run() error { return errors.New("not written yet") }
