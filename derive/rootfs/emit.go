package rootfs

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
)

// Layer is one layer of an image, bottom first.
type Layer struct {
	// Name identifies the layer in errors, e.g. its digest.
	Name string
	// Open returns the layer's uncompressed tar stream. It is called twice.
	Open func() (io.ReadCloser, error)
}

// sink receives the merged tree: directories first (parents before
// children, sorted), then symlinks and fifos, then regular files in layer
// order, each file's first path with its data and the others as hardlinks.
type sink interface {
	dir(p string, m *meta) error
	symlink(p, target string, m *meta) error
	fifo(p string, m *meta) error
	devnode(p string, d *device, m *meta) error
	file(p string, m *meta, size int64, r io.Reader) error
	link(p, target string) error
}

// emit is the second pass: it walks t into s and streams the surviving
// file contents out of the layers.
func emit(t *tree, layers []Layer, s sink) error {
	var specials []func() error
	want := map[[2]int]*content{}
	var walk func(dir *node, p string) error
	walk = func(dir *node, p string) error {
		names := make([]string, 0, len(dir.children))
		for name := range dir.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			n, np := dir.children[name], path.Join(p, name)
			switch n.kind {
			case kindDir:
				if err := s.dir(np, &n.meta); err != nil {
					return err
				}
				if err := walk(n, np); err != nil {
					return err
				}
			case kindSymlink:
				specials = append(specials, func() error { return s.symlink(np, n.linkname, &n.meta) })
			case kindFifo:
				specials = append(specials, func() error { return s.fifo(np, &n.meta) })
			case kindDevice:
				specials = append(specials, func() error { return s.devnode(np, n.dev, &n.meta) })
			case kindFile:
				n.data.paths = append(n.data.paths, np)
				want[[2]int{n.data.layer, n.data.ord}] = n.data
			}
		}
		return nil
	}
	if err := walk(t.root, ""); err != nil {
		return err
	}
	for _, f := range specials {
		if err := f(); err != nil {
			return err
		}
	}
	metas := fileMetas(t)
	if t.progress != nil {
		s = &countingSink{sink: s, report: t.progress, total: totalSize(want)}
	}
	for i, l := range layers {
		if err := emitLayer(i, l, want, metas, s); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i+1, l.Name, err)
		}
	}
	return nil
}

// totalSize is the bytes of content the writer will write.
func totalSize(want map[[2]int]*content) int64 {
	var n int64
	for _, c := range want {
		n += c.size
	}
	return n
}

// countingSink reports the content written after each file.
type countingSink struct {
	sink
	report      func(done, total int64)
	done, total int64
	told        int64 // done when last reported
}

func (c *countingSink) file(p string, m *meta, size int64, r io.Reader) error {
	start := c.done
	err := c.sink.file(p, m, size, &countingReader{r: r, c: c})
	c.done = start + size
	c.report(c.done, c.total)
	c.told = c.done
	return err
}

// countingReader reports a large file's bytes as they are read.
type countingReader struct {
	r io.Reader
	c *countingSink
}

func (cr *countingReader) Read(b []byte) (int, error) {
	n, err := cr.r.Read(b)
	if n > 0 {
		cr.c.done += int64(n)
		if cr.c.done-cr.c.told >= 1<<20 {
			cr.c.report(cr.c.done, cr.c.total)
			cr.c.told = cr.c.done
		}
	}
	return n, err
}

// fileMetas maps each content to the metadata of the node that names it
// (hardlinked names share one inode, and so one metadata).
func fileMetas(t *tree) map[*content]*meta {
	m := map[*content]*meta{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			switch c.kind {
			case kindDir:
				walk(c)
			case kindFile:
				if _, ok := m[c.data]; !ok {
					m[c.data] = &c.meta
				}
			}
		}
	}
	walk(t.root)
	return m
}

// emitLayer streams layer i and hands s the contents the tree kept from it.
func emitLayer(i int, l Layer, want map[[2]int]*content, metas map[*content]*meta, s sink) error {
	left := 0
	for k := range want {
		if k[0] == i {
			left++
		}
	}
	if left == 0 {
		return nil
	}
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for ord := 0; left > 0; ord++ {
		if _, err := tr.Next(); err != nil {
			return fmt.Errorf("read tar: %w (the layer changed between passes or is corrupt)", err)
		}
		c := want[[2]int{i, ord}]
		if c == nil {
			continue
		}
		left--
		if err := s.file(c.paths[0], metas[c], c.size, tr); err != nil {
			return err
		}
		for _, p := range c.paths[1:] {
			if err := s.link(p, c.paths[0]); err != nil {
				return err
			}
		}
	}
	return nil
}
