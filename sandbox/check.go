package sandbox

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/lock"
)

// Check builds each of tool's steps again from its inputs, on the stored
// outputs below it, and compares each new layer with the stored one, as
// `nix build --check` does. It returns one line per differing path (its
// size and hash, stored and rebuilt); none when every step rebuilt to the
// same bytes. It keeps nothing it rebuilt and does not touch the lock.
func (b *Builder) Check(ctx context.Context, tool string, defs []StepDef, old *lock.LockTool) ([]string, error) {
	c, err := b.Resolve(ctx, tool, defs, old, ModeBuild)
	if err != nil {
		return nil, err
	}
	plan, err := NewPlan(b.Config, Request{Tool: tool, Dir: b.workspace(), UserHome: b.Request.UserHome})
	if err != nil {
		return nil, err
	}
	tmp, err := b.Store.MkTemp("check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []string
	for i, def := range defs {
		b.progress("silo: check %s step %d: %s", tool, i+1, argvText(def.Argv))
		below := &Chain{Image: c.Image, Steps: c.Steps[:i]}
		p := filepath.Join(tmp, fmt.Sprintf("layer-%d.tar", i))
		dgst, err := derive.WriteLayer(p, func(w io.Writer) error { return b.runStep(ctx, plan, below, def, w) })
		if err != nil {
			return nil, err
		}
		if dgst == c.Steps[i].DiffID {
			continue
		}
		e, err := b.Store.Use(c.Steps[i].Entry)
		if err != nil {
			return nil, err
		}
		diffs, err := diffLayers(e.Path, p)
		if err != nil {
			return nil, err
		}
		for _, d := range diffs {
			out = append(out, fmt.Sprintf("%s step %d (%s): %s", tool, i+1, argvText(def.Argv), d))
		}
	}
	return out, nil
}

// layerFile is one tar entry's summary.
type layerFile struct {
	size int64
	hash string
}

// readLayer summarizes each entry of a layer tar: size and sha256 of the
// content, or of the header's type, mode, owner and link for the rest.
func readLayer(p string) (map[string]layerFile, error) {
	rc, err := oci.OpenLayer(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]layerFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		sum := sha256.New()
		fmt.Fprintf(sum, "%c %o %d %d %s %d\n", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, h.ModTime.Unix())
		if _, err := io.Copy(sum, tr); err != nil {
			return nil, err
		}
		out[h.Name] = layerFile{size: h.Size, hash: "sha256:" + hex.EncodeToString(sum.Sum(nil))[:16]}
	}
}

// diffLayers lists the paths whose entries differ between two layers.
func diffLayers(a, b string) ([]string, error) {
	la, err := readLayer(a)
	if err != nil {
		return nil, err
	}
	lb, err := readLayer(b)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(la))
	for n := range lb {
		if _, ok := la[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		x, okx := la[n]
		y, oky := lb[n]
		switch {
		case !okx:
			out = append(out, fmt.Sprintf("/%s: only in the rebuild (%d bytes, %s)", n, y.size, y.hash))
		case !oky:
			out = append(out, fmt.Sprintf("/%s: only in the stored output (%d bytes, %s)", n, x.size, x.hash))
		case x != y:
			out = append(out, fmt.Sprintf("/%s: stored %d bytes %s, rebuilt %d bytes %s", n, x.size, x.hash, y.size, y.hash))
		}
	}
	return out, nil
}
