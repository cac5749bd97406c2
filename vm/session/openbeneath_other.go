//go:build !linux

package session

import "os"

// openBeneath opens root/rel for reading only if it resolves inside root.
func openBeneath(root, rel string) (*os.File, error) { return openBeneathByPath(root, rel) }
