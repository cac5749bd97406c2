package lock

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The functions in this file edit config.toml as text, for the commands
// that write it at the user's command (silo install, uninstall, shim add
// and remove): a [tool.NAME] table and its sub-tables form one block,
// from its header to the next header of another table, so that the rest
// of the file, comments included, stays as the user wrote it.

// ToolBlock returns the [tool.NAME] block of a config.toml (its header,
// keys and sub-tables such as [[tool.NAME.cache]]), or nil. NAME may be
// written as any of the tool's names (claude-code for claude).
func ToolBlock(data []byte, name string) []byte {
	start, end, ok := toolBlock(data, name)
	if !ok {
		return nil
	}
	return data[start:end]
}

// CatalogBlock returns the [tool.NAME] block of silo's built-in catalog
// (defaults.toml), or nil when the catalog has no such tool.
func CatalogBlock(name string) []byte { return ToolBlock(defaultsTOML, name) }

// SetToolBlock returns data with the [tool.NAME] block replaced by block,
// or block appended when there was none.
func SetToolBlock(data []byte, name string, block []byte) []byte {
	block = append(bytes.TrimRight(block, "\n"), '\n')
	start, end, ok := toolBlock(data, name)
	if !ok {
		out := bytes.TrimRight(data, "\n")
		if len(out) > 0 {
			out = append(out, "\n\n"...)
		}
		return append(out, block...)
	}
	out := append(append([]byte{}, data[:start]...), block...)
	if end < len(data) {
		out = append(append(out, '\n'), bytes.TrimLeft(data[end:], "\n")...)
	}
	return out
}

// RemoveToolBlock returns data without the [tool.NAME] block.
func RemoveToolBlock(data []byte, name string) []byte {
	start, end, ok := toolBlock(data, name)
	if !ok {
		return data
	}
	out := append([]byte{}, bytes.TrimRight(data[:start], "\n")...)
	rest := bytes.TrimLeft(data[end:], "\n")
	if len(out) > 0 && len(rest) > 0 {
		out = append(out, "\n\n"...)
	} else if len(out) > 0 {
		out = append(out, '\n')
	}
	return append(out, rest...)
}

// SetBlockKey returns block with the top-level key set to the TOML value
// value (already encoded, such as `"python:3.11-slim"` or `["a", "b"]`):
// its line (a multi-line array included) replaced, or a line added after
// the header.
func SetBlockKey(block []byte, key, value string) []byte {
	lines := strings.SplitAfter(string(block), "\n")
	line := key + " = " + value + "\n"
	for i := 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if strings.HasPrefix(t, "[") {
			break
		}
		k, _, ok := strings.Cut(t, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		j := i
		if rest := strings.TrimSpace(t[strings.Index(t, "=")+1:]); strings.HasPrefix(rest, "[") {
			for depth := bracketDepth(rest); depth > 0 && j+1 < len(lines); {
				j++
				depth += bracketDepth(lines[j])
			}
		}
		out := append(append(append([]string{}, lines[:i]...), line), lines[j+1:]...)
		return []byte(strings.Join(out, ""))
	}
	out := append(append([]string{lines[0]}, line), lines[1:]...)
	return []byte(strings.Join(out, ""))
}

// bracketDepth counts [ minus ] outside strings on one line.
func bracketDepth(s string) int {
	d, inStr := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr != 0:
			if c == '\\' && inStr == '"' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '#':
			return d
		case c == '[':
			d++
		case c == ']':
			d--
		}
	}
	return d
}

// TOMLStrings encodes a list of strings as a TOML array.
func TOMLStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = TOMLString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TOMLString is s as a TOML basic string: quoted, with backslash, quote
// and every control character escaped (Go's own quoting writes \x
// escapes, which TOML does not have).
func TOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toolBlock finds the byte range of the [tool.NAME] block.
func toolBlock(data []byte, name string) (start, end int, ok bool) {
	name = CanonicalTool(name)
	off, in := 0, false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if path, isHeader := headerPath(line); isHeader {
			mine := len(path) >= 2 && path[0] == "tool" && CanonicalTool(path[1]) == name
			switch {
			case mine && !in && !ok:
				start, in, ok = off, true, true
			case !mine && in:
				return start, off, true
			}
		}
		off += len(line)
	}
	return start, len(data), ok
}

// headerPath is the key path of a table header line ([a.b] or [[a.b]]).
func headerPath(line string) ([]string, bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "[") {
		return nil, false
	}
	t = strings.TrimLeft(t, "[")
	i := strings.Index(t, "]")
	if i < 0 {
		return nil, false
	}
	var path []string
	for _, p := range strings.Split(t[:i], ".") {
		p = strings.TrimSpace(p)
		if uq, err := strconv.Unquote(p); err == nil {
			p = uq
		} else {
			p = strings.Trim(p, "'")
		}
		path = append(path, p)
	}
	return path, true
}

// ToolNameError says why name cannot name a tool, or is nil.
func ToolNameError(name string) error {
	if !isName(name, 64, alnum[:10]+alnum[36:]+"._-", alnum[:10]+alnum[36:]) {
		return fmt.Errorf("tool name %q must be lower-case letters, digits, ., _ or -, starting with a letter or digit", name)
	}
	return nil
}
