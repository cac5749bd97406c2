package oci

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/silo-dev/silo/internal/safetext"
	"github.com/silo-dev/silo/store"
)

// Transport names the kind of source an image reference points at.
type Transport string

// The transports a reference may name. A reference without a prefix is a
// registry reference ("python:3.12-slim", "ghcr.io/o/r@sha256:…").
const (
	Registry      Transport = "docker"
	OCILayout     Transport = "oci-layout"
	DockerArchive Transport = "docker-archive"
	OCIArchive    Transport = "oci-archive"
)

// Reference is a parsed image reference.
type Reference struct {
	Transport Transport
	// Name is the canonical registry reference (name.Reference.Name()) for
	// Registry; for local sources, the absolute path.
	Name string
	// Tag selects an image inside an OCI layout or archive (default: the
	// only image, or the one tagged "latest").
	Tag string
	// Digest is set when the reference pins a manifest digest.
	Digest string

	ref name.Reference
}

// String is the canonical form of r: the same for every spelling of the
// same reference.
func (r *Reference) String() string {
	switch r.Transport {
	case Registry:
		return r.Name
	default:
		s := string(r.Transport) + ":" + r.Name
		if r.Tag != "" {
			s += ":" + r.Tag
		}
		return s
	}
}

// ParseReference parses ref: REF, oci-layout:DIR[:TAG], docker-archive:FILE
// or oci-archive:FILE[:TAG].
func ParseReference(ref string) (*Reference, error) {
	for _, tr := range []Transport{OCILayout, DockerArchive, OCIArchive} {
		if p, ok := strings.CutPrefix(ref, string(tr)+":"); ok {
			return parseLocal(tr, p)
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	out := &Reference{Transport: Registry, Name: r.Name(), ref: r}
	if d, ok := r.(name.Digest); ok {
		out.Digest = d.DigestStr()
	}
	return out, nil
}

// parseLocal splits PATH[:TAG]. A path that exists as given wins over a
// tag split, so paths with colons work.
func parseLocal(tr Transport, p string) (*Reference, error) {
	if p == "" {
		return nil, fmt.Errorf("image reference %s: needs a path (%s:PATH)", tr, tr)
	}
	path, tag := p, ""
	if _, err := os.Stat(p); err != nil {
		if i := strings.LastIndexByte(p, ':'); i > 0 && !strings.Contains(p[i+1:], "/") {
			path, tag = p[:i], p[i+1:]
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("image reference %s:%s: %w", tr, p, err)
	}
	return &Reference{Transport: tr, Name: abs, Tag: tag}, nil
}

// Options say where and how to pull.
type Options struct {
	// Platform is the image platform to pick from a multi-arch index
	// (default linux/GOARCH: what the VM runs).
	Platform *v1.Platform
	// Keychain finds registry credentials (default authn.DefaultKeychain:
	// the docker config and its credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport for registries (default remote's).
	Transport http.RoundTripper
	// Jobs is the number of layers fetched at once (default 6, as skopeo).
	Jobs int
	// Attempts is how many times a layer download is tried before the
	// pull fails (default 3).
	Attempts int
	// Progress, if not nil, is told about each layer.
	Progress Progress
	// RegisterTags, for a local source (docker-archive, oci-archive,
	// oci-layout), also records the image under the registry references
	// it was saved as (a docker-archive's RepoTags, an OCI layout's
	// org.opencontainers.image.ref.name or io.containerd.image.name when
	// they are whole references), as `docker load` does: a tool whose image
	// is "python:3.12-slim" then runs from it without a registry. Only
	// `silo image pull` sets it: a project that names a local image must
	// not replace what another project's registry reference means.
	RegisterTags bool
	// IdleTimeout is how long a registry transfer may receive (almost)
	// nothing before it is abandoned; a manifest, the config or a layer
	// abandoned so is tried once more, then the pull fails naming the
	// registry (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Mirror ("host[:port]") serves Docker Hub's images: a reference to
	// Docker Hub (python:3.12-slim, docker.io/library/python) is fetched
	// from the mirror's repository of the same name, and recorded under
	// its own name. A mirror on a loopback address is spoken to over HTTP.
	Mirror string
}

// DefaultPlatform is the platform of the sandboxes on this host.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64", s)
	}
	return p, nil
}

func (o *Options) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	return DefaultPlatform()
}

