package lsp

import (
	"bytes"
	"encoding/hex"
	"unicode/utf8"
)

// EncodePath spells path as the path of a file URI: every byte but the
// unreserved characters of RFC 3986 and '/' percent-escaped, as VS Code
// and most language clients write them.
func EncodePath(path string) string {
	const hexdig = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(path); i++ {
		c := path[i]
		if unreserved(c) || c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdig[c>>4], hexdig[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// matchEncoded returns how many bytes of rest (a file URI past "file://")
// spell the path root, percent-escaped or not, or -1. The URI's authority
// must be empty. The root must end there: at the end of rest, or at '/',
// '?' or '#'; with whole false (a URI inside text) also at a character
// that ends a link in prose.
func matchEncoded(rest []byte, root string, whole bool) int {
	if root == "/" {
		return -1
	}
	i := 0
	for j := 0; j < len(root); j++ {
		if i >= len(rest) {
			return -1
		}
		c := rest[i]
		if c == '%' && i+2 < len(rest) && isHex(rest[i+1]) && isHex(rest[i+2]) {
			var d [1]byte
			hex.Decode(d[:], rest[i+1:i+3])
			c, i = d[0], i+3
		} else {
			i++
		}
		if c != root[j] {
			return -1
		}
	}
	if i == len(rest) {
		return i
	}
	switch rest[i] {
	case '/', '?', '#':
		return i
	}
	if !whole && endsLink(rest[i:]) {
		return i
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// endsLink reports whether the text at s ends a URI written in prose or
// markdown: whitespace, a closing bracket or a quote.
func endsLink(s []byte) bool {
	r, _ := utf8.DecodeRune(s)
	switch r {
	case ' ', '\t', '\n', '\r', ')', ']', '>', '"', '\'', '`':
		return true
	}
	return false
}

// appendEscaped appends s as the contents of a JSON string: quotes,
// backslashes and control characters escaped, everything else (non-ASCII
// included) as it is.
func appendEscaped(dst, s []byte) []byte {
	const hexdig = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// percentDecode decodes the percent-escapes of s; a malformed one stays.
func percentDecode(s []byte) []byte {
	if bytes.IndexByte(s, '%') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			var d [1]byte
			hex.Decode(d[:], s[i+1:i+3])
			out = append(out, d[0])
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}
