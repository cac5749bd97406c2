//go:build !linux

package agent

import (
	"errors"
	"io"
)

// Serve runs one sandbox on conn. The agent runs inside a Linux sandbox
// only; elsewhere it refuses.
func Serve(conn io.ReadWriteCloser, l Layout) error {
	conn.Close()
	return errors.New("the silo agent runs only on Linux (inside the sandbox)")
}
