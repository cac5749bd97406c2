// Package safetext makes text that came from outside silo (registries,
// image configs, file names in layers, hosts a sandbox asked for) safe to
// print on a terminal: a registry or an image must not be able to set the
// window title, clear the screen, move the cursor or start a line that
// looks like one of silo's own.
//
// Escape replaces every control character (C0, DEL and the C1 range, which
// some terminals obey as 8-bit escape sequences), every invalid UTF-8 byte
// and the Unicode line and paragraph separators and bidirectional
// overrides with a visible escape (\x1b, \n, \u202e), the way Go's %q
// does, and leaves everything else as it is. Its output is always one line.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with control characters escaped (see the package doc).
func Escape(s string) string {
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Lines is Escape for text of several lines: each line is escaped and the
// newlines between them are kept. Use it only where the caller starts
// every line itself (so a line cannot pass for one of silo's).
func Lines(s string) string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = Escape(p)
	}
	return strings.Join(parts, "\n")
}

// JSON escapes, in JSON text as encoding/json writes it, what that leaves
// raw: DEL, C1 controls and the bidirectional marks become \u escapes.
// Such runes can only occur inside JSON strings, where the escape means
// the same rune, so the document decodes to the same values.
func JSON(b []byte) []byte {
	if isSafe(string(b)) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0x7f || unsafeRune(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// isSafe reports whether s needs no escaping: the common case, checked
// without allocating.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || unsafeRune(r) || r == utf8.RuneError })
		}
	}
	return true
}

// unsafeRune reports the runes beyond ASCII's controls that a terminal acts
// on or that reorder what is shown: C1 controls, the line and paragraph
// separators, and the bidirectional marks, embeddings, overrides and
// isolates.
func unsafeRune(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 ||
		r >= 0x200e && r <= 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}
