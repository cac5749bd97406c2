package main

import "errors"

// RuntimeCmd is being written.
type RuntimeCmd struct{}

// Run is not written yet.
func (RuntimeCmd) Run() error { return errors.New("not written yet") }

// DoctorCmd is being written.
type DoctorCmd struct{}

// Run is not written yet.
func (DoctorCmd) Run() error { return errors.New("not written yet") }
