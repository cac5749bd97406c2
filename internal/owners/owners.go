// Package owners is the owner table of a directory rootfs: the paths an
// image gives to an owner other than root, with their uid and gid.
//
// The directory form of a rootfs (what the namespace sandbox runs on) is
// written by the invoking user, so every file in it belongs to that user
// on the host, whom the sandbox's user namespace maps to root. The owners
// the image's tar headers name are kept beside it, in this table: derive
// records it as an annotation of the rootfs entry (Table.String), the
// sandbox passes it to the agent in the run's spec, and the agent gives
// those paths their owners inside the sandbox, in a layer of its own
// above the store's read-only tree (vm/agent). Paths whose owner is root
// (uid 0, gid 0) are not listed, so an ordinary image's table is a few
// dozen lines.
//
// The text form, one entry a line, is "uid gid path" with the path
// relative to the rootfs's top and quoted as Go quotes strings (a tar
// name may hold any byte but NUL). Parse refuses anything else, and any
// path that is absolute, not clean or climbs out with "..".
package owners

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Entry gives the rootfs path Path (relative, clean, "." for the top)
// the owner UID and group GID.
type Entry struct {
	Path string `json:"path"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
}

// Table is an owner table, in the order the rootfs lists its paths
// (a directory before what it holds).
type Table []Entry

// String is the table's text form.
func (t Table) String() string {
	var b strings.Builder
	for _, e := range t {
		fmt.Fprintf(&b, "%d %d %s\n", e.UID, e.GID, strconv.Quote(e.Path))
	}
	return b.String()
}

// Parse reads a table's text form.
func Parse(s string) (Table, error) {
	if s == "" {
		return nil, nil
	}
	var t Table
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		e, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("owner table line %d: %w", i+1, err)
		}
		t = append(t, e)
	}
	return t, nil
}

func parseLine(line string) (Entry, error) {
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return Entry{}, fmt.Errorf("%q is not \"uid gid path\"", line)
	}
	uid, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return Entry{}, fmt.Errorf("uid %q: %w", f[0], err)
	}
	gid, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return Entry{}, fmt.Errorf("gid %q: %w", f[1], err)
	}
	p, err := strconv.Unquote(f[2])
	if err != nil {
		return Entry{}, fmt.Errorf("path %s: %w", f[2], err)
	}
	if err := Check(p); err != nil {
		return Entry{}, err
	}
	return Entry{Path: p, UID: uint32(uid), GID: uint32(gid)}, nil
}

// Check refuses a path that is not relative and clean, that climbs out
// of the rootfs, or that holds a NUL.
func Check(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q is not a clean path inside the rootfs", p)
	}
	return nil
}
