package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"golang.org/x/sync/errgroup"

	"github.com/silo-dev/silo/derive/rootfs"
	"github.com/silo-dev/silo/internal/safetext"
	"github.com/silo-dev/silo/store"
)

// Pulled is the outcome of a pull.
type Pulled struct {
	Image *Image
	Entry *store.Entry // the image entry
	// FetchedLayers and FetchedBytes count the layer blobs transferred;
	// CachedLayers those already in the store.
	FetchedLayers, CachedLayers int
	FetchedBytes                int64
	// Tags are the registry references a local image was registered
	// under (Options.RegisterTags).
	Tags []string
}

// Pull resolves ref (a registry reference, oci-layout:DIR[:TAG],
// docker-archive:FILE or oci-archive:FILE[:TAG]) to the image for the
// options' platform and brings it into st: manifest, config and every
// layer blob not already there, each verified against its digest while it
// streams. It records the reference's resolution, roots the image so that
// GC keeps it, and returns the image. A failed pull commits no partial
// entry and no realisation for anything that was not complete.
func Pull(ctx context.Context, st *store.Store, ref string, o Options) (*Pulled, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	p, err := pull(ctx, st, r, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w%s", ref, escaped{err}, unreachableHint(err))
	}
	return p, nil
}

// escaped is an error whose text came partly from outside (a registry's
// error message, an image's fields): printed on one line with its control
// characters escaped, and unwrapping to the original.
type escaped struct{ err error }

func (e escaped) Error() string { return safetext.Escape(e.err.Error()) }
func (e escaped) Unwrap() error { return e.err }

// unreachableHint says what to do when a registry could not be reached at
// all (no route, no DNS, refused): silo works offline from files too.
func unreachableHint(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if !errors.As(err, &dnsErr) && !errors.As(err, &opErr) {
		return ""
	}
	return "\n(the registry could not be reached: check the network or HTTPS_PROXY. To work offline, load the image from a file" +
		" with `silo image pull docker-archive:FILE` (or oci-archive:FILE, oci-layout:DIR), which registers it under the tag it was saved with," +
		" or name a local image for the tool in silo.toml: [overrides.TOOL] image = \"oci-layout:DIR\")"
}

