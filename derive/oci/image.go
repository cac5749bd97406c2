package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/silo-dev/silo/store"
)

// imageVersion is the format version of the image entry.
const imageVersion = 1

// Image is the content of an image entry: one pulled image for one
// platform, pointing at its manifest, config and layer entries.
type Image struct {
	Version     int       `json:"version"`
	Ref         string    `json:"ref"`      // canonical reference it was pulled as
	Digest      string    `json:"digest"`   // manifest digest
	Platform    string    `json:"platform"` // "linux/amd64"
	ConfigEntry string    `json:"configEntry"`
	Layers      []Layer   `json:"layers"` // bottom first
	Config      v1.Config `json:"config"` // Env, Entrypoint, Cmd, WorkingDir, User, …
	// Index is the digest of the image index (manifest list) the
	// reference named, when it named one; empty for a reference to a
	// manifest (a pull by manifest digest, too).
	Index string `json:"index,omitempty"`
}

// Layer is one layer of an Image.
type Layer struct {
	Digest    string `json:"digest"` // of the blob as stored (compressed)
	DiffID    string `json:"diffID"` // of the uncompressed tar
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Entry     string `json:"entry"` // store name
}

// Size is the sum of the image's layer blob sizes.
func (im *Image) Size() int64 {
	var n int64
	for _, l := range im.Layers {
		n += l.Size
	}
	return n
}

// Realisation keys.
func blobKey(dgst string) string                { return "oci:" + dgst }
func refKey(r *Reference, p v1.Platform) string { return "ref:" + r.String() + "@" + p.String() }
func digestKey(d string, p v1.Platform) string  { return "image:" + d + "@" + p.String() }

// RootName is the direct root that keeps the image r (for p) pulled.
func RootName(r *Reference, p v1.Platform) string {
	key := r.String() + "@" + p.String()
	s := sanitize(key)
	if len(s) > 100 {
		s = s[:100]
	}
	return "image-" + s + "-" + store.PathHash(store.HashBytes([]byte(key)))[:8]
}

// sanitize keeps letters, digits and ".-_", and maps the rest to "-".
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-.")
}

// shortDigest is the first 12 hex digits of a digest.
func shortDigest(d string) string {
	_, hex, _ := strings.Cut(d, ":")
	return hex[:min(12, len(hex))]
}

// ShortName is a short human name for r: "python" for
// docker.io/library/python:3.12.
func ShortName(r *Reference) string {
	n := r.Name
	if r.Transport == Registry && r.ref != nil {
		n = r.ref.Context().RepositoryStr()
	}
	n = path.Base(strings.TrimSuffix(n, "/"))
	if s := sanitize(n); s != "" {
		return s
	}
	return "image"
}

// Lookup returns the image that ref last resolved to on this host, from
// the store alone: no registry is asked. It fails with an error matching
// errors.Is(err, store.ErrNotFound) when the reference was never pulled.
func Lookup(st *store.Store, ref string, p v1.Platform) (*Image, *store.Entry, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, nil, err
	}
	e, err := st.Realisation(refKey(r, p))
	if errors.Is(err, store.ErrNotFound) && r.Digest != "" {
		e, err = st.Realisation(digestKey(r.Digest, p))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("image %s for %s: %w (run silo image pull %s)", ref, p.String(), err, ref)
	}
	im, e, err := ReadImage(st, e.Name)
	if err != nil {
		return nil, nil, err
	}
	return im, e, nil
}

// Rebuilt reports whether ref is an OCI layout (oci-layout:DIR[:TAG]) that
// now holds another image for p than digest, the one last pulled from it:
// the layout was rebuilt in place. It reads only the layout's index.json
// (and a nested index), so a run can ask every time. A layout that cannot
// be read now is not reported rebuilt: the image pulled from it still
// runs.
func Rebuilt(ref string, p v1.Platform, digest string) bool {
	r, err := ParseReference(ref)
	if err != nil || r.Transport != OCILayout {
		return false
	}
	img, _, _, err := fromLayout(r.Name, r.Tag, p)
	if err != nil {
		return false
	}
	d, err := img.Digest()
	return err == nil && d.String() != digest
}

