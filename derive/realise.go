package derive

import (
	"errors"
	"fmt"
	"os"

	rfs "github.com/silo-dev/silo/derive/rootfs"
	"github.com/silo-dev/silo/store"
)

// Output is what a Builder made in its staging directory: a file or a
// directory, and how the store is to know it.
type Output struct {
	// Path is the file or directory made, inside the staging directory.
	Path string
	// Name is the entry's human name ("python-rootfs").
	Name string
	Kind store.Kind
	// References are the entries the output refers to (its layers, its
	// kernel): GC keeps them while the output lives.
	References  []string
	Annotations map[string]string
	// KeepModes keeps a directory output's modes as built (write bits
	// included) below its top (store.AddOptions.KeepModes).
	KeepModes bool
}

// Builder makes a derivation's output inside the staging directory tmp,
// which is in the store's temporary space and removed afterwards.
type Builder func(tmp string) (*Output, error)

// Realise returns the output of d: the entry the store already has under
// d's hash, or the one build makes, added under that hash (moved in,
// read-only, rebuildable, annotated with the derivation). Either way the
// entry is held by st's temporary root until st is closed. Every derived
// entry (a rootfs, an initfs, a setup step's layer) is realised here, so
// that no caller computes or looks up a derivation hash by hand.
func Realise(st *store.Store, d *Derivation, build Builder) (*store.Entry, error) {
	h := d.Hash()
	e, err := Lookup(st, d)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return e, err
	}
	tmp, err := st.MkTemp(d.Type + "-")
	if err != nil {
		return nil, err
	}
	defer rfs.RemoveTree(tmp)
	out, err := build(tmp)
	if err != nil {
		return nil, err
	}
	opts := store.AddOptions{
		Name: out.Name, Kind: out.Kind, Deriver: h, References: out.References,
		Rebuildable: true, Move: true, KeepModes: out.KeepModes, Annotations: map[string]string{"derivation": string(d.Canonical())},
	}
	for k, v := range out.Annotations {
		opts.Annotations[k] = v
	}
	fi, err := os.Lstat(out.Path)
	if err != nil {
		return nil, fmt.Errorf("the %s build made no output: %w", d.Type, err)
	}
	if fi.IsDir() {
		return st.AddDir(out.Path, opts)
	}
	return st.AddFile(out.Path, opts)
}

// Lookup returns d's output when the store has it, held by st's temporary
// root, and store.ErrNotFound when it does not. It builds nothing.
func Lookup(st *store.Store, d *Derivation) (*store.Entry, error) {
	e, err := st.ByDeriver(d.Hash())
	if err != nil {
		return nil, err
	}
	// Use holds it; a GC between the look-up and here may have taken it,
	// and then the caller builds it again.
	return st.Use(e.Name)
}