// resolve finds the image r names for the options' platform, and for a
// local source the registry references it was saved as (tags). index is
// the digest of the image index (or manifest list) the reference named,
// when it named one rather than a manifest. cleanup releases what a local
// archive needed (unpacked in st's own temporary space, which a later
// Open sweeps if this process dies).
func resolve(ctx context.Context, st *store.Store, r *Reference, o *Options) (img v1.Image, tags []string, index string, cleanup func(), err error) {
	cleanup = func() {}
	p := o.platform()
	switch r.Transport {
	case Registry:
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		ref := r.ref
		if ref, err = mirrored(ref, o.Mirror); err != nil {
			return nil, nil, "", cleanup, err
		}
		img, index, err = fromRegistry(ctx, ref, kc, p, o)
	case OCILayout:
		img, tags, index, err = fromLayout(r.Name, r.Tag, p)
	case OCIArchive:
		var dir string
		if dir, err = st.MkTemp("oci-archive-"); err != nil {
			return nil, nil, "", cleanup, err
		}
		if err = unpackOCIArchive(r.Name, dir); err == nil {
			cleanup = func() { os.RemoveAll(dir) }
			img, tags, index, err = fromLayout(dir, r.Tag, p)
		} else {
			os.RemoveAll(dir)
		}
	case DockerArchive:
		var tag *name.Tag
		if r.Tag != "" {
			t, terr := name.NewTag(r.Tag)
			if terr != nil {
				return nil, nil, "", cleanup, terr
			}
			tag = &t
		}
		if img, err = tarball.ImageFromPath(r.Name, tag); err == nil {
			tags = archiveTags(r.Name, r.Tag)
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, "", func() {}, err
	}
	return img, tags, index, cleanup, nil
}

// fromRegistry fetches ref's manifest (one request): an image, or an index
// whose manifest for p it then takes, returning the index's digest too.
func fromRegistry(ctx context.Context, ref name.Reference, kc authn.Keychain, p v1.Platform, o *Options) (v1.Image, string, error) {
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(p),
		remote.WithTransport(newGuard(o.Transport, o.IdleTimeout)))
	if err != nil {
		return nil, "", err
	}
	index := ""
	if desc.MediaType.IsIndex() {
		index = desc.Digest.String()
	}
	img, err := desc.Image()
	return img, index, err
}

// checkPlatform refuses an image built for another platform.
func checkPlatform(cf *v1.ConfigFile, p v1.Platform) error {
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		return fmt.Errorf("the image is for %s/%s, not %s (pick another image or pass --platform)",
			safetext.Escape(cf.OS), safetext.Escape(cf.Architecture), p.String())
	}
	return nil
}

// fromLayout picks the image tagged tag (or the only one) from an OCI
// layout, resolving an index to p's manifest (and returning the index's
// digest); it also returns the registry references the layout names it
// by (layoutTags).
func fromLayout(dir, tag string, p v1.Platform) (v1.Image, []string, string, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, nil, "", fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, "", fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	var pick *v1.Descriptor
	for i, d := range im.Manifests {
		t := d.Annotations["org.opencontainers.image.ref.name"]
		if (tag == "" && len(im.Manifests) == 1) || t == tag || (tag == "" && t == "latest") {
			pick = &im.Manifests[i]
			break
		}
	}
	if pick == nil {
		return nil, nil, "", fmt.Errorf("OCI layout %s has no image tagged %q (add :TAG to the reference)", dir, tag)
	}
	tags := layoutTags(pick)
	if pick.MediaType.IsIndex() {
		child, err := idx.ImageIndex(pick.Digest)
		if err != nil {
			return nil, nil, "", err
		}
		img, err := pickPlatform(child, p)
		return img, tags, pick.Digest.String(), err
	}
	img, err := idx.Image(pick.Digest)
	return img, tags, "", err
}

// pickPlatform returns the manifest of index that matches p.
func pickPlatform(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture &&
			(p.Variant == "" || d.Platform.Variant == p.Variant) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("the image index has no manifest for %s (pass --platform)", p.String())
}