func pull(ctx context.Context, st *store.Store, r *Reference, o Options) (*Pulled, error) {
	plat := o.platform()
	img, tags, index, cleanup, err := resolve(ctx, st, r, &o)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	out := &Image{Version: imageVersion, Ref: r.String(), Index: index, Platform: plat.String()}
	b, err := readBlobs(img, out, plat)
	if err != nil {
		return nil, err
	}
	// The manifest, the config and the layers are stored concurrently:
	// each commit waits on its own fsyncs.
	pulled := &Pulled{Image: out}
	var manEntry, cfgEntry *store.Entry
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		manEntry, err = storeBlob(st, b.manRaw, out.Digest, string(b.man.MediaType), store.KindManifest, "manifest.json")
		return err
	})
	g.Go(func() (err error) {
		cfgEntry, err = storeBlob(st, b.cfgRaw, b.man.Config.Digest.String(), string(b.man.Config.MediaType), store.KindConfig, "config.json")
		return err
	})
	g.Go(func() error { return fetchLayers(gctx, st, img, b.man, o, pulled) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := checkLayers(ctx, st, out); err != nil {
		return nil, err
	}
	out.ConfigEntry = cfgEntry.Name
	refs := []string{manEntry.Name, cfgEntry.Name}
	for _, l := range out.Layers {
		refs = append(refs, l.Entry)
	}
	js, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	e, err := st.AddReader(bytes.NewReader(js), store.AddOptions{
		Name: sanitize(ShortName(r)) + ".image.json", Kind: store.KindImage, References: refs,
		Annotations: map[string]string{"oci.ref": out.Ref, "oci.digest": out.Digest, "oci.platform": out.Platform},
	})
	if err != nil {
		return nil, fmt.Errorf("store image entry: %w", err)
	}
	if err := record(st, r, plat, out.Digest, e.Name); err != nil {
		return nil, err
	}
	if o.RegisterTags {
		if pulled.Tags, err = registerTags(st, tags, plat, out.Digest, e.Name); err != nil {
			return nil, err
		}
	}
	pulled.Entry = e
	return pulled, nil
}

// record remembers what r resolved to, and roots the image.
func record(st *store.Store, r *Reference, p v1.Platform, dgst, entry string) error {
	var g errgroup.Group
	g.Go(func() error { return st.SetRealisation(refKey(r, p), entry) })
	g.Go(func() error { return st.SetRealisation(digestKey(dgst, p), entry) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("record the resolution: %w", err)
	}
	if err := st.AddRoot(RootName(r, p), entry); err != nil {
		return fmt.Errorf("root the image: %w", err)
	}
	return nil
}

// imageBlobs are an image's manifest and config, read and verified.
type imageBlobs struct {
	manRaw, cfgRaw []byte
	man            *v1.Manifest
}

// readBlobs reads and verifies the manifest and the config, checks the
// platform, and fills in out's digest, layers and config.
func readBlobs(img v1.Image, out *Image, p v1.Platform) (*imageBlobs, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if err := verifyBytes(raw, d.String()); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	man, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	out.Digest = d.String()
	cfg, err := readConfig(img, man, out, p)
	if err != nil {
		return nil, err
	}
	return &imageBlobs{manRaw: raw, cfgRaw: cfg, man: man}, nil
}

// readConfig reads and verifies the config blob, checks its platform, and
// copies the parts a sandbox needs (Env, Cmd, …) and the layer list into
// out. A config that declares more than MaxConfigSize is refused before it
// is read; one that sends more is cut off there.
func readConfig(img v1.Image, man *v1.Manifest, out *Image, p v1.Platform) ([]byte, error) {
	if man.Config.Size > MaxConfigSize {
		return nil, fmt.Errorf("the image config %s declares %d bytes, %w (at most %d MiB): refusing it", man.Config.Digest, man.Config.Size, ErrTooLarge, MaxConfigSize>>20)
	}
	raw, err := rawConfig(img)
	var idle *IdleError
	if errors.As(err, &idle) {
		raw, err = rawConfig(img) // once more, then give up
	}
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", man.Config.Digest, err)
	}
	if err := verifyBytes(raw, man.Config.Digest.String()); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if err := checkPlatform(cf, p); err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(man.Layers) {
		return nil, fmt.Errorf("the manifest lists %d layers but the config %d: the image is malformed", len(man.Layers), len(cf.RootFS.DiffIDs))
	}
	out.Config = cf.Config
	for i, l := range man.Layers {
		out.Layers = append(out.Layers, Layer{
			Digest: l.Digest.String(), DiffID: cf.RootFS.DiffIDs[i].String(),
			MediaType: string(l.MediaType), Size: l.Size,
		})
	}
	return raw, nil
}

// checkLayers reads the headers of every layer of im and refuses an image
// with an entry that no stack of layers makes safe (rootfs.CheckLayer), or
// a layer that does not decompress to its diff ID: such an image fails at
// its pull, not at its first run.
func checkLayers(ctx context.Context, st *store.Store, im *Image) error {
	for i, l := range im.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkLayer(st, l); err != nil {
			return fmt.Errorf("layer %d of %d (%s): %w", i+1, len(im.Layers), l.Digest, err)
		}
	}
	return nil
}

func checkLayer(st *store.Store, l Layer) error {
	e, err := st.Use(l.Entry)
	if err != nil {
		return err
	}
	rc, err := OpenLayerVerified(e.Path, l.DiffID)
	if err != nil {
		return err
	}
	defer rc.Close()
	return rootfs.CheckLayer(rc)
}

// storeBlob adds a small verified blob, or finds it by digest.
func storeBlob(st *store.Store, b []byte, dgst, mediaType string, kind store.Kind, suffix string) (*store.Entry, error) {
	if e, err := st.Realisation(blobKey(dgst)); err == nil {
		if e, err := st.Use(e.Name); err == nil {
			return e, nil // held now: a GC cannot take it before the image refers to it
		}
	}
	e, err := st.AddReader(bytes.NewReader(b), store.AddOptions{
		Name: shortDigest(dgst) + "-" + suffix, Kind: kind,
		Annotations: map[string]string{"oci.digest": dgst, "oci.mediaType": mediaType},
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dgst, err)
	}
	if err := st.SetRealisation(blobKey(dgst), e.Name); err != nil {
		return nil, fmt.Errorf("record %s: %w", dgst, err)
	}
	return e, nil
}

