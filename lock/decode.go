package lock

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// Error is a problem at one place in one configuration file. Its message
// starts with file:line:column, the way compilers write them, so that an
// editor can jump there.
type Error struct {
	File   string // the file's path, or "built-in"
	Line   int    // 1-based; 0 when the problem is the file as a whole
	Column int    // 1-based
	Msg    string // what is wrong and what to do about it
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// errAt returns an Error at p in file.
func errAt(file string, p pos, format string, args ...any) *Error {
	return &Error{File: file, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...)}
}

// decodeStrict decodes data into v (a pointer to one of the schema structs),
// refusing unknown keys, and turns go-toml's errors into *Error values that
// name the file, line and column and say how to fix the problem. It returns
// the positions of the keys when the file is good.
func decodeStrict(file string, data []byte, v any) (posIndex, error) {
	// Indexed first: the index refuses, in linear time, files with more
	// keys than the decoder handles quickly. A file that does not parse
	// gets a partial index here and the decoder's error below.
	ix, err := indexPositions(data)
	if e, ok := err.(errIndexBudget); ok {
		return nil, errAt(file, pos(e), "%s", e.Error())
	}
	// Unknown keys are not the decoder's business: go-toml's strict mode
	// renders each with a scan of the whole file (quadratic in their
	// number), and checkKeyCase below reports them from the index.
	if err := toml.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return nil, decodeError(file, v, err)
	}
	// The document is whole (unknown keys aside, which go-toml skipped), so
	// its values can still be checked and all problems reported at once.
	// go-toml matches keys to fields ignoring case: insist on the case; this
	// also reports the unknown keys.
	return ix, checkKeyCase(file, reflect.TypeOf(v).Elem(), ix)
}

// decodeError turns a go-toml error into *Error values.
func decodeError(file string, v any, err error) error {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		root := reflect.TypeOf(v).Elem()
		errs := make([]error, 0, len(missing.Errors))
		for i := range missing.Errors {
			de := &missing.Errors[i]
			line, col := de.Position()
			errs = append(errs, &Error{File: file, Line: line, Column: col, Msg: unknownKeyMsg(root, de.Key())})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: file, Line: line, Column: col, Msg: decodeMsg(de)}
	}
	return &Error{File: file, Msg: fmt.Sprintf("cannot read the file: %v", err)}
}

