package kernel

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SandboxModules are the modules a silo VM needs: virtio-mmio transport,
// block, console (virtio-serial), 9p workspace, ext4 rootfs, overlay,
// fuse (the agent serves the workspace to the command through its
// filter).
// crc32c is listed explicitly: ext4 asks for it through the crypto API,
// which .modinfo does not record.
var SandboxModules = []string{
	"virtio_mmio", "virtio_blk", "virtio_console",
	"9pnet_virtio", "9p", "crc32c_generic", "ext4", "overlay", "fuse",
}

// ModuleIndex knows every module under one modules directory
// (/lib/modules/<version>) and which modules are built into the kernel.
type ModuleIndex struct {
	Dir     string
	mods    map[string]*Module
	paths   map[string]string
	builtin map[string]bool
}

// IndexModules reads the name and dependencies of every .ko under dir.
func IndexModules(dir string) (*ModuleIndex, error) {
	idx := &ModuleIndex{Dir: dir, mods: map[string]*Module{}, paths: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".ko") {
			idx.paths[modName(filepath.Base(p))] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index kernel modules in %s: %w", dir, err)
	}
	if len(idx.paths) == 0 {
		return nil, fmt.Errorf("no .ko kernel modules under %s: pass the kernel's /lib/modules/<version> directory (compressed .ko.xz/.ko.zst modules are not supported)", dir)
	}
	if err := idx.readBuiltin(); err != nil {
		return nil, err
	}
	return idx, nil
}

// readBuiltin reads modules.builtin, if present.
func (idx *ModuleIndex) readBuiltin() error {
	f, err := os.Open(filepath.Join(idx.Dir, "modules.builtin"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read modules.builtin: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idx.builtin[modName(filepath.Base(sc.Text()))] = true
	}
	return sc.Err()
}

// module parses the named module once.
func (idx *ModuleIndex) module(name string) (*Module, error) {
	if m, ok := idx.mods[name]; ok {
		return m, nil
	}
	p, ok := idx.paths[name]
	if !ok {
		return nil, fmt.Errorf("module %s is neither in %s nor built into the kernel", name, idx.Dir)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", name, err)
	}
	m, err := ParseModinfo(b)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	m.Path = p
	idx.mods[name] = m
	return m, nil
}

// Resolve returns the modules to load for names, dependencies first, each
// once. Modules built into the kernel are left out.
func (idx *ModuleIndex) Resolve(names []string) ([]*Module, error) {
	var order []*Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch {
		case state[name] == 2:
			return nil
		case state[name] == 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		if _, ok := idx.paths[name]; !ok && idx.builtin[name] {
			state[name] = 2
			return nil
		}
		state[name] = 1
		m, err := idx.module(name)
		if err != nil {
			if len(chain) > 0 {
				return fmt.Errorf("%w (needed by %s)", err, chain[len(chain)-1])
			}
			return err
		}
		for _, d := range m.Depends {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		return nil
	}
	for _, n := range names {
		if err := visit(modName(n), nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
