package lock

import (
	"fmt"
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
	lines  []int      // offsets at which lines start
	arrays *arrayNode // array-table paths, part by part
	budget int        // bytes of key paths the index may still hold
	keys   int        // keys and table headers still allowed
	over   *pos       // where a budget ran out
}

// maxKeys bounds the keys and table headers of one file. The decoder
// checks each key against every key already in its table, so the keys of
// one table cost the square of their number; real files have a few
// hundred.
const maxKeys = 4096

// maxIndexBytes bounds the key paths of one file's index. Every key is
// recorded with its whole path, so a file of long table headers followed
// by many keys would otherwise cost the square of its size; real files use
// a few kilobytes.
const maxIndexBytes = 16 << 20

// countKey counts one key or table header at p against maxKeys.
func (in *indexer) countKey(p pos) {
	if in.keys--; in.keys < 0 && in.over == nil {
		in.over = &p
	}
}

// set records that path is written at p, within the budget.
func (in *indexer) set(path string, p pos) {
	if in.over != nil {
		return
	}
	if in.budget -= len(path); in.budget < 0 {
		in.over = &p
		return
	}
	in.ix[path] = p
}

// arrayNode is one part of a path in the tree of array-table paths: count
// is the number of elements seen so far when the path up to here is an
// array table. Walking the tree part by part keeps resolving a header
// linear in its length (a map keyed by every prefix would hash each prefix
// again: quadratic for a header of many dotted parts).
type arrayNode struct {
	count    int
	children map[string]*arrayNode
}

// child returns the node for part below n, nil if there is none and add
// is false.
func (n *arrayNode) child(part string, add bool) *arrayNode {
	if n == nil {
		return nil
	}
	c := n.children[part]
	if c == nil && add {
		if n.children == nil {
			n.children = map[string]*arrayNode{}
		}
		c = &arrayNode{}
		n.children[part] = c
	}
	return c
}

// indexPositions parses data (already accepted by the decoder) and records
// where every key and array element is. It fails, with where, only for a
// file whose key paths add up to more than maxIndexBytes. Its time is
// linear in the size of data.
func indexPositions(data []byte) (posIndex, error) {
	in := &indexer{ix: make(posIndex, 64), arrays: &arrayNode{}, lines: make([]int, 1, 64), budget: maxIndexBytes, keys: maxKeys}
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
			table, _ = in.resolve(parts, false)
			in.set(table, at)
		case unstable.ArrayTable:
			parts, at := in.key(e)
			parent, node := in.resolve(parts, true)
			n := node.count
			node.count++
			if _, ok := in.ix[parent]; !ok {
				in.set(parent, at)
			}
			table = parent + pathSep + strconv.Itoa(n)
			in.set(table, at)
		case unstable.KeyValue:
			path, at := in.keyPath(table, e)
			in.value(path, e.Value(), at)
		}
		if in.over != nil {
			return nil, errIndexBudget(*in.over)
		}
	}
	return in.ix, nil
}

// errIndexBudget is the error of a file whose keys are too long.
type errIndexBudget pos

func (e errIndexBudget) Error() string {
	return fmt.Sprintf("this file has more keys, or longer ones, than any silo configuration (at most %d keys and %d MiB of key paths): shorten it", maxKeys, maxIndexBytes>>20)
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
	in.countKey(at)
	return parts, at
}

// keyPath returns the path of a key-value's key under prefix, and where the
// key starts.
func (in *indexer) keyPath(prefix string, n *unstable.Node) (string, pos) {
	var at pos
	var b strings.Builder
	b.WriteString(prefix)
	first := true
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if first {
			at = in.position(int(k.Raw.Offset))
			first = false
		}
		if b.Len() > 0 {
			b.WriteString(pathSep)
		}
		b.Write(k.Data)
	}
	in.countKey(at)
	return b.String(), at
}

// resolve turns a table header's parts into a path, numbering the parts that
// are array tables with their current (last) element. The last part of an
// array-table header is left for the caller to number: resolve returns its
// node in the tree of array tables (created for an array-table header, nil
// otherwise). Time is linear in the header's length.
func (in *indexer) resolve(parts []string, arrayHeader bool) (string, *arrayNode) {
	var b strings.Builder
	node := in.arrays
	for i, part := range parts {
		if i > 0 {
			b.WriteString(pathSep)
		}
		b.WriteString(part)
		last := i == len(parts)-1
		node = node.child(part, arrayHeader)
		if arrayHeader && last {
			break
		}
		if node != nil && node.count > 0 {
			n := strconv.Itoa(node.count - 1)
			b.WriteString(pathSep + n)
			node = node.child(n, arrayHeader)
		}
	}
	return b.String(), node
}

// value records a key-value and, inside arrays and inline tables, each
// element and key.
func (in *indexer) value(path string, v *unstable.Node, at pos) {
	in.set(path, at)
	if in.over != nil {
		return
	}
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
