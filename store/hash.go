package store

import (
	"encoding/hex"
	"fmt"
	"strings"

	"lukechampine.com/blake3"
)

// Hash is a blake3-256 digest.
type Hash [32]byte

// hashPrefix is the algorithm prefix of a Hash's text form.
const hashPrefix = "blake3:"

// String returns "blake3:<64 hex digits>".
func (h Hash) String() string { return hashPrefix + hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero hash (no hash at all).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as its String form, or as "" when zero.
func (h Hash) MarshalText() ([]byte, error) {
	if h.IsZero() {
		return []byte{}, nil
	}
	return []byte(h.String()), nil
}

// UnmarshalText parses the String form; "" is the zero hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = Hash{}
		return nil
	}
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses "blake3:<64 hex digits>" (the prefix may be left out).
func ParseHash(s string) (Hash, error) {
	var h Hash
	hx := strings.TrimPrefix(s, hashPrefix)
	if len(hx) != 2*len(h) {
		return h, fmt.Errorf("parse hash %q: want %s followed by 64 hex digits", s, hashPrefix)
	}
	if _, err := hex.Decode(h[:], []byte(hx)); err != nil {
		return h, fmt.Errorf("parse hash %q: %w", s, err)
	}
	return h, nil
}

// HashBytes returns the blake3-256 digest of b.
func HashBytes(b []byte) Hash { return blake3.Sum256(b) }

// newHasher returns a blake3-256 hasher.
func newHasher() *blake3.Hasher { return blake3.New(32, nil) }

// sumOf returns the hasher's digest as a Hash.
func sumOf(h *blake3.Hasher) Hash {
	var out Hash
	h.Sum(out[:0])
	return out
}

// nix32Alphabet is Nix's base32 alphabet (no e, o, u, t).
const nix32Alphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// pathHashLen is the number of nix32 characters of a store path's hash part.
const pathHashLen = 32

// nix32 encodes b the way Nix does: least significant 5 bits of the last
// byte first.
func nix32(b []byte) string {
	n := (len(b)*8 + 4) / 5
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		j, k := bit/8, uint(bit%8)
		c := b[j] >> k
		if j+1 < len(b) && k > 3 {
			c |= b[j+1] << (8 - k)
		}
		out[n-1-i] = nix32Alphabet[c&0x1f]
	}
	return string(out)
}

// PathHash returns the 32-character hash part of a store path addressed by
// h: the Nix base32 form of h's first 20 bytes (160 bits).
func PathHash(h Hash) string { return nix32(h[:20]) }
