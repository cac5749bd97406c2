package lock

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ShortHashLen is how many hex digits of a file's SHA-256 silo prints and
// `silo config trust --expect` needs: 128 bits, so that a hostile project
// cannot make two files (one harmless to show, one to swap in) that share
// them (a birthday search over 128 bits is out of reach).
const ShortHashLen = 32

// Review is a project's silo.toml as read once: the exact bytes, their
// hash and what they grant. Trusting a Review records the hash of those
// bytes, not of whatever the file holds by then, so that a file swapped
// between the user's reading and trusting stays untrusted.
type Review struct {
	Path   string  // the silo.toml, absolute
	Hash   string  // hex SHA-256 of the bytes read
	Grants []Grant // what they grant beyond the defaults, in file order
	data   []byte
}

func newReview(in *input, grants []Grant) *Review {
	return &Review{Path: in.path, Hash: contentID(in.data), Grants: grants, data: in.data}
}

// ShortHash is the hash as silo prints it.
func (r *Review) ShortHash() string { return r.Hash[:ShortHashLen] }

// Matches reports whether hash, as the user typed it after --expect (the
// short hash or the whole one, any case), names the bytes of r. A hash
// that is not one is an error.
func (r *Review) Matches(hash string) (bool, error) {
	h := strings.ToLower(strings.TrimSpace(hash))
	if len(h) < ShortHashLen || len(h) > len(r.Hash) || strings.Trim(h, "0123456789abcdef") != "" {
		return false, fmt.Errorf("--expect %q is not a content hash: give the %d hex digits silo printed for the file", printable(hash), ShortHashLen)
	}
	return strings.HasPrefix(r.Hash, h), nil
}

// Trust records the bytes of r as trusted for its path: Load obeys the
// file while it holds exactly these bytes.
func (r *Review) Trust(home string) error { return record(home, r.Path, r.Hash) }

// Describe lists the grants, one indented line each with its line in
// the file, or says there are none.
func (r *Review) Describe() string {
	if len(r.Grants) == 0 {
		return "  nothing beyond the defaults\n"
	}
	var b strings.Builder
	for _, g := range r.Grants {
		fmt.Fprintf(&b, "  %s  (line %d)\n", g, g.Source.Line)
	}
	return b.String()
}

// TrustCommand is the command that trusts exactly these bytes.
func (r *Review) TrustCommand() string {
	return "silo config trust " + shellQuote(r.Path) + " --expect " + r.ShortHash()
}

// ReviewFile reads the project file at path once and reviews it as Load
// would take it, as the project's silo.toml, with the user's config.toml
// and silo.toml below it (a grant is what none of those already give). A
// file with a mistake is an error, as for Load.
func ReviewFile(opts Options, path string) (*Review, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	opts.Dir = filepath.Dir(abs)
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	in, err := readInputs(o)
	if err != nil {
		return nil, err
	}
	if in.project, err = readConfig(abs); err != nil {
		return nil, err
	}
	if in.project == nil {
		return nil, fmt.Errorf("read %s: there is no such file", abs)
	}
	c, err := build(o, in)
	if err != nil {
		return nil, err
	}
	return newReview(in.project, c.grants(abs)), nil
}

// UntrustedError is Load's error for a project file that needs the
// user's trust and does not have it: one that grants more than the
// defaults, or a nested one a sandbox could have written. Its Review
// holds the bytes Load refused; trusting them (Review.Trust) and loading
// again obeys the file if it has not changed in between.
type UntrustedError struct {
	*Review
	// Outer is, for a nested file, the workspace or project it lies in;
	// "" for a project's top-level file.
	Outer string
	// Changed is set when the file was trusted once and has changed
	// since.
	Changed bool
}

// Why is the first sentence of the refusal: what the file is and why it
// needs trust.
func (e *UntrustedError) Why() string {
	state := "has not been trusted"
	if e.Changed {
		state = "has changed since it was trusted"
	}
	if e.Outer != "" {
		return fmt.Sprintf("%s lies inside %s, a directory sandboxes can write to, and %s: a sandboxed tool could have written it to widen its next run.",
			printable(e.Path), printable(e.Outer), state)
	}
	return fmt.Sprintf("%s %s, and it grants the sandbox more than the defaults: a project's silo.toml comes with its code, so silo asks before it hands over anything of yours.",
		printable(e.Path), state)
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s\nIt asks for (sha256 %s):\n%sRead it; if these are yours, trust exactly this content with:\n  %s",
		e.Why(), e.ShortHash(), e.Describe(), e.TrustCommand())
}

// IsUntrusted reports whether err is, or wraps, an *UntrustedError, and
// returns it.
func IsUntrusted(err error) (*UntrustedError, bool) {
	var ue *UntrustedError
	ok := errors.As(err, &ue)
	return ue, ok
}

// shellQuote quotes p for a POSIX shell when it needs it.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, alnum+"/._-+@%,:=") == "" {
		return p
	}
	return printable("'" + strings.ReplaceAll(p, "'", `'\''`) + "'")
}
