package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxNameLen bounds the human part of a store name, as Nix does.
const maxNameLen = 200

// ErrBadName is wrapped by the errors returned for refused names.
var ErrBadName = errors.New("invalid name")

// checkName refuses a human-readable name that could escape the store,
// hide an entry, or confuse a terminal: empty, too long, starting with a
// dot, or containing "/", "..", NUL, control characters or invalid UTF-8.
func checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrBadName, name, why)
	}
	switch {
	case name == "":
		return bad("it is empty; give the entry a name")
	case len(name) > maxNameLen:
		return bad(fmt.Sprintf("longer than %d bytes", maxNameLen))
	case strings.HasPrefix(name, "."):
		return bad("it starts with a dot")
	case strings.Contains(name, "/"):
		return bad(`it contains "/"`)
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return bad("it contains a control character")
		}
	}
	return nil
}

// storeName returns "<path hash>-<name>".
func storeName(h Hash, name string) string { return PathHash(h) + "-" + name }

// checkStoreName refuses anything that is not "<32 nix32 chars>-<valid name>".
func checkStoreName(s string) error {
	if len(s) < pathHashLen+2 || s[pathHashLen] != '-' {
		return fmt.Errorf("%w %q: a store name looks like <32 hash characters>-<name>", ErrBadName, s)
	}
	for i := 0; i < pathHashLen; i++ {
		if !strings.ContainsRune(nix32Alphabet, rune(s[i])) {
			return fmt.Errorf("%w %q: the hash part is not Nix base32", ErrBadName, s)
		}
	}
	return checkName(s[pathHashLen+1:])
}

// entryName turns a store name or a path inside the store into the entry's
// store name.
func (s *Store) entryName(nameOrPath string) (string, error) {
	n := nameOrPath
	if strings.ContainsRune(n, '/') {
		p, err := filepath.Abs(n)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", n, err)
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("%w: %s is not inside the store %s", ErrBadName, nameOrPath, s.dir)
		}
		n, _, _ = strings.Cut(rel, string(filepath.Separator))
	}
	if err := checkStoreName(n); err != nil {
		return "", err
	}
	return n, nil
}
