package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/silo-dev/silo/internal/owners"
)

// ErrUnsafe marks a layer entry that silo refuses to apply: an absolute
// path or "..", a write through a symlink, a hardlink to something outside
// the tree, an entry type silo does not know. errors.Is(err, ErrUnsafe)
// tells it apart from a damaged layer.
var ErrUnsafe = errors.New("unsafe layer entry")

// ErrTooManyEntries marks an image with more entries than its limit
// (MaxEntries), refused while the headers are read.
var ErrTooManyEntries = errors.New("the image has too many files")

// DefaultMaxEntries is the entry limit when none is given: well above real
// images (the largest common ones hold about 100,000 files).
const DefaultMaxEntries = 250000

// Option changes how layers are merged and written.
type Option func(*options)

type options struct {
	maxEntries int
	note       func(string)
	progress   func(done, total int64)
	owners     *owners.Table
}

// MaxEntries sets how many tar entries (files, directories, links,
// whiteouts; all layers together) the image may have; n <= 0 keeps
// DefaultMaxEntries. The count is checked as the headers are read, so a
// layer of a million empty files is refused after reading the first
// headers past the limit, having cost no more memory than they do.
func MaxEntries(n int) Option { return func(o *options) { o.maxEntries = n } }

// Notes sets where a one-line note goes about what a writer left out (the
// device nodes of the directory form); none by default.
func Notes(f func(string)) Option { return func(o *options) { o.note = f } }

// Owners has WriteDir fill *t with the paths the image gives to an owner
// other than root (uid 0, gid 0), which the directory cannot carry; a
// hardlink's second name is not listed (its inode is, by the first). The
// ext4 form keeps owners itself and ignores it.
func Owners(t *owners.Table) Option { return func(o *options) { o.owners = t } }

// Progress sets what is told, after each file the writer writes, how
// many bytes of file content it has written and how many it will write
// in all; none by default. It is called from the writer's goroutine.
func Progress(f func(done, total int64)) Option { return func(o *options) { o.progress = f } }

func optionsOf(opts []Option) options {
	o := options{note: func(string) {}}
	for _, f := range opts {
		f(&o)
	}
	if o.maxEntries <= 0 {
		o.maxEntries = DefaultMaxEntries
	}
	return o
}

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// kind is what a node of the merged tree is.
type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindFifo
	kindDevice
)

// meta is the inode metadata kept from a tar header.
type meta struct {
	mode     int64 // permission bits with setuid, setgid and sticky (07777)
	uid, gid int
	mtime    time.Time
	xattrs   map[string]string
}

// content is the data of a regular file: where it sits in the layers, and
// the final paths that name it (more than one for hardlinks).
type content struct {
	layer, ord int
	size       int64
	paths      []string
}

// node is one path of the merged tree.
type node struct {
	kind     kind
	meta     meta
	linkname string           // symlink target
	dev      *device          // device nodes
	data     *content         // regular files
	children map[string]*node // directories
	layer    int              // layer whose entry set this node
	seen     int              // highest layer with an entry at or beneath this node
}

// device is a device node's type (tar.TypeChar or TypeBlock) and number.
type device struct {
	typ          byte
	major, minor int64
}

// tree is the merged filesystem the layers describe, built from headers only.
type tree struct {
	root     *node
	entries  int                     // tar entries read so far, all layers
	progress func(done, total int64) // Progress, or nil
}

func newTree() *tree {
	return &tree{root: &node{kind: kindDir, meta: meta{mode: 0o755}, children: map[string]*node{}, layer: -1, seen: -1}}
}

// unsafeErr reports an entry that is refused.
func unsafeErr(name, format string, args ...any) error {
	return fmt.Errorf("entry %q: %s: %w", name, fmt.Sprintf(format, args...), ErrUnsafe)
}

// maxNameLen is the longest file name ext4 (and most filesystems) hold.
const maxNameLen = 255

// splitName turns a tar entry name into its path components, refusing
// absolute paths, "..", NUL bytes and names longer than maxNameLen. "./a/b/" gives [a b]; "." gives [].
func splitName(name string) ([]string, error) {
	if strings.HasPrefix(name, "/") {
		return nil, unsafeErr(name, "absolute path")
	}
	if strings.ContainsRune(name, 0) {
		return nil, unsafeErr(name, "NUL byte in path")
	}
	var comps []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, unsafeErr(name, `".." in path`)
		default:
			if len(c) > maxNameLen {
				return nil, fmt.Errorf("tar entry %.80q…: a name of %d bytes, more than the %d a file name may have", name, len(c), maxNameLen)
			}
			comps = append(comps, c)
		}
	}
	return comps, nil
}

