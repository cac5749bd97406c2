// Package jsonc edits JSON with comments and trailing commas (the format
// of VS Code's and Zed's settings.json) in place: it changes the values it
// is asked to change and leaves every other byte of the file, comments and
// layout included, as it was.
//
// Parse accepts a top-level object (or an empty file, taken as {}), with
// // and /* */ comments and a trailing comma after the last member or
// element. Get finds the value at a path of object keys; Set replaces it,
// or inserts the missing members, each on its own line indented like the
// file's first indented line (two spaces when it has none). Standard turns
// a value's text into plain JSON for encoding/json.
package jsonc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Doc is a JSONC document being edited.
type Doc struct {
	src  []byte
	root *node
}

// node is one value: its span in src, and for an object its members.
type node struct {
	start, end int
	object     bool
	members    []member
}

type member struct {
	key   string
	value *node
}

// Parse parses src, which must hold one object (or nothing).
func Parse(src []byte) (*Doc, error) {
	d := &Doc{src: src}
	if err := d.parse(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Doc) parse() error {
	p := &parser{s: d.src}
	p.skip()
	if p.openEnd {
		return p.errorf("a /* comment that does not end")
	}
	if len(bytes.TrimSpace(p.s)) == 0 {
		d.src = []byte("{}\n")
		return d.parse()
	}
	if p.i == len(p.s) { // comments only
		d.src = append(d.src[:p.i:p.i], "\n{}\n"...)
		return d.parse()
	}
	n, err := p.value()
	if err != nil {
		return err
	}
	if !n.object {
		return errors.New("the file is not a JSON object")
	}
	p.skip()
	if p.i != len(p.s) {
		return p.errorf("text after the closing brace")
	}
	d.root = n
	return nil
}

// Bytes returns the document's text.
func (d *Doc) Bytes() []byte { return d.src }

// Get returns the text of the value at path, comments inside it included.
func (d *Doc) Get(path ...string) ([]byte, bool) {
	n := d.root
	for _, k := range path {
		if n == nil || !n.object {
			return nil, false
		}
		n = n.get(k)
	}
	if n == nil {
		return nil, false
	}
	return d.src[n.start:n.end], true
}

func (n *node) get(key string) *node {
	for i := len(n.members) - 1; i >= 0; i-- { // the last of duplicates wins
		if n.members[i].key == key {
			return n.members[i].value
		}
	}
	return nil
}

// Set makes the value at path v (marshalled as JSON), creating the objects
// on the way. It fails when a value on the way is not an object.
func (d *Doc) Set(v any, path ...string) error {
	if len(path) == 0 {
		return errors.New("jsonc: Set needs a path")
	}
	n, depth := d.root, 0
	for ; depth < len(path); depth++ {
		next := n.get(path[depth])
		if next == nil {
			break
		}
		if depth < len(path)-1 && !next.object {
			return fmt.Errorf("%s is not an object", strconv.Quote(path[depth]))
		}
		n = next
	}
	unit := d.indentUnit()
	if depth == len(path) {
		text, err := marshal(v, d.lineIndent(n.start), unit)
		if err != nil {
			return err
		}
		return d.splice(n.start, n.end, text)
	}
	// Insert path[depth:] as a new member of n.
	var val any = v
	for i := len(path) - 1; i > depth; i-- {
		val = orderedObject{{path[i], val}}
	}
	indent := d.memberIndent(n, unit)
	text, err := marshal(val, indent, unit)
	if err != nil {
		return err
	}
	entry := "\n" + indent + strconv.Quote(path[depth]) + ": " + string(text)
	if len(n.members) == 0 {
		close := n.end - 1 // the '}'
		return d.splice(n.start+1, n.start+1, []byte(entry+d.closingGap(n, close)))
	}
	last := n.members[len(n.members)-1].value
	if at, comma, ok := d.lineEnd(last.end); ok {
		// After the last member's comma and comment, on a line of its
		// own: the comment stays with the member it was written for.
		if comma {
			return d.splice(at, at, []byte(entry+","))
		}
		return d.splice(at, at, []byte(","+entry))
	}
	return d.splice(last.end, last.end, []byte(","+entry))
}

// lineEnd looks past a value ending at i for a comma and a comment on the
// same line, and returns where that line ends, and whether it had the
// comma; ok is false when anything else follows on the line.
func (d *Doc) lineEnd(i int) (at int, comma, ok bool) {
	s := d.src
	blank := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	blank()
	if i < len(s) && s[i] == ',' {
		comma = true
		i++
		blank()
	}
	switch {
	case i+1 < len(s) && s[i] == '/' && s[i+1] == '/':
		for i < len(s) && s[i] != '\n' && s[i] != '\r' {
			i++
		}
	case i+1 < len(s) && s[i] == '/' && s[i+1] == '*':
		end := bytes.Index(s[i+2:], []byte("*/"))
		if end < 0 || bytes.ContainsAny(s[i:i+2+end], "\n") {
			return 0, false, false
		}
		i += 2 + end + 2
		blank()
	}
	if i < len(s) && (s[i] == '\n' || s[i] == '\r') {
		return i, comma, true
	}
	return 0, false, false
}

// closingGap is what goes between a new first member and the closing
// brace: a newline and the object's own indent, unless one is there.
func (d *Doc) closingGap(n *node, close int) string {
	if bytes.ContainsRune(d.src[n.start+1:close], '\n') {
		return ""
	}
	return "\n" + d.lineIndent(n.start)
}

// splice replaces src[a:b] with text and parses again.
func (d *Doc) splice(a, b int, text []byte) error {
	out := make([]byte, 0, len(d.src)+len(text))
	out = append(append(append(out, d.src[:a]...), text...), d.src[b:]...)
	d.src = out
	return d.parse()
}

// lineIndent is the leading whitespace of the line holding offset i.
func (d *Doc) lineIndent(i int) string {
	ls := bytes.LastIndexByte(d.src[:i], '\n') + 1
	j := ls
	for j < len(d.src) && (d.src[j] == ' ' || d.src[j] == '\t') {
		j++
	}
	return string(d.src[ls:j])
}

// memberIndent is the indent of n's members: that of its first member,
// else n's own plus one unit.
func (d *Doc) memberIndent(n *node, unit string) string {
	if len(n.members) > 0 {
		first := n.members[0].value.start
		if bytes.ContainsRune(d.src[n.start:first], '\n') {
			return d.lineIndent(first)
		}
	}
	return d.lineIndent(n.start) + unit
}

// indentUnit is the file's first indentation, else two spaces.
func (d *Doc) indentUnit() string {
	for _, line := range bytes.Split(d.src, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) < len(line) && len(trimmed) > 0 {
			return string(line[:len(line)-len(trimmed)])
		}
	}
	return "  "
}

// orderedObject marshals as an object with its members in order.
type orderedObject []struct {
	k string
	v any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal formats v indented by unit, its inner lines prefixed by indent.
func marshal(v any, indent, unit string) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, indent, unit); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Standard turns JSONC text into JSON: comments become spaces, trailing
// commas go.
func Standard(src []byte) []byte {
	out := make([]byte, 0, len(src))
	p := &parser{s: src}
	for p.i < len(src) {
		c := src[p.i]
		switch {
		case c == '"':
			j := p.i
			p.str()
			out = append(out, src[j:p.i]...)
		case c == '/' && p.i+1 < len(src) && (src[p.i+1] == '/' || src[p.i+1] == '*'):
			j := p.i
			p.skip()
			out = append(out, bytes.Repeat([]byte{' '}, p.i-j)...)
		case c == ',':
			p.i++
			k := p.i
			p.skip()
			if p.i < len(src) && (src[p.i] == '}' || src[p.i] == ']') {
				out = append(out, ' ')
			} else {
				out = append(out, ',')
			}
			p.i = k
		default:
			out = append(out, c)
			p.i++
		}
	}
	return out
}
