package store

import (
	"io/fs"
	"path/filepath"
	"slices"
)

// KindUsage is the space one kind of entry takes.
type KindUsage struct {
	Kind        Kind  `json:"kind"`
	Count       int   `json:"count"`
	Compressed  int   `json:"compressed"`  // how many are compressed
	Size        int64 `json:"size"`        // apparent bytes
	DiskSize    int64 `json:"diskSize"`    // bytes on disk now
	RawDiskSize int64 `json:"rawDiskSize"` // bytes on disk if nothing were compressed
}

// DiskReport is the store's disk usage.
type DiskReport struct {
	Kinds       []KindUsage `json:"kinds"` // sorted by kind
	Total       KindUsage   `json:"total"`
	Saved       int64       `json:"saved"`       // bytes compression saves
	OrphanFiles int         `json:"orphanFiles"` // files without metadata (GC removes them)
	OrphanBytes int64       `json:"orphanBytes"`
	TmpBytes    int64       `json:"tmpBytes"` // staging area
}

// Report sums the store's disk usage per kind, sparse files counted as
// they sit on disk, plus orphans and the staging area.
func (s *Store) Report() (*DiskReport, error) {
	all, err := s.List(Filter{})
	if err != nil {
		return nil, err
	}
	kinds := map[Kind]*KindUsage{}
	rep := &DiskReport{Kinds: []KindUsage{}}
	for _, e := range all {
		for _, u := range []*KindUsage{kinds[e.Kind], &rep.Total} {
			if u == nil {
				u = &KindUsage{Kind: e.Kind}
				kinds[e.Kind] = u
			}
			u.Count++
			u.Size += e.Size
			u.DiskSize += e.DiskSize
			u.RawDiskSize += e.RawDiskSize
			if e.Compressed {
				u.Compressed++
			}
		}
	}
	for _, u := range kinds {
		rep.Kinds = append(rep.Kinds, *u)
	}
	slices.SortFunc(rep.Kinds, func(a, b KindUsage) int {
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	rep.Total.Kind = ""
	rep.Saved = rep.Total.RawDiskSize - rep.Total.DiskSize
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	orphans, _, err := s.orphanFiles(names)
	if err != nil {
		return nil, err
	}
	for _, o := range orphans {
		rep.OrphanFiles++
		rep.OrphanBytes += o.DiskSize
	}
	_ = filepath.WalkDir(s.tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != s.tmp {
			if fi, err := d.Info(); err == nil {
				rep.TmpBytes += diskSize(fi)
			}
		}
		return nil
	})
	return rep, nil
}