// parentOf walks to the directory that holds comps' last element, creating
// missing directories (as Docker does) and refusing to pass through
// symlinks or files. Every directory on the way is marked seen in layer.
func (t *tree) parentOf(name string, comps []string, layer int) (*node, error) {
	cur := t.root
	cur.seen = layer
	for i, c := range comps[:len(comps)-1] {
		child := cur.children[c]
		switch {
		case child == nil:
			child = &node{kind: kindDir, meta: meta{mode: 0o755}, children: map[string]*node{}, layer: layer}
			cur.children[c] = child
		case child.kind == kindSymlink:
			return nil, unsafeErr(name, "%s is a symlink; silo never writes through symlinks", strings.Join(comps[:i+1], "/"))
		case child.kind != kindDir:
			return nil, unsafeErr(name, "%s is not a directory", strings.Join(comps[:i+1], "/"))
		}
		child.seen = layer
		cur = child
	}
	return cur, nil
}

// lookup finds the node at comps without following symlinks.
func (t *tree) lookup(comps []string) *node {
	cur := t.root
	for _, c := range comps {
		if cur.kind != kindDir {
			return nil
		}
		if cur = cur.children[c]; cur == nil {
			return nil
		}
	}
	return cur
}

// metaOf keeps the parts of hdr that become inode metadata.
func metaOf(hdr *tar.Header) meta {
	m := meta{mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime.UTC()}
	for k, v := range hdr.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if m.xattrs == nil {
				m.xattrs = map[string]string{}
			}
			m.xattrs[x] = v
		}
	}
	return m
}

// apply adds the entry hdr, the ord-th of layer, to the tree.
func (t *tree) apply(layer, ord int, hdr *tar.Header) error {
	comps, err := splitName(hdr.Name)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		if hdr.Typeflag == tar.TypeDir {
			t.root.meta = metaOf(hdr)
		}
		return nil
	}
	parent, err := t.parentOf(hdr.Name, comps, layer)
	if err != nil {
		return err
	}
	base := comps[len(comps)-1]
	if base == opaqueWhiteout {
		prune(parent, layer)
		return nil
	}
	if target, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		if c := parent.children[target]; c != nil && c.layer < layer && c.seen < layer {
			delete(parent.children, target)
		}
		return nil
	}
	n, err := t.newNode(layer, ord, hdr, parent.children[base])
	if err != nil {
		return err
	}
	n.layer, n.seen = layer, layer
	parent.children[base] = n
	return nil
}

// newNode makes the node for hdr; old is the node it replaces, if any.
func (t *tree) newNode(layer, ord int, hdr *tar.Header, old *node) (*node, error) {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old != nil && old.kind == kindDir {
			old.meta = metaOf(hdr)
			return old, nil
		}
		return &node{kind: kindDir, meta: metaOf(hdr), children: map[string]*node{}}, nil
	case tar.TypeReg:
		return &node{kind: kindFile, meta: metaOf(hdr), data: &content{layer: layer, ord: ord, size: hdr.Size}}, nil
	case tar.TypeSymlink:
		return &node{kind: kindSymlink, meta: metaOf(hdr), linkname: hdr.Linkname}, nil
	case tar.TypeFifo:
		return &node{kind: kindFifo, meta: metaOf(hdr)}, nil
	case tar.TypeLink:
		return t.hardlink(hdr)
	case tar.TypeChar, tar.TypeBlock:
		return &node{kind: kindDevice, meta: metaOf(hdr), dev: &device{typ: hdr.Typeflag, major: hdr.Devmajor, minor: hdr.Devminor}}, nil
	default:
		return nil, unsafeErr(hdr.Name, "unsupported tar entry type %q", hdr.Typeflag)
	}
}

// CheckLayer reads the headers of one uncompressed layer and refuses it
// (ErrUnsafe) if an entry could never be applied safely whatever the layers
// below: an absolute path or "..", a NUL byte, a name longer than a file
// name may be, a hardlink to such a path, an unknown entry type. It keeps
// nothing in memory; a pull runs it so that such an image fails there and
// not on its first run. (What depends on the layers below, such as an entry
// beneath a symlink, is refused when the rootfs is assembled.)
func CheckLayer(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			_, err = io.Copy(io.Discard, r)
			return err
		}
		if err != nil {
			return fmt.Errorf("read tar: %w (the layer is truncated or corrupt)", err)
		}
		if _, err := splitName(hdr.Name); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeLink:
			if c, err := splitName(hdr.Linkname); err != nil || len(c) == 0 {
				return unsafeErr(hdr.Name, "hardlink to %q points outside the image", hdr.Linkname)
			}
		case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeFifo, tar.TypeChar, tar.TypeBlock, tar.TypeXGlobalHeader:
		default:
			return unsafeErr(hdr.Name, "unsupported tar entry type %q", hdr.Typeflag)
		}
	}
}