// ReadImage reads an image entry for use: it counts as a use of the entry
// (for the cache's least-recently-used order) and holds it in st's
// temporary root.
func ReadImage(st *store.Store, name string) (*Image, *store.Entry, error) {
	e, err := st.Use(name)
	if err != nil {
		return nil, nil, fmt.Errorf("image entry %s: %w", name, err)
	}
	return readImageEntry(e)
}

// peekImage reads an image entry without counting a use, for listings; a
// compressed entry has to be decompressed, which is a use.
func peekImage(st *store.Store, name string) (*Image, *store.Entry, error) {
	e, err := st.Get(name)
	if err != nil {
		return nil, nil, fmt.Errorf("image entry %s: %w", name, err)
	}
	if e.Compressed {
		return ReadImage(st, name)
	}
	return readImageEntry(e)
}

// readImageEntry decodes the image entry e.
func readImageEntry(e *store.Entry) (*Image, *store.Entry, error) {
	name := e.Name
	f, err := os.Open(e.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("image entry %s: %w", name, err)
	}
	defer f.Close()
	b, err := readAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("image entry %s: %w", name, err)
	}
	var im Image
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, nil, fmt.Errorf("image entry %s is damaged: %w (run silo store verify --repair, then pull again)", name, err)
	}
	if im.Version != imageVersion {
		return nil, nil, fmt.Errorf("image entry %s has format %d, this silo reads %d: pull the image again", name, im.Version, imageVersion)
	}
	return &im, e, nil
}

// Listed is one pulled image, as List reports it.
type Listed struct {
	Root  string       `json:"root"`
	Image *Image       `json:"image"`
	Entry *store.Entry `json:"-"`
}

// List returns the pulled images (those with an image root), sorted by
// reference.
func List(st *store.Store) ([]Listed, error) {
	roots, err := st.Roots()
	if err != nil {
		return nil, err
	}
	var out []Listed
	for _, r := range roots {
		if r.Kind != store.RootDirect || !strings.HasPrefix(r.Name, "image-") || len(r.Entries) != 1 {
			continue
		}
		im, e, err := peekImage(st, r.Entries[0])
		if err != nil {
			continue // a root that is not an image entry is not ours to list
		}
		out = append(out, Listed{Root: r.Name, Image: im, Entry: e})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image.Ref < out[j].Image.Ref })
	return out, nil
}

// Remove unpins the image ref (for p): GC may then free what nothing else
// uses. It fails with store.ErrNotFound if the image was not pulled.
func Remove(st *store.Store, ref string, p v1.Platform) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	root := RootName(r, p)
	roots, err := st.Roots()
	if err != nil {
		return err
	}
	for _, rt := range roots {
		if rt.Name == root {
			return st.RemoveRoot(root)
		}
	}
	return fmt.Errorf("image %s (%s) is not pulled: %w", ref, p.String(), store.ErrNotFound)
}

// Progress is told about each layer of a pull. Calls for different layers
// may come from different goroutines at once.
type Progress interface {
	Start(digest string, size int64)              // a download begins
	Update(digest string, done int64)             // bytes received so far
	Finish(digest string, cached bool, err error) // cached: no bytes were needed
}

type nopProgress struct{}

func (nopProgress) Start(string, int64)        {}
func (nopProgress) Update(string, int64)       {}
func (nopProgress) Finish(string, bool, error) {}

// LookupDigest returns the image whose manifest digest is dgst (for p),
// from the store alone, or an error matching store.ErrNotFound.
func LookupDigest(st *store.Store, dgst string, p v1.Platform) (*Image, *store.Entry, error) {
	e, err := st.Realisation(digestKey(dgst, p))
	if err != nil {
		return nil, nil, err
	}
	return ReadImage(st, e.Name)
}

// PinnedReference is ref pinned to the manifest digest dgst, for a pull
// that must not follow a moved tag: "name@sha256:…" for a registry; a
// local source (a layout, an archive) is named as it is, and the caller
// checks the digest it gets.
func PinnedReference(ref, dgst string) string {
	r, err := ParseReference(ref)
	if err != nil || r.Transport != Registry || r.ref == nil {
		return ref
	}
	return r.ref.Context().Name() + "@" + dgst
}
