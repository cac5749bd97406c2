//go:build !linux

package kernel

import "errors"

// HostKernel reports that only Linux hosts have a kernel to reuse.
func HostKernel() (ImportOptions, error) {
	return ImportOptions{}, errors.New("only a Linux host's own kernel can be imported by default")
}
