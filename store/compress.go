package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// DefaultColdFor is silo's policy: entries unused this long are compressed.
const DefaultColdFor = 14 * 24 * time.Hour

// CompressOptions choose what Compress compresses.
type CompressOptions struct {
	ColdFor time.Duration // compress entries unused this long (default DefaultColdFor)
	All     bool          // compress every entry, cold or not
	DryRun  bool          // report what would be compressed, change nothing
	Names   []string      // only these entries (cold or not)
}

// CompressItem is one entry Compress compressed (or would).
type CompressItem struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Before int64  `json:"before"` // disk bytes before
	After  int64  `json:"after"`  // disk bytes after (0 in a dry run)
}

// CompressReport says what Compress did.
type CompressReport struct {
	DryRun  bool           `json:"dryRun,omitempty"`
	Entries []CompressItem `json:"entries"`
	Skipped []string       `json:"skipped"`        // in use by a live process
	Kept    []string       `json:"incompressible"` // zstd would not make them smaller on disk
	Before  int64          `json:"before"`
	After   int64          `json:"after"`
	Saved   int64          `json:"saved"`
}

// Compress replaces cold entries by a zstd-compressed form under
// store/.zst (a directory as its compressed canonical archive). Use
// decompresses transparently; content hashes do not change. Entries held by
// a live temporary root are skipped.
func (s *Store) Compress(o CompressOptions) (*CompressReport, error) {
	if o.ColdFor == 0 {
		o.ColdFor = DefaultColdFor
	}
	cands, err := s.compressCandidates(o)
	if err != nil {
		return nil, err
	}
	held, err := s.liveTempRoots()
	if err != nil {
		return nil, err
	}
	rep := &CompressReport{DryRun: o.DryRun, Entries: []CompressItem{}, Skipped: []string{}, Kept: []string{}}
	for _, e := range cands {
		if held[e.Name] {
			rep.Skipped = append(rep.Skipped, e.Name)
			continue
		}
		it := CompressItem{Name: e.Name, Kind: e.Kind, Before: e.DiskSize}
		if !o.DryRun {
			after, ok, err := s.compressOne(e.Name)
			if errors.Is(err, errNoGain) {
				rep.Kept = append(rep.Kept, e.Name)
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("compress %s: %w", e.Name, err)
			}
			if !ok {
				rep.Skipped = append(rep.Skipped, e.Name)
				continue
			}
			it.After = after
			rep.After += after
		}
		rep.Before += it.Before
		rep.Entries = append(rep.Entries, it)
	}
	if !o.DryRun {
		rep.Saved = rep.Before - rep.After
	}
	return rep, nil
}

// compressCandidates lists the uncompressed entries o selects.
func (s *Store) compressCandidates(o CompressOptions) ([]*Entry, error) {
	var cands []*Entry
	if len(o.Names) > 0 {
		for _, n := range o.Names {
			e, err := s.Get(n)
			if err != nil {
				return nil, err
			}
			if !e.Compressed {
				cands = append(cands, e)
			}
		}
		return cands, nil
	}
	f := Filter{UnusedFor: o.ColdFor}
	if o.All {
		f.UnusedFor = 0
	}
	all, err := s.List(f)
	if err != nil {
		return nil, err
	}
	for _, e := range all {
		if !e.Compressed {
			cands = append(cands, e)
		}
	}
	return cands, nil
}

// errNoGain says a compressed form would not be smaller on disk.
var errNoGain = errors.New("compression would not save space")

// compressOne writes name's compressed form, then, under the exclusive
// lock, swaps it in: rename the blob into .zst, record it, remove the raw
// entry. It returns the blob's disk size, or ok=false when a process
// started using the entry meanwhile.
func (s *Store) compressOne(name string) (after int64, ok bool, err error) {
	m, err := s.readMeta(name)
	if err != nil {
		return 0, false, err
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return 0, false, err
	}
	blob := filepath.Join(tmp, "zst-"+name)
	defer os.Remove(blob)
	if err := s.writeCompressed(m, blob); err != nil {
		return 0, false, err
	}
	fi, err := os.Stat(blob)
	if err != nil {
		return 0, false, err
	}
	if diskSize(fi) >= m.RawDiskSize {
		return 0, false, errNoGain
	}
	trash := filepath.Join(tmp, "trash-"+name)
	defer removeAll(trash) // after the lock is released
	unlock, err := s.lock(true)
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	held, err := s.liveTempRoots()
	if err != nil {
		return 0, false, err
	}
	if m, err = s.readMeta(name); err != nil || m.Compressed || held[name] {
		return 0, false, err
	}
	if err := os.Rename(blob, s.zstPath(name)); err != nil {
		return 0, false, err
	}
	if err := syncDir(s.zst); err != nil {
		return 0, false, err
	}
	m.Compressed, m.DiskSize = true, diskSize(fi)
	if err := s.writeMeta(m); err != nil {
		return 0, false, err
	}
	if err := renameOut(s.entryPath(name), trash); err != nil {
		return 0, false, err
	}
	return m.DiskSize, true, nil
}

