package lsp

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
)

// Direction says which way a message travels.
type Direction int

const (
	// ToGuest is the editor's message on its way to the server: host
	// paths become guest paths.
	ToGuest Direction = iota
	// ToHost is the server's message on its way to the editor: guest
	// paths become host paths.
	ToHost
)

// Mapper maps the project's paths and file URIs between the host, where
// the editor runs, and the sandbox, where the language server runs. It is
// safe for concurrent use by the two directions.
type Mapper struct {
	hosts []string // host roots; every one maps to guest
	guest string
	// editor is the host root as the editor spells it: which of hosts it
	// used first, and its file URI's spelling (percent-escapes and all).
	editor atomic.Pointer[spelling]
}

// spelling is one host root and the exact file URI prefix that names it.
type spelling struct {
	path, uri         string
	fromURI, fromPath bool // learnt from the editor's URI, or its plain path
}

// NewMapper maps the host directory host (and any aliases: the same
// directory by another name, such as its symlink-free path) to guest. All
// are absolute; they are cleaned.
func NewMapper(guest, host string, aliases ...string) *Mapper {
	m := &Mapper{guest: filepath.Clean(guest)}
	for _, h := range append([]string{host}, aliases...) {
		h = filepath.Clean(h)
		if !contains(m.hosts, h) {
			m.hosts = append(m.hosts, h)
		}
	}
	m.editor.Store(&spelling{path: m.hosts[0], uri: "file://" + EncodePath(m.hosts[0])})
	return m
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Info is what Rewrite noticed in a message.
type Info struct {
	// Exit is set when the message is (or a batch holds) the exit
	// notification.
	Exit bool
	// Rewritten counts the strings that changed.
	Rewritten int
	// EditOutside is set, toward the host, when a workspace edit in the
	// message (under a "changes", "documentChanges" or "edit" key) names
	// a file URI outside the workspace, or one with a ".." segment: the
	// server asks the editor to write where the sandbox cannot.
	EditOutside bool
	// ID is the raw top-level id token ("7", "\"a\""), nil when none;
	// Method is the top-level method, "" for a response. Both describe an
	// object message, not a batch.
	ID     []byte
	Method string
	// Batch is set when the message is an array of messages.
	Batch bool
}

// editKeys hold workspace edits: the editor writes the files they name.
var editKeys = [][]byte{[]byte("changes"), []byte("documentChanges"), []byte("edit")}

// contentKeys name the strings that are file contents or code, never a
// path to map: didOpen's and didChange's text, an edit's newText, a
// completion's insertText. Rewriting them would put different contents in
// the server's copy of a file than in the editor's.
var contentKeys = [][]byte{[]byte("text"), []byte("newText"), []byte("insertText")}

// Rewrite appends body to dst with every file URI and path under the
// project mapped in direction d, and reports what it saw. It does not
// decode the JSON: it scans it for string tokens and replaces, in place,
// only those that name a path or hold a file URI under the mapped root;
// every other byte is copied as it is. Both object keys (a WorkspaceEdit's
// changes map has URIs as keys) and values are considered. Body need not
// be valid JSON; what is not understood is copied unchanged.
func (m *Mapper) Rewrite(dst, body []byte, d Direction) ([]byte, Info) {
	var info Info
	var key []byte     // the key whose value comes next, if any
	var stack [][]byte // the keys of the enclosing containers
	edits := 0         // how many of them are edit keys
	depth, last, i := 0, 0, 0
	for i < len(body) {
		switch body[i] {
		case '"':
			end, escaped := stringEnd(body, i)
			if end < 0 {
				i = len(body)
				continue
			}
			raw := body[i+1 : end-1]
			isKey := nextByte(body, end) == ':'
			if d == ToHost && edits > 0 && !info.EditOutside && m.outside(raw, escaped) {
				info.EditOutside = true
			}
			if !isKey && depth == 1 && string(key) == "method" {
				info.Method = string(raw)
			}
			if !isKey && depth == 1 && string(key) == "id" && info.ID == nil {
				info.ID = body[i:end]
			}
			if isKey || !isContentKey(key) {
				if repl, ok := m.rewriteToken(raw, escaped, d); ok {
					dst = append(dst, body[last:i+1]...)
					dst = append(dst, repl...)
					dst = append(dst, '"')
					last = end
					info.Rewritten++
				}
			}
			if !isKey && depth <= 2 && string(key) == "method" && string(raw) == "exit" {
				info.Exit = true
			}
			if isKey {
				key = raw
			} else {
				key = nil
			}
			i = end
			continue
		case '{', '[':
			if depth == 0 && body[i] == '[' {
				info.Batch = true
			}
			depth++
			stack = append(stack, key)
			if isKey(key, editKeys) {
				edits++
			}
			key = nil
		case '}', ']':
			depth--
			if n := len(stack); n > 0 {
				if isKey(stack[n-1], editKeys) {
					edits--
				}
				stack = stack[:n-1]
			}
			key = nil
		case ',':
			key = nil
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'n':
			if depth == 1 && string(key) == "id" && info.ID == nil {
				j := i
				for j < len(body) && !isDelim(body[j]) {
					j++
				}
				info.ID = body[i:j]
				dst = append(dst, body[last:j]...)
				last, i = j, j
				continue
			}
		}
		i++
	}
	return append(dst, body[last:]...), info
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// outside reports whether the string token raw is a file URI that is not
// under the guest root, or has a ".." segment.
func (m *Mapper) outside(raw []byte, escaped bool) bool {
	s := raw
	if escaped {
		var u string
		if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &u) != nil {
			return false
		}
		s = []byte(u)
	}
	if !bytes.HasPrefix(s, fileScheme) {
		return false
	}
	rest := s[len(fileScheme):]
	if matchEncoded(rest, m.guest, true) < 0 {
		return true
	}
	path, _, _ := bytes.Cut(rest, []byte("?"))
	path, _, _ = bytes.Cut(path, []byte("#"))
	for _, seg := range bytes.Split(path, []byte("/")) {
		if string(percentDecode(seg)) == ".." {
			return true
		}
	}
	return false
}

// stringEnd returns the index just past the string token starting at
// body[i] (a quote), and whether it holds any escape; -1 when it does not
// end.
func stringEnd(body []byte, i int) (end int, escaped bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(body[j:], '"')
		if k < 0 {
			return -1, false
		}
		q := j + k
		bs := 0
		for p := q - 1; p > i && body[p] == '\\'; p-- {
			bs++
		}
		if bs > 0 {
			escaped = true
		}
		if bs%2 == 0 {
			if !escaped {
				escaped = bytes.IndexByte(body[i+1:q], '\\') >= 0
			}
			return q + 1, escaped
		}
		j = q + 1
	}
}