// hardlink makes the node for a hardlink: it shares the data and metadata
// of its target, which must be a regular file or symlink already in the tree.
func (t *tree) hardlink(hdr *tar.Header) (*node, error) {
	comps, err := splitName(hdr.Linkname)
	if err != nil || len(comps) == 0 {
		return nil, unsafeErr(hdr.Name, "hardlink to %q points outside the image", hdr.Linkname)
	}
	for i := range comps[:len(comps)-1] {
		if n := t.lookup(comps[:i+1]); n != nil && n.kind == kindSymlink {
			return nil, unsafeErr(hdr.Name, "hardlink to %q goes through the symlink %s", hdr.Linkname, strings.Join(comps[:i+1], "/"))
		}
	}
	target := t.lookup(comps)
	if target == nil {
		return nil, unsafeErr(hdr.Name, "hardlink to %q, which is not in the image", hdr.Linkname)
	}
	switch target.kind {
	case kindFile, kindSymlink:
		c := *target
		return &c, nil
	default:
		return nil, unsafeErr(hdr.Name, "hardlink to %q, which is not a regular file", hdr.Linkname)
	}
}

// prune applies an opaque whiteout of layer to dir: everything beneath it
// that no entry of layer put or touched is removed.
func prune(dir *node, layer int) {
	for name, c := range dir.children {
		if c.seen < layer {
			delete(dir.children, name)
			continue
		}
		if c.kind == kindDir {
			prune(c, layer)
		}
	}
}

// scan is the first pass: it reads the headers of every layer, in order,
// into a tree.
func scan(layers []Layer, maxContent int64, o options) (*tree, error) {
	t := newTree()
	for i, l := range layers {
		if err := scanLayer(t, i, l, maxContent, o.maxEntries); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i+1, l.Name, err)
		}
	}
	if n := t.contentSize(); maxContent > 0 && n > maxContent {
		return nil, tooLarge("its files add up to", n, maxContent)
	}
	return t, nil
}

// tooLarge is the ErrTooLarge error for n bytes against the limit max.
func tooLarge(what string, n, max int64) error {
	return fmt.Errorf("%w: %s %d MB, more than the %d MB its root filesystem may hold (raise rootfsSizeMB if the image is meant to be this large)", ErrTooLarge, what, n>>20, max>>20)
}

// ErrTooLarge marks layers whose merged files hold more bytes than the
// limit a write was given: checked from the headers, before anything is
// written, so layers that decompress to more than the disk holds fill
// nothing.
var ErrTooLarge = errors.New("the image is too large")

// contentSize is the bytes the merged tree's regular files hold, each
// hardlinked file counted once.
func (t *tree) contentSize() int64 {
	var n int64
	seen := map[*content]bool{}
	var walk func(*node)
	walk = func(nd *node) {
		if nd.data != nil && !seen[nd.data] {
			seen[nd.data] = true
			n += nd.data.size
		}
		for _, c := range nd.children {
			walk(c)
		}
	}
	walk(t.root)
	return n
}

// scanLayer applies layer i's headers to t. A layer whose own files add
// up to more than maxContent (when positive) is refused as soon as its
// headers say so: its data is never decompressed, so a layer of a few KB
// that declares terabytes costs no more time than disk.
func scanLayer(t *tree, i int, l Layer, maxContent int64, maxEntries int) error {
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var declared int64
	for ord := 0; ; ord++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			// Read what follows the end-of-archive blocks too, so that a
			// verifying reader sees the whole stream.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return fmt.Errorf("read layer: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w (the layer is truncated or corrupt; remove the image and pull it again)", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if t.entries++; t.entries > maxEntries {
			return fmt.Errorf("%w: more than %d entries (raise maxFiles in the tool's [overrides.TOOL] if the image is meant to be this large)", ErrTooManyEntries, maxEntries)
		}
		if hdr.Typeflag == tar.TypeReg {
			if declared += hdr.Size; maxContent > 0 && declared > maxContent {
				return tooLarge("one layer's files alone add up to at least", declared, maxContent)
			}
		}
		if err := t.apply(i, ord, hdr); err != nil {
			return err
		}
	}
}