// fetchLayers brings every layer blob into the store, o.Jobs at a time.
func fetchLayers(ctx context.Context, st *store.Store, img v1.Image, man *v1.Manifest, o Options, p *Pulled) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	if len(layers) != len(man.Layers) {
		return fmt.Errorf("the image has %d layers, its manifest %d", len(layers), len(man.Layers))
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 6
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	var fetched, cached atomic.Int64
	var bytesIn atomic.Int64
	for i, l := range layers {
		desc := man.Layers[i]
		g.Go(func() error {
			e, n, hit, err := fetchLayer(gctx, st, l, desc, o)
			if err != nil {
				return fmt.Errorf("layer %d of %d (%s): %w", i+1, len(layers), desc.Digest, err)
			}
			p.Image.Layers[i].Entry = e.Name
			if hit {
				cached.Add(1)
			} else {
				fetched.Add(1)
			}
			bytesIn.Add(n)
			return nil
		})
	}
	err = g.Wait()
	p.FetchedLayers, p.CachedLayers, p.FetchedBytes = int(fetched.Load()), int(cached.Load()), bytesIn.Load()
	return err
}

// fetchLayer stores one layer blob unless the store already has it, and
// returns its entry, the bytes transferred and whether it was a hit.
func fetchLayer(ctx context.Context, st *store.Store, l v1.Layer, desc v1.Descriptor, o Options) (*store.Entry, int64, bool, error) {
	dgst := desc.Digest.String()
	prog := o.Progress
	if prog == nil {
		prog = nopProgress{}
	}
	if e, err := st.Realisation(blobKey(dgst)); err == nil {
		if e, err = st.Use(e.Name); err == nil {
			prog.Finish(dgst, true, nil)
			return e, 0, true, nil
		}
	}
	attempts := o.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	prog.Start(dgst, desc.Size)
	var total int64
	var err error
	idle := 0
	for a := 0; a < attempts; a++ {
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		var ie *IdleError
		if errors.As(err, &ie) {
			if idle++; idle == 2 {
				break // a stuck registry is tried once more, not more
			}
		}
		var e *store.Entry
		var n int64
		e, n, err = fetchOnce(st, l, desc, prog)
		total += n
		if err == nil {
			prog.Finish(dgst, false, nil)
			return e, total, false, nil
		}
	}
	prog.Finish(dgst, false, err)
	return nil, total, false, err
}

// fetchOnce streams the blob into the store through a verifying reader.
func fetchOnce(st *store.Store, l v1.Layer, desc v1.Descriptor, prog Progress) (*store.Entry, int64, error) {
	dgst := desc.Digest.String()
	rc, err := l.Compressed()
	if err != nil {
		return nil, 0, fmt.Errorf("fetch: %w", err)
	}
	defer rc.Close()
	vr, err := newVerifyReader(rc, dgst, desc.Size, func(n int64) { prog.Update(dgst, n) })
	if err != nil {
		return nil, 0, err
	}
	e, err := st.AddReader(vr, store.AddOptions{
		Name: shortDigest(dgst) + "-layer" + layerExt(string(desc.MediaType)), Kind: store.KindLayer,
		Annotations: map[string]string{"oci.digest": dgst, "oci.mediaType": string(desc.MediaType)},
	})
	if err != nil {
		return nil, vr.n, fmt.Errorf("fetch: %w", err)
	}
	if err := st.SetRealisation(blobKey(dgst), e.Name); err != nil {
		return nil, vr.n, fmt.Errorf("record: %w", err)
	}
	return e, vr.n, nil
}

// layerExt names a layer file after its compression.
func layerExt(mediaType string) string {
	switch {
	case strings.Contains(mediaType, "zstd"):
		return ".tar.zst"
	case strings.Contains(mediaType, "gzip"), strings.HasSuffix(mediaType, ".tar"):
		if strings.HasSuffix(mediaType, ".tar") {
			return ".tar"
		}
		return ".tar.gz"
	default:
		return ".tar.gz"
	}
}

// rawConfig reads the image's config blob, no more than MaxConfigSize of
// it, whatever its descriptor or the registry claims.
func rawConfig(img v1.Image) ([]byte, error) {
	l, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("the image config is more than %d MiB, %w: refusing it", MaxConfigSize>>20, ErrTooLarge)
	}
	return b, nil
}

// readAll reads a small store file.
func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 64<<20)) }