// nextByte is the first byte after i that is not JSON whitespace, or 0.
func nextByte(body []byte, i int) byte {
	for ; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return body[i]
		}
	}
	return 0
}

func isContentKey(key []byte) bool { return isKey(key, contentKeys) }

// isKey reports whether key is one of keys.
func isKey(key []byte, keys [][]byte) bool {
	if key == nil {
		return false
	}
	for _, k := range keys {
		if bytes.Equal(key, k) {
			return true
		}
	}
	return false
}

// rewriteToken returns the new raw contents (between the quotes) of the
// string token raw, or false when it stays as it is.
func (m *Mapper) rewriteToken(raw []byte, escaped bool, d Direction) ([]byte, bool) {
	if !escaped {
		if !candidate(raw) {
			return nil, false
		}
		out, ok := m.rewriteString(raw, d)
		return out, ok
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil || !candidate([]byte(s)) {
		return nil, false
	}
	out, ok := m.rewriteString([]byte(s), d)
	if !ok {
		return nil, false
	}
	return appendEscaped(nil, out), true
}

// candidate is a cheap test that s may need rewriting: an absolute path,
// or text holding a file URI.
func candidate(s []byte) bool {
	return len(s) > 0 && (s[0] == '/' || bytes.Contains(s, fileScheme))
}

var fileScheme = []byte("file://")

// rewriteString maps s, an unescaped string: a whole path or file URI
// under the root, and file URIs under the root anywhere in longer text
// (a hover's markdown link, a message).
func (m *Mapper) rewriteString(s []byte, d Direction) ([]byte, bool) {
	if s[0] == '/' {
		return m.rewritePath(s, d)
	}
	var out []byte
	last, changed := 0, false
	for i := 0; i < len(s); {
		k := bytes.Index(s[i:], fileScheme)
		if k < 0 {
			break
		}
		at := i + k
		whole := at == 0
		n, prefix, ok := m.matchURI(s[at+len(fileScheme):], d, whole)
		if !ok {
			i = at + len(fileScheme)
			continue
		}
		out = append(out, s[last:at]...)
		out = append(out, prefix...)
		last = at + len(fileScheme) + n
		i, changed = last, true
	}
	if !changed {
		return nil, false
	}
	return append(out, s[last:]...), true
}

// rewritePath maps s when it is a path under the root, as a whole.
func (m *Mapper) rewritePath(s []byte, d Direction) ([]byte, bool) {
	if d == ToHost {
		if !underRoot(s, m.guest) {
			return nil, false
		}
		to := m.editor.Load().path
		return append([]byte(to), s[len(m.guest):]...), true
	}
	for _, h := range m.hosts {
		if underRoot(s, h) {
			m.learn(h, "")
			return append([]byte(m.guest), s[len(h):]...), true
		}
	}
	return nil, false
}

// underRoot reports whether path s is root or lies under it.
func underRoot(s []byte, root string) bool {
	if root == "/" {
		return false // mapping everything is never meant
	}
	return bytes.HasPrefix(s, []byte(root)) && (len(s) == len(root) || s[len(root)] == '/')
}

// matchURI matches rest, what follows "file://", against the root, and
// returns how many bytes of rest spell the root and the URI prefix
// ("file://…") to put in their place. A whole-string URI must continue
// with '/', '?', '#' or nothing; one inside text may also end at a
// character that ends a link in prose.
func (m *Mapper) matchURI(rest []byte, d Direction, whole bool) (int, []byte, bool) {
	if d == ToHost {
		n := matchEncoded(rest, m.guest, whole)
		if n < 0 {
			return 0, nil, false
		}
		return n, []byte(m.editor.Load().uri), true
	}
	for _, h := range m.hosts {
		if n := matchEncoded(rest, h, whole); n >= 0 {
			m.learn(h, "file://"+string(rest[:n]))
			return n, []byte("file://" + EncodePath(m.guest)), true
		}
	}
	return 0, nil, false
}

// learn records how the editor spells the host root the first time it
// names it (uri is "" for a plain path): answers then name files the way
// the editor does. A URI's spelling wins over a plain path's.
func (m *Mapper) learn(host, uri string) {
	cur := m.editor.Load()
	if cur.fromURI || (uri == "" && cur.fromPath) {
		return
	}
	next := &spelling{path: host, uri: uri, fromURI: uri != "", fromPath: uri == ""}
	if uri == "" {
		next.uri = "file://" + EncodePath(host)
	}
	m.editor.CompareAndSwap(cur, next)
}
