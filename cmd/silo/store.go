package main

import "errors"

// StoreCmd is being written.
type StoreCmd struct{}

// Run is not written yet.
func (StoreCmd) Run() error { return errors.New("not written yet") }

// CacheCmd is being written.
type CacheCmd struct{}

// Run is not written yet.
func (CacheCmd) Run() error { return errors.New("not written yet") }
