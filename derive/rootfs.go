package derive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/silo-dev/silo/derive/oci"
	rfs "github.com/silo-dev/silo/derive/rootfs"
	"github.com/silo-dev/silo/internal/owners"
	"github.com/silo-dev/silo/internal/safetext"
	"github.com/silo-dev/silo/store"
)

// Format selects the forms of a rootfs to make.
type Format uint8

// The rootfs forms: an ext4 image (VM backends) and an unpacked directory
// (the namespace backend).
const (
	FormatExt4 Format = 1 << iota
	FormatDir
)

// RootfsOptions say which image and which forms.
type RootfsOptions struct {
	// Format is FormatExt4, FormatDir or both (default FormatExt4).
	Format Format
	// Platform of the image (default linux/GOARCH).
	Platform *v1.Platform
	// SizeMB is the size policy of the ext4 image: 0 for compact (sized
	// to the content: the image is a read-only lower layer), else a cap.
	SizeMB int64
	// MaxMB, when positive, refuses an image whose files add up to more,
	// or one layer of which alone declares more (rootfs.ErrTooLarge). It
	// is checked from the tar headers before anything is written, and a
	// layer is refused as soon as its headers pass the limit: layers that
	// decompress to more than the disk holds fill nothing and cost little
	// time. It is not part of the derivation: an image that fits builds
	// the same output.
	MaxMB int64
	// MaxFiles, when positive, is how many entries (all layers' tar
	// entries together) the image may have; 0 is rootfs.DefaultMaxEntries.
	// An image with more is refused (rootfs.ErrTooManyEntries) while its
	// headers are read. Like MaxMB it is not part of the derivation.
	MaxFiles int
	// Notes, if not nil, gets one line about what the assembly left out
	// (the device nodes of the directory form).
	Notes io.Writer
	// Pull resolves the reference again (a registry round trip for tags)
	// even when the store knows what it resolved to.
	Pull bool
	// Progress, when set, is told about each rootfs assembly: one step
	// per form built (the bytes of file content written; the store's add
	// is part of the step). Nothing is told when the store has the form.
	Progress store.Progress
	// OCI options for the pull, if one is needed.
	OCI oci.Options
	// Digest, when set, pins the image's manifest digest (silo.lock): the
	// image is looked up by it, pulled by it when missing (never by the
	// tag), and an image that does not have it is refused.
	Digest string
	// Steps are build steps' layers stacked on the image's, bottom first.
	Steps []StepLayer
}

// RootfsResult is a realised rootfs.
type RootfsResult struct {
	Image      *oci.Image   // the image, with its config (Env, Cmd, …)
	ImageEntry *store.Entry // the image entry
	Ext4       *store.Entry // set when FormatExt4 was asked for
	Dir        *store.Entry // set when FormatDir was asked for
	Pulled     *oci.Pulled  // set when a pull happened
}

// Config is the image's runtime config: Env, Entrypoint, Cmd, WorkingDir,
// User.
func (r *RootfsResult) Config() v1.Config { return r.Image.Config }