// writeCompressed writes the zstd form of m's entry to blob, checking on
// the way that the bytes still hash to the recorded content hash.
func (s *Store) writeCompressed(m *metaFile, blob string) error {
	f, err := os.OpenFile(blob, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return roErr(err)
	}
	defer f.Close()
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return err
	}
	var got Hash
	if m.Dir {
		h := newHasher()
		op := newTreeOp(h)
		op.arch = newNarEnc(zw, true)
		err = op.run(s.entryPath(m.Name))
		got = sumOf(h)
	} else {
		var src *os.File
		if src, err = os.Open(s.entryPath(m.Name)); err == nil {
			h := newHasher()
			_, err = io.CopyBuffer(io.MultiWriter(zw, h), src, make([]byte, 1<<20))
			src.Close()
			got = sumOf(h)
		}
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err == nil && got != m.ContentHash {
		err = fmt.Errorf("its content no longer matches its hash; run `silo store verify --repair`")
	}
	if err == nil {
		err = f.Sync()
	}
	return err
}

// decompress restores a compressed entry in place and returns its updated
// metadata. The caller holds the entry in a temporary root.
func (s *Store) decompress(m *metaFile) (*metaFile, error) {
	if _, err := os.Lstat(s.entryPath(m.Name)); err == nil {
		return s.markDecompressed(m.Name)
	}
	tmp, err := s.ownTmp()
	if err != nil {
		return nil, err
	}
	stage := filepath.Join(tmp, fmt.Sprintf("unzst-%d", time.Now().UnixNano()))
	top, err := s.unpackEntry(m, stage)
	if err != nil {
		removeAll(stage)
		return nil, err
	}
	unlock, err := s.lock(false)
	if err != nil {
		removeAll(stage)
		return nil, err
	}
	defer unlock()
	err = unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, s.entryPath(m.Name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		removeAll(stage) // decompressed by another process meanwhile
	} else if err != nil {
		removeAll(stage)
		return nil, err
	} else if m.Dir {
		if err := chmod(s.entryPath(m.Name), top); err != nil {
			return nil, err
		}
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	return s.markDecompressedLocked(m.Name)
}

// unpackEntry decompresses m's blob to stage and checks its hash. For a
// tree, it returns the mode to give the top directory once renamed.
func (s *Store) unpackEntry(m *metaFile, stage string) (uint32, error) {
	f, err := os.Open(s.zstPath(m.Name))
	if err != nil {
		return 0, fmt.Errorf("open compressed form: %w; run `silo store verify --repair`", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	p := s.prog()
	p.Begin("decompressing "+m.Name, "bytes")
	defer p.End()
	zr, err := zstd.NewReader(&progressReader{r: f, p: p, total: size})
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	var got Hash
	var top uint32
	if m.Dir {
		got, _, top, err = unpackTreeMode(zr, stage)
		if err == nil {
			err = syncFS(stage)
		}
	} else {
		var st *staged
		if st, err = s.stageStream(stage, zr, m.Mode); err == nil {
			got = st.content
		}
	}
	if err != nil {
		return 0, fmt.Errorf("decompress: %w", err)
	}
	if got != m.ContentHash {
		return 0, fmt.Errorf("the compressed form is corrupt (hash %s, want %s); run `silo store verify --repair`", got, m.ContentHash)
	}
	return top, nil
}

// markDecompressed records that name is stored raw again.
func (s *Store) markDecompressed(name string) (*metaFile, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.markDecompressedLocked(name)
}

func (s *Store) markDecompressedLocked(name string) (*metaFile, error) {
	m, err := s.readMeta(name)
	if err != nil {
		return nil, err
	}
	if m.Compressed {
		m.Compressed, m.DiskSize = false, m.RawDiskSize
		if err := s.writeMeta(m); err != nil {
			return nil, err
		}
	}
	if err := os.Remove(s.zstPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return m, nil
}
