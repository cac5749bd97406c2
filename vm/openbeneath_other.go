//go:build !linux

package vm

import "os"

// openBeneath opens root/rel for reading only if it resolves inside root.
func openBeneath(root, rel string) (*os.File, error) { return openBeneathByPath(root, rel) }

// removeEmptyBeneath removes root/rel if it is empty and no symlink leads
// to it.
func removeEmptyBeneath(root, rel string) { removeEmptyByPath(root, rel) }