// mismatchRE is compiled on the first decoding error, not at package init.
var mismatchRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^toml: cannot decode TOML (.+) into (?:.* of type )?(.+)$`)
})

// decodeMsg rewrites a go-toml decoding error as a sentence about the key.
func decodeMsg(de *toml.DecodeError) string {
	key := strings.Join(de.Key(), ".")
	msg := de.Error()
	if m := mismatchRE().FindStringSubmatch(msg); m != nil && key != "" {
		return fmt.Sprintf("`%s` must be %s, not %s %s", key, tomlKind(m[2]), article(m[1]), m[1])
	}
	msg = strings.TrimPrefix(msg, "toml: ")
	if key != "" {
		return fmt.Sprintf("`%s`: %s", key, msg)
	}
	return "this is not valid TOML: " + msg
}

// tomlKind names, in TOML's words, what a Go type printed by go-toml holds.
func tomlKind(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array of " + strings.TrimPrefix(tomlKind(t[2:]), "a ") + "s"
	case strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "lock."):
		return "a table"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean (true or false)"
	case strings.HasPrefix(t, "float"):
		return "a number"
	}
	return t
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// checkKeyCase reports the keys of ix that match a schema key only when
// case is ignored. Each wrong key is reported once, where it first appears.
func checkKeyCase(file string, root reflect.Type, ix posIndex) error {
	first := map[string]*Error{} // the wrong key's path → its first use
	for k, p := range ix {
		parts := strings.Split(k, pathSep)
		bad, msg := walkSchema(root, parts, true)
		if bad < 0 {
			continue
		}
		prefix := strings.Join(parts[:bad+1], pathSep)
		if e, ok := first[prefix]; !ok || p.Line < e.Line || p.Line == e.Line && p.Column < e.Column {
			first[prefix] = &Error{File: file, Line: p.Line, Column: p.Column, Msg: msg}
		}
	}
	if len(first) == 0 {
		return nil
	}
	errs := slices.Collect(maps.Values(first))
	slices.SortFunc(errs, func(a, b *Error) int {
		return cmp.Or(a.Line-b.Line, a.Column-b.Column, strings.Compare(a.Msg, b.Msg))
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// unknownKeyMsg finds the first part of key (as go-toml reports it, without
// array indices) that root's schema does not know and words the error.
func unknownKeyMsg(root reflect.Type, key []string) string {
	if _, msg := walkSchema(root, key, false); msg != "" {
		return msg
	}
	return fmt.Sprintf("unknown key `%s`", strings.Join(key, "."))
}

// schemaNode is the shape of one schema type, precomputed once so that
// checking every key of a file costs map lookups, not reflection.
type schemaNode struct {
	kind   reflect.Kind // Struct, Map, Slice, Interface (any shape), or anything else for a leaf
	fields map[string]*schemaNode
	names  []string // the struct's keys, in declaration order
	elem   *schemaNode
}

var schemas sync.Map // reflect.Type → *schemaNode

// schemaOf returns the schema tree of t.
func schemaOf(t reflect.Type) *schemaNode {
	if n, ok := schemas.Load(t); ok {
		return n.(*schemaNode)
	}
	n := buildSchema(t)
	schemas.Store(t, n)
	return n
}

func buildSchema(t reflect.Type) *schemaNode {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n := &schemaNode{kind: t.Kind()}
	switch t.Kind() {
	case reflect.Struct:
		n.fields = map[string]*schemaNode{}
		for i := 0; i < t.NumField(); i++ {
			name := tagName(t.Field(i))
			n.fields[name] = buildSchema(t.Field(i).Type)
			if t.Field(i).Tag.Get("alias") == "" {
				n.names = append(n.names, name) // Silo's spellings are not suggested
			}
		}
	case reflect.Map, reflect.Slice:
		n.elem = buildSchema(t.Elem())
	}
	return n
}

// walkSchema follows key through root's types, matching struct keys
// exactly. It returns the index of the first part the schema does not have
// and the message for it, or -1. With indexed, key holds array indices
// after the parts that are arrays.
func walkSchema(root reflect.Type, key []string, indexed bool) (int, string) {
	n := schemaOf(root)
	for i, part := range key {
		for !indexed && n.kind == reflect.Slice {
			n = n.elem
		}
		switch n.kind {
		case reflect.Slice, reflect.Map:
			n = n.elem // part is an index or a map key
		case reflect.Struct:
			f, ok := n.fields[part]
			if !ok {
				return i, unknownAt(tableOf(key[:i], root, indexed), part, n.names)
			}
			n = f
		case reflect.Interface:
			return -1, "" // a value of more than one shape, checked where it is used
		default:
			return i, unknownAt(tableOf(key[:i], root, indexed), part, nil)
		}
	}
	return -1, ""
}

// tableOf returns the parts of key that name tables, leaving out array
// indices, for messages.
func tableOf(key []string, root reflect.Type, indexed bool) []string {
	n := schemaOf(root)
	out := make([]string, 0, len(key))
	for _, part := range key {
		for !indexed && n.kind == reflect.Slice {
			n = n.elem
		}
		switch n.kind {
		case reflect.Slice:
			n = n.elem
			continue
		case reflect.Map:
			n = n.elem
		case reflect.Struct:
			n = n.fields[part]
		}
		out = append(out, part)
		if n == nil {
			break
		}
	}
	return out
}

// unknownAt words the message for an unknown key part under table.
func unknownAt(table []string, part string, known []string) string {
	where := ""
	if len(table) > 0 {
		where = fmt.Sprintf(" in [%s]", strings.Join(table, "."))
	}
	if s := nearest(part, known); s != "" {
		return fmt.Sprintf("unknown key `%s`%s — did you mean `%s`?", part, where, s)
	}
	if len(known) > 0 {
		return fmt.Sprintf("unknown key `%s`%s; known keys: %s", part, where, strings.Join(known, ", "))
	}
	return fmt.Sprintf("unknown key `%s`%s: this value takes no keys", part, where)
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// nearest returns the candidate closest to s: one equal but for case, or
// else one within a small edit distance. It returns "" when none is close.
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // not a typo of a key
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
