package namespace

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// libDirs are where the dynamic loader looks for libraries when it has no
// cache: the multiarch and the plain directories.
var libDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// loaderBinds returns the bwrap arguments that make a dynamically linked
// agent runnable before it pivots into the sandbox: its ELF interpreter and
// the libraries it needs, bound read-only at their own paths. A static
// agent (make build, CGO_ENABLED=0) needs none. The guest never sees
// them: the agent leaves this root behind.
func loaderBinds(agent string) ([]string, error) {
	f, err := elf.Open(agent)
	if err != nil {
		return nil, fmt.Errorf("read the agent binary %s: %w", agent, err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, fmt.Errorf("read the agent's interpreter: %w", err)
			}
			interp = string(trimNul(b))
		}
	}
	if interp == "" {
		return nil, nil
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("read the agent's libraries: %w", err)
	}
	args := []string{"--ro-bind", interp, interp}
	for _, lib := range libs {
		p, err := findLib(lib)
		if err != nil {
			return nil, err
		}
		args = append(args, "--ro-bind", p, p)
	}
	return args, nil
}

// findLib finds a library in libDirs.
func findLib(name string) (string, error) {
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the agent needs %s, which is not in %v: build silo with CGO_ENABLED=0 (make build)", name, libDirs)
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
