package derive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/silo-dev/silo/derive/oci"
	"github.com/silo-dev/silo/store"
)

// SourceDateEpoch is the SOURCE_DATE_EPOCH of every build step
// (1980-01-01, the earliest time a zip file can hold): the step sees it in
// its environment and no mtime in its layer is later.
const SourceDateEpoch = 315532800

// StepLayer is one build step's output layer: an uncompressed OCI layer
// tar in the store.
type StepLayer struct {
	// DiffID is the sha256 digest of the tar, its OCI digest and diff ID.
	DiffID string
	// Entry is the store entry's name.
	Entry string
}

// StepInput is one project file or tree a step may read, and its content
// hash.
type StepInput struct {
	Path, Hash string
}

// Step is what a build step derivation is made of.
type Step struct {
	// Platform is the image's platform ("linux/amd64").
	Platform string
	// Parent is what the step stacks on: "image:<manifest digest>" for the
	// first step, else the derivation hash of the step below.
	Parent string
	// Argv, Env and Network are the command, its environment and its
	// network policy (canonical text).
	Argv, Env []string
	Network   string
	// Inputs are the project files the step may read.
	Inputs []StepInput
}

// StepDerivation is the derivation of a build step's output layer.
func StepDerivation(s Step) *Derivation {
	d := &Derivation{Version: Version, Type: "step", Platform: s.Platform, Format: "layer", Parents: []string{s.Parent},
		Argv: slices.Clone(s.Argv), Env: slices.Clone(s.Env), Network: s.Network}
	for _, in := range s.Inputs {
		d.Inputs = append(d.Inputs, in.Path+"="+in.Hash)
	}
	slices.Sort(d.Inputs)
	return d
}

// StepRootfsDerivation is the derivation of the rootfs of im with the
// steps' layers on top, in format.
func StepRootfsDerivation(im *oci.Image, steps []StepLayer, format string, sizeMB int64) *Derivation {
	d := RootfsDerivation(im, format, sizeMB)
	for _, s := range steps {
		d.Layers = append(d.Layers, s.DiffID)
	}
	return d
}

// RealiseStep returns the output layer of the step d: the store's, or the
// one run writes into the file it is given (the capture of a sandbox run
// of the step), added under d's hash with its diff ID.
func RealiseStep(st *store.Store, d *Derivation, run func(w io.Writer) error) (*store.Entry, StepLayer, error) {
	e, err := Realise(st, d, func(tmp string) (*Output, error) {
		p := filepath.Join(tmp, "layer.tar")
		dgst, err := WriteLayer(p, run)
		if err != nil {
			return nil, err
		}
		return &Output{Path: p, Name: "step-layer.tar", Kind: store.KindLayer, Annotations: map[string]string{"oci.diffID": dgst, "oci.digest": dgst}}, nil
	})
	if err != nil {
		return nil, StepLayer{}, err
	}
	return e, StepLayer{DiffID: e.Annotations["oci.diffID"], Entry: e.Name}, nil
}

// LookupStep returns the output of the step d that the lock names by its
// diff ID, when the store has it: a derivation rebuilt to other bytes
// (RebuildStep) has several outputs, and a lock pins one. With diffID ""
// or no output of that diff ID, it is the derivation's default output
// (Lookup). It builds nothing; store.ErrNotFound when d has no output.
func LookupStep(st *store.Store, d *Derivation, diffID string) (*store.Entry, error) {
	e, err := Lookup(st, d)
	if err != nil || diffID == "" || e.Annotations["oci.diffID"] == diffID {
		return e, err
	}
	if o := stepOutput(st, d, diffID); o != nil {
		if held, err := st.Use(o.Name); err == nil {
			return held, nil
		}
	}
	return e, nil
}

// stepOutput is the output of d with the diff ID, among all of d's.
func stepOutput(st *store.Store, d *Derivation, diffID string) *store.Entry {
	h := d.Hash()
	all, err := st.List(store.Filter{Kind: store.KindLayer, Prefix: store.PathHash(h) + "-"})
	if err != nil {
		return nil
	}
	for _, e := range all {
		if e.Deriver == h && e.Annotations["oci.diffID"] == diffID {
			return e
		}
	}
	return nil
}

// RebuildStep runs the step d again, whatever the store holds (silo
// rebuild), and makes what it wrote d's output: the entry ByDeriver
// returns from then on. A layer of the same bytes as an output d already
// has is that output; another is added beside the earlier ones (named by
// its diff ID), which stay as long as something roots them. A failed run
// changes nothing.
func RebuildStep(st *store.Store, d *Derivation, run func(w io.Writer) error) (*store.Entry, error) {
	tmp, err := st.MkTemp("rebuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "layer.tar")
	dgst, err := WriteLayer(p, run)
	if err != nil {
		return nil, err
	}
	h := d.Hash()
	e := stepOutput(st, d, dgst)
	if e == nil {
		_, hexDigest, _ := strings.Cut(dgst, ":")
		e, err = st.AddFile(p, store.AddOptions{
			Name: hexDigest[:12] + "-step-layer.tar", Kind: store.KindLayer, Deriver: h, Rebuildable: true, Move: true,
			Annotations: map[string]string{"derivation": string(d.Canonical()), "oci.diffID": dgst, "oci.digest": dgst},
		})
		if err != nil {
			return nil, err
		}
	}
	if err := st.SetOutput(h, e.Name); err != nil {
		return nil, err
	}
	return st.Use(e.Name)
}

// WriteLayer writes what run writes to the file p and returns its sha256
// digest ("sha256:…").
func WriteLayer(p string, run func(w io.Writer) error) (string, error) {
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if err := run(io.MultiWriter(f, h)); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write the layer: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
