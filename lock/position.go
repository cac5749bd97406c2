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
	in := &indexer{ix: posIndex{}, arrays: map[string]int{}, lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			in.lines = append(in.lines, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, at := in.key(e)
			table = in.resolve(parts, false)
			in.set(table, at)
		case unstable.ArrayTable:
			parts, at := in.key(e)
			parent := in.resolve(parts, true)
			k := strings.Join(parent, pathSep)
			n := in.arrays[k]
			in.arrays[k] = n + 1
			in.setIfAbsent(parent, at)
			table = append(parent, strconv.Itoa(n))
			in.set(table, at)
		case unstable.KeyValue:
			parts, at := in.key(e)
			in.value(join(table, parts), e.Value(), at)
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

// resolve turns a table header's parts into a path, numbering the parts that
// are array tables with their current (last) element. The last part of an
// array-table header is left for the caller to number.
func (in *indexer) resolve(parts []string, arrayHeader bool) []string {
	path := make([]string, 0, len(parts)+2)
	for i, part := range parts {
		path = append(path, part)
		if arrayHeader && i == len(parts)-1 {
			break
		}
		if n, ok := in.arrays[strings.Join(path, pathSep)]; ok && n > 0 {
			path = append(path, strconv.Itoa(n-1))
		}
	}
	return path
}

// value records a key-value and, inside arrays and inline tables, each
// element and key.
func (in *indexer) value(path []string, v *unstable.Node, at pos) {
	in.set(path, at)
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
			in.value(join(path, []string{strconv.Itoa(i)}), c, cat)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind != unstable.KeyValue {
				continue
			}
			parts, cat := in.key(c)
			in.value(join(path, parts), c.Value(), cat)
		}
	}
}

func (in *indexer) set(path []string, at pos) { in.ix[strings.Join(path, pathSep)] = at }

func (in *indexer) setIfAbsent(path []string, at pos) {
	k := strings.Join(path, pathSep)
	if _, ok := in.ix[k]; !ok {
		in.ix[k] = at
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
