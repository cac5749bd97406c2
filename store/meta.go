package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Kind says what an entry is for.
type Kind string

// The kinds of entries silo stores.
const (
	KindLayer    Kind = "layer"
	KindRootfs   Kind = "rootfs"
	KindSetup    Kind = "setup"
	KindKernel   Kind = "kernel"
	KindInitfs   Kind = "initfs"
	KindSnapshot Kind = "snapshot" // a VM memory snapshot: a guest booted to the point before any run
	KindFile     Kind = "file"
	KindManifest Kind = "manifest"
	KindConfig   Kind = "config"
	KindImage    Kind = "image"
)

// ErrNotFound is returned (wrapped) when an entry, root or realisation does
// not exist.
var ErrNotFound = errors.New("not found in the store")

// Entry describes one store entry.
type Entry struct {
	Name        string            `json:"name"` // "<32 nix32 chars>-<name>", the store path's base name
	Path        string            `json:"path"` // absolute path in the store
	Kind        Kind              `json:"kind"`
	Dir         bool              `json:"dir,omitempty"`    // a directory tree rather than a file
	ContentHash Hash              `json:"contentHash"`      // blake3 of the file, or of the directory's canonical serialization
	Deriver     Hash              `json:"deriver,omitzero"` // non-zero for derivation-addressed entries
	Size        int64             `json:"size"`             // apparent bytes
	DiskSize    int64             `json:"diskSize"`         // bytes on disk now (the compressed form when compressed)
	RawDiskSize int64             `json:"rawDiskSize"`      // bytes on disk when not compressed
	References  []string          `json:"references,omitempty"`
	Rebuildable bool              `json:"rebuildable,omitempty"`
	Compressed  bool              `json:"compressed,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Created     time.Time         `json:"created"`
	LastUsed    time.Time         `json:"lastUsed"` // kept as the metadata file's mtime
}

// metaVersion is the metadata format version.
const metaVersion = 1

// metaFile is the on-disk form of an entry's metadata: store/.meta/<name>.json.
type metaFile struct {
	Version int `json:"version"`
	Entry
	Mode uint32 `json:"mode"` // permission bits of a file entry (write bits cleared)
}

// diskEntry is Entry as the metadata files spell it (snake_case keys,
// the format's since version 1); Entry is the public, camelCase form that
// --json prints. The two convert into each other field for field.
type diskEntry struct {
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	Kind        Kind              `json:"kind"`
	Dir         bool              `json:"dir,omitempty"`
	ContentHash Hash              `json:"content_hash"`
	Deriver     Hash              `json:"deriver,omitzero"`
	Size        int64             `json:"size"`
	DiskSize    int64             `json:"disk_size"`
	RawDiskSize int64             `json:"raw_disk_size"`
	References  []string          `json:"references,omitempty"`
	Rebuildable bool              `json:"rebuildable,omitempty"`
	Compressed  bool              `json:"compressed,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Created     time.Time         `json:"created"`
	LastUsed    time.Time         `json:"last_used"`
}

// diskMeta is metaFile's on-disk form.
type diskMeta struct {
	Version int `json:"version"`
	diskEntry
	Mode uint32 `json:"mode"`
}

// MarshalJSON writes m in the metadata file's format.
func (m *metaFile) MarshalJSON() ([]byte, error) {
	return json.Marshal(diskMeta{Version: m.Version, diskEntry: diskEntry(m.Entry), Mode: m.Mode})
}

// UnmarshalJSON reads the metadata file's format.
func (m *metaFile) UnmarshalJSON(b []byte) error {
	var d diskMeta
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	*m = metaFile{Version: d.Version, Entry: Entry(d.diskEntry), Mode: d.Mode}
	return nil
}

// metaPath returns the metadata file of name.
func (s *Store) metaPath(name string) string { return filepath.Join(s.meta, name+".json") }

// exists reports whether name has metadata (is a valid entry).
func (s *Store) exists(name string) bool {
	_, err := os.Lstat(s.metaPath(name))
	return err == nil
}

// readMeta loads name's metadata. A missing file is ErrNotFound; an
// unreadable one is a descriptive error.
func (s *Store) readMeta(name string) (*metaFile, error) {
	f, err := os.Open(s.metaPath(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("entry %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("read metadata of %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", name, err)
	}
	if fi.Size() > 1<<20 {
		return nil, fmt.Errorf("metadata of %s is corrupt (%d bytes); run `silo store verify --repair`", name, fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", name, err)
	}
	var m metaFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("metadata of %s is corrupt (%v); run `silo store verify --repair`", name, err)
	}
	if m.Version != metaVersion || m.Name != name {
		return nil, fmt.Errorf("metadata of %s is corrupt (version %d, name %q); run `silo store verify --repair`", name, m.Version, m.Name)
	}
	m.Path = s.entryPath(name)
	m.LastUsed = fi.ModTime()
	return &m, nil
}

// writeMeta writes m atomically: temp file, fsync, mtime = last use,
// rename, fsync of the directory.
func (s *Store) writeMeta(m *metaFile) error {
	m.Version = metaVersion
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metadata of %s: %w", m.Name, err)
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return err
	}
	err = fsutil.WriteFile(s.metaPath(m.Name), b, fsutil.WriteOptions{TempDir: tmp, Sync: true, ModTime: m.LastUsed})
	if err != nil {
		return fmt.Errorf("write metadata of %s: %w", m.Name, roErr(err))
	}
	return nil
}

// touch records a use of name now.
func (s *Store) touch(name string) {
	now := time.Now()
	_ = os.Chtimes(s.metaPath(name), now, now)
}

// syncDir fsyncs a directory so that renames into it are durable.
func syncDir(dir string) error {
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// entry returns the public form of m.
func (m *metaFile) entry() *Entry {
	e := m.Entry
	e.References = append([]string(nil), m.References...)
	return &e
}
