package main

import (
	"context"
	"fmt"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/store"
	"github.com/silo-dev/silo/vm"
)

// rootfs is the store side of one run: the rootfs entry in use, held by
// the store handle's temporary root until close.
type rootfs struct {
	st  *store.Store
	env []string // the image's environment
	cmd []string // the image's entrypoint and command
}

// close releases the store handle and its temporary root.
func (r *rootfs) close() {
	if r != nil && r.st != nil {
		r.st.Close()
	}
}

// maxRootfsMB is how large an image's files may be: the tool's
// rootfsSizeMB, else silo's default.
func maxRootfsMB(spec *vm.Spec) int64 {
	if spec.RootfsSizeMB > 0 {
		return int64(spec.RootfsSizeMB)
	}
	return lock.DefaultRootfsSizeMB
}

// resolveRootfs finds (or pulls and builds) the rootfs of image in the
// form the backend boots, holds it against GC for the run, and fills it
// into spec.
func resolveRootfs(ctx context.Context, home, image, backend string, spec *vm.Spec) (*rootfs, error) {
	st, err := store.Open(home)
	if err != nil {
		return nil, err
	}
	r := &rootfs{st: st}
	format := derive.FormatExt4
	if backend == "namespace" {
		format = derive.FormatDir
	}
	res, err := derive.Rootfs(ctx, st, image, derive.RootfsOptions{Format: format, MaxMB: maxRootfsMB(spec)})
	if err != nil {
		r.close()
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	// derive.Rootfs hands back the entry already held in st's temporary
	// root and ready at its Path (Use on a hit, the add's own hold on a
	// build): a second Use would only repeat the lock, the metadata read,
	// the hold and the touch.
	entry := res.Dir
	if format == derive.FormatExt4 {
		entry = res.Ext4
	}
	if format == derive.FormatDir {
		spec.RootfsDir = entry.Path
	} else {
		spec.RootfsImage = entry.Path
	}
	cfg := res.Config()
	r.env = cfg.Env
	r.cmd = append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	return r, nil
}
