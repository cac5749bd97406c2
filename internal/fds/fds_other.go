//go:build !linux

package fds

import "syscall"

// CloseOnExec marks every open descriptor from first up close-on-exec.
// Outside Linux it walks a bounded range.
func CloseOnExec(first int) error {
	for fd := first; fd < 1024; fd++ {
		syscall.CloseOnExec(fd)
	}
	return nil
}