// Rootfs returns the root filesystem of the image ref in the forms asked
// for, building what the store does not have yet. A reference already
// pulled is not looked up in a registry again unless o.Pull is set, so a
// warm call reads a few small files and nothing else.
func Rootfs(ctx context.Context, st *store.Store, ref string, o RootfsOptions) (*RootfsResult, error) {
	plat := oci.DefaultPlatform()
	if o.Platform != nil {
		plat = *o.Platform
	}
	o.OCI.Platform = &plat
	res, err := ResolveImage(ctx, st, ref, o)
	if err != nil {
		return nil, err
	}
	if o.Format == 0 {
		o.Format = FormatExt4
	}
	if o.Format&FormatExt4 != 0 {
		if res.Ext4, err = realiseWith(st, res.Image, o.Steps, "ext4", o.SizeMB, o); err != nil {
			return nil, err
		}
	}
	if o.Format&FormatDir != 0 {
		if res.Dir, err = realiseWith(st, res.Image, o.Steps, "dir", 0, o); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ResolveImage finds the image of ref (pinned to o.Digest when set),
// pulling it when the store does not have it or o.Pull asks; it
// assembles nothing (Format and Steps are not used).
func ResolveImage(ctx context.Context, st *store.Store, ref string, o RootfsOptions) (*RootfsResult, error) {
	plat := oci.DefaultPlatform()
	if o.Platform != nil {
		plat = *o.Platform
	}
	o.OCI.Platform = &plat
	res := &RootfsResult{}
	var err error
	switch {
	case o.Digest != "" && !o.Pull:
		res.Image, res.ImageEntry, err = oci.LookupDigest(st, o.Digest, plat)
	case !o.Pull:
		res.Image, res.ImageEntry, err = oci.Lookup(st, ref, plat)
		if err == nil && oci.Rebuilt(ref, plat, res.Image.Digest) {
			o.Pull = true // an OCI layout rebuilt in place: take the new image
		}
	}
	if o.Pull || errors.Is(err, store.ErrNotFound) {
		pref := ref
		if o.Digest != "" {
			pref = oci.PinnedReference(ref, o.Digest)
		}
		p, perr := oci.Pull(ctx, st, pref, o.OCI)
		if perr != nil {
			return nil, perr
		}
		res.Image, res.ImageEntry, res.Pulled, err = p.Image, p.Entry, p, nil
	}
	if err != nil {
		return nil, err
	}
	if o.Digest != "" && res.Image.Digest != o.Digest {
		return nil, fmt.Errorf("%s is now %s, not the locked %s: the locked image can no longer be pulled from there (run silo pull --update to lock the new one)", ref, res.Image.Digest, o.Digest)
	}
	return res, nil
}

// RootfsDerivation is the derivation of im's rootfs in format.
func RootfsDerivation(im *oci.Image, format string, sizeMB int64) *Derivation {
	d := &Derivation{Version: Version, Type: "rootfs", Platform: im.Platform, Format: format, SizeMB: sizeMB}
	for _, l := range im.Layers {
		d.Layers = append(d.Layers, l.Digest)
	}
	return d
}

// StepRootfs is the rootfs of im with the steps' layers on top, in format
// ("dir" or "ext4"), from the store or assembled.
func StepRootfs(st *store.Store, im *oci.Image, steps []StepLayer, format string, maxMB int64) (*store.Entry, error) {
	return realiseWith(st, im, steps, format, 0, RootfsOptions{MaxMB: maxMB})
}

// realiseWith is realise for the image's layers plus the build steps'
// layers on top; of o it uses the limits (MaxMB, MaxFiles) and Notes.
func realiseWith(st *store.Store, im *oci.Image, steps []StepLayer, format string, sizeMB int64, o RootfsOptions) (*store.Entry, error) {
	d := StepRootfsDerivation(im, steps, format, sizeMB)
	began := false
	e, err := Realise(st, d, func(tmp string) (*Output, error) {
		if o.Progress != nil {
			o.Progress.Begin(fmt.Sprintf("assembling the %s rootfs of %s", format, safetext.Escape(im.Ref)), "bytes")
			began = true
		}
		return build(st, im, steps, d, tmp, o)
	})
	if began {
		o.Progress.End()
	}
	if err != nil {
		return nil, fmt.Errorf("assemble the %s rootfs of %s: %w", format, im.Ref, err)
	}
	return e, nil
}

// build assembles the rootfs in the staging directory tmp.
func build(st *store.Store, im *oci.Image, steps []StepLayer, d *Derivation, tmp string, o RootfsOptions) (*Output, error) {
	maxContent := o.MaxMB << 20
	opts := []rfs.Option{rfs.MaxEntries(o.MaxFiles)}
	if p := o.Progress; p != nil {
		opts = append(opts, rfs.Progress(p.Advance))
	}
	if o.Notes != nil {
		opts = append(opts, rfs.Notes(func(s string) { fmt.Fprintf(o.Notes, "silo: image %s: %s\n", safetext.Escape(im.Ref), s) }))
	}
	all := append([]oci.Layer(nil), im.Layers...)
	for _, s := range steps {
		all = append(all, oci.Layer{Digest: s.DiffID, DiffID: s.DiffID, Entry: s.Entry})
	}
	layers := make([]rfs.Layer, len(all))
	refs := make([]string, len(all))
	for i, l := range all {
		e, err := st.Use(l.Entry)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w (pull the image again)", l.Digest, err)
		}
		p, diffID := e.Path, l.DiffID
		layers[i] = rfs.Layer{Name: l.Digest, Open: func() (io.ReadCloser, error) { return oci.OpenLayerVerified(p, diffID) }}
		refs[i] = e.Name
	}
	out := &Output{Kind: store.KindRootfs, References: refs, Annotations: map[string]string{"oci.digest": im.Digest}}
	name := imageBase(im)
	switch d.Format {
	case "ext4":
		out.Path, out.Name = filepath.Join(tmp, "rootfs.ext4"), name+"-rootfs.ext4"
		return out, rfs.WriteExt4(layers, out.Path, d.SizeMB<<20, maxContent, opts...)
	default:
		out.Path, out.Name = filepath.Join(tmp, "rootfs"), name+"-rootfs"
		// The sandbox shows the image's modes: a file 0644 in the image
		// is 0644 inside, and so is its copy in the workspace.
		out.KeepModes = true
		var own owners.Table
		if err := rfs.WriteDir(layers, out.Path, maxContent, append(opts, rfs.Owners(&own))...); err != nil {
			return nil, err
		}
		// Present (even empty) on every directory rootfs assembled since
		// owners are kept; absent on older ones, which show root.
		out.Annotations[OwnersAnnotation] = own.String()
		return out, nil
	}
}

// OwnersAnnotation is the annotation of a directory rootfs entry that
// holds its owner table (internal/owners, text form): the paths the
// image gives to an owner other than root.
const OwnersAnnotation = "rootfs.owners"

// Owners returns the owner table of the directory rootfs entry e (none
// for an entry assembled before silo kept one).
func Owners(e *store.Entry) (owners.Table, error) {
	t, err := owners.Parse(e.Annotations[OwnersAnnotation])
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w (remove it with `silo store gc` and run again)", e.Name, err)
	}
	return t, nil
}

// imageBase is the human part of rootfs entry names: the image entry's
// name without its suffix ("python" for "….-python.image.json").
func imageBase(im *oci.Image) string {
	r, err := oci.ParseReference(im.Ref)
	if err != nil {
		return "image"
	}
	return oci.ShortName(r)
}
