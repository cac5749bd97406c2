// Package tests holds silo's end-to-end tests: they build the silo binary
// and drive it against real parts on this machine (an OCI registry on
// loopback, real sandboxes, real files).
package tests
