package lock

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// pathSep joins the parts of a key path in a posIndex. TOML keys may contain
// dots when quoted, so a dot cannot be the separator.
const pathSep = "\x1f"

// pos is a 1-based line and column in a file.
type pos struct{ Line, Column int }

// posIndex maps a key path (parts joined by pathSep; elements of arrays and
// array tables are numbered from 0) to where its key, or its array element,
// is written. It is built from the same bytes the decoder read, after the
// decoder accepted them, so every decoded value has an entry.
type posIndex map[string]pos

// at returns where the value at path is written.
func (ix posIndex) at(path ...string) (pos, bool) {
	p, ok := ix[strings.Join(path, pathSep)]
	return p, ok
}

// has reports whether the file sets path.
func (ix posIndex) has(path ...string) bool {
	_, ok := ix.at(path...)
	return ok
}

// indexer walks a document's AST.
type indexer struct {
	ix     posIndex
	lines  []int          // offsets at which lines start
	arrays map[string]int // array-table path → elements seen so far
}

// indexPositions parses data (already accepted by the decoder) and records
// where every key and array element is.
func indexPositions(data []byte) posIndex {
	in := &indexer{ix: make(posIndex, 64), arrays: map[string]int{}, lines: make([]int, 1, 64)}
	for i, c := range data {
		if c == '\n' {
			in.lines = append(in.lines, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, at := in.key(e)
			table = in.resolve(parts, false)
			in.ix[table] = at
		case unstable.ArrayTable:
			parts, at := in.key(e)
			parent := in.resolve(parts, true)
			n := in.arrays[parent]
			in.arrays[parent] = n + 1
			if _, ok := in.ix[parent]; !ok {
				in.ix[parent] = at
			}
			table = parent + pathSep + strconv.Itoa(n)
			in.ix[table] = at
		case unstable.KeyValue:
			path, at := in.keyPath(table, e)
			in.value(path, e.Value(), at)
		}
	}
	return in.ix
}

// key returns the parts of a node's (possibly dotted) key and where it starts.
func (in *indexer) key(n *unstable.Node) ([]string, pos) {
	var parts []string
	var at pos
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if parts == nil {
			at = in.position(int(k.Raw.Offset))
		}
		parts = append(parts, string(k.Data))
	}
	return parts, at
}

// keyPath returns the path of a key-value's key under prefix, and where the
// key starts.
func (in *indexer) keyPath(prefix string, n *unstable.Node) (string, pos) {
	var at pos
	first := true
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if first {
			at = in.position(int(k.Raw.Offset))
			first = false
		}
		if prefix == "" {
			prefix = string(k.Data)
		} else {
			prefix += pathSep + string(k.Data)
		}
	}
	return prefix, at
}

// resolve turns a table header's parts into a path, numbering the parts that
// are array tables with their current (last) element. The last part of an
// array-table header is left for the caller to number.
func (in *indexer) resolve(parts []string, arrayHeader bool) string {
	path := ""
	for i, part := range parts {
		if i > 0 {
			path += pathSep
		}
		path += part
		if arrayHeader && i == len(parts)-1 {
			break
		}
		if n, ok := in.arrays[path]; ok && n > 0 {
			path += pathSep + strconv.Itoa(n-1)
		}
	}
	return path
}

// value records a key-value and, inside arrays and inline tables, each
// element and key.
func (in *indexer) value(path string, v *unstable.Node, at pos) {
	in.ix[path] = at
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			cat := at
			if c.Raw.Length > 0 {
				cat = in.position(int(c.Raw.Offset))
			}
			in.value(path+pathSep+strconv.Itoa(i), c, cat)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind != unstable.KeyValue {
				continue
			}
			cpath, cat := in.keyPath(path, c)
			in.value(cpath, c.Value(), cat)
		}
	}
}

// position turns a byte offset into a line and column.
func (in *indexer) position(offset int) pos {
	line := sort.Search(len(in.lines), func(i int) bool { return in.lines[i] > offset })
	return pos{Line: line, Column: offset - in.lines[line-1] + 1}
}

// join returns a new slice holding a then b.
func join(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}
