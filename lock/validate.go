package lock

import (
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/silo-dev/silo/vm/netproxy"
)

// The checks in this file take one value as written and return it cleaned
// and resolved, or a message saying what is wrong with it. The caller adds
// the file, line and column.

// The patterns are compiled on first use, not at package init: every silo
// command links this package, and most never check a tag or a size
// (tagRE's {0,127} alone compiles to a program of some 2,000 allocations).
var (
	tagRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
	sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{1,12})\s*([KMGT]i?B?|B)?$`) })
)

// Local image sources: the reference names a directory or file on the host.
const (
	srcOCILayout     = "oci-layout:"
	srcDockerArchive = "docker-archive:"
	srcOCIArchive    = "oci-archive:"
)

// checkImage validates an image reference and resolves the path of a local
// source against dir (the directory of the file naming it).
func checkImage(ref, dir, userHome string) (string, string) {
	for _, prefix := range []string{srcOCILayout, srcDockerArchive, srcOCIArchive} {
		if rest, ok := strings.CutPrefix(ref, prefix); ok {
			return checkLocalImage(prefix, rest, dir, userHome)
		}
	}
	if ref == "" {
		return "", "the image reference is empty: write one such as `python:3.12-slim`"
	}
	if _, err := name.ParseReference(ref); err != nil {
		return "", fmt.Sprintf("image %q is not a valid reference (%v): write one such as `python:3.12-slim`, `ghcr.io/org/img@sha256:…` or `oci-layout:DIR[:TAG]`", ref, err)
	}
	return ref, ""
}

// checkLocalImage resolves oci-layout:DIR[:TAG], docker-archive:FILE and
// oci-archive:FILE.
func checkLocalImage(prefix, rest, dir, userHome string) (string, string) {
	path, tag := rest, ""
	if prefix == srcOCILayout {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.ContainsRune(rest[i:], '/') {
			path, tag = rest[:i], rest[i+1:]
			if !tagRE().MatchString(tag) {
				return "", fmt.Sprintf("image %q: %q is not a valid tag", prefix+rest, tag)
			}
		}
	}
	if path == "" {
		return "", fmt.Sprintf("image %q names no path: write `%sPATH`", prefix+rest, prefix)
	}
	abs, msg := expandPath(path, dir, userHome)
	if msg != "" {
		return "", fmt.Sprintf("image %q: %s", prefix+rest, msg)
	}
	if tag != "" {
		return prefix + abs + ":" + tag, ""
	}
	return prefix + abs, ""
}

// expandPath expands a leading ~/ and makes path absolute against dir.
func expandPath(path, dir, userHome string) (string, string) {
	if strings.ContainsRune(path, 0) {
		return "", "a path cannot contain a NUL byte"
	}
	if path == "~" || strings.HasPrefix(path, "~/") {
		if userHome == "" {
			return "", "`~` cannot be expanded: $HOME is not set"
		}
		return filepath.Join(userHome, path[1:]), ""
	}
	if filepath.IsAbs(path) {
		return filepath.Clean(path), ""
	}
	if dir == "" {
		return "", fmt.Sprintf("%q is relative, and built-in values must be absolute", path)
	}
	return filepath.Join(dir, path), ""
}

// checkGuestPath validates an absolute path inside the sandbox.
func checkGuestPath(p string) (string, string) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Sprintf("%q must be an absolute path inside the sandbox, such as /workspace", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", "a path cannot contain a NUL byte"
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Sprintf("%q must not contain `..`", p)
		}
	}
	return filepath.Clean(p), ""
}

// checkRelative validates a path that must stay inside base: relative, and
// not climbing out with `..`. It returns the cleaned relative path.
func checkRelative(p, what string) (string, string) {
	switch {
	case p == "" || strings.ContainsRune(p, 0):
		return "", fmt.Sprintf("%s %q is not a usable path", what, p)
	case filepath.IsAbs(p) || p == "~" || strings.HasPrefix(p, "~/"):
		return "", fmt.Sprintf("%s %q must be a relative path, not an absolute one", what, p)
	}
	c := filepath.Clean(p)
	if c == "." {
		return "", fmt.Sprintf("%s %q names the whole directory: name something inside it", what, p)
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Sprintf("%s %q escapes the directory it is relative to", what, p)
	}
	return c, ""
}

// checkPassFile resolves one passFiles entry. In a project's own silo.toml
// (untrusted: it comes with the code) it must name a file inside the project,
// also after following symlinks; in the user-wide silo.toml it may also be
// absolute or start with ~/.
func checkPassFile(p string, project bool, root, userHome string) (string, string) {
	if !project && (filepath.IsAbs(p) || p == "~" || strings.HasPrefix(p, "~/")) {
		return expandPath(p, root, userHome)
	}
	rel, msg := checkRelative(p, "passFiles entry")
	if msg != "" {
		if project && (filepath.IsAbs(p) || strings.HasPrefix(p, "~")) {
			msg += ": a project's silo.toml can only pass files from inside the project; put host files such as `~/.gitconfig` in the user-wide $SILO_HOME/silo.toml"
		}
		return "", msg
	}
	abs := filepath.Join(root, rel)
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		realRoot, err := filepath.EvalSymlinks(root)
		if err == nil && !fsutil.Within(real, realRoot) {
			return "", fmt.Sprintf("passFiles entry %q is a symlink to %s, outside the project: silo will not pass it", p, real)
		}
	}
	return abs, ""
}

// checkEnvName validates an environment variable name.
func checkEnvName(n string) string {
	if !isName(n, 256, alnum+"_", alnum[10:]+"_") {
		return fmt.Sprintf("%q is not a valid environment variable name (letters, digits and _, not starting with a digit)", n)
	}
	return ""
}

// checkEnvValue validates an environment variable value.
func checkEnvValue(k, v string) string {
	if strings.ContainsRune(v, 0) {
		return fmt.Sprintf("the value of %s contains a NUL byte, which no environment can hold", k)
	}
	return ""
}

// checkDomain validates a proxy pattern with the proxy's own parser
// (netproxy.ParsePattern), so that a pattern silo.toml accepts is one the
// proxy reads the same way, and one it refuses is refused here, with the
// file, line and column, before anything runs.
func checkDomain(d string) string {
	_, err := netproxy.ParsePattern(d)
	switch {
	case err == nil:
		return ""
	case strings.Contains(err.Error(), "write "):
		return err.Error()
	}
	return err.Error() + "; write one such as `pypi.org`, `*.npmjs.org`, `pypi.org:8443` or `[2001:db8::1]`"
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// isName reports whether s is 1 to max bytes from chars, starting with one
// from first.
func isName(s string, max int, chars, first string) bool {
	if s == "" || len(s) > max || !strings.ContainsRune(first, rune(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune(chars, rune(s[i])) {
			return false
		}
	}
	return true
}

// checkShim parses "name" or "host:guest".
func checkShim(s string) (Shim, string) {
	host, guest, mapped := strings.Cut(s, ":")
	if !mapped {
		guest = host
	}
	if !isName(host, 128, alnum+"._+-", alnum+"_") || !isName(guest, 128, alnum+"._+-", alnum+"_") {
		return Shim{}, fmt.Sprintf("shim %q must be a command name, or `host:guest` to run guest for host (letters, digits, ., _, +, -)", s)
	}
	return Shim{Name: host, Command: guest}, ""
}

// checkRange validates an integer setting.
func checkRange(key string, n, lo, hi int) string {
	if n < lo || n > hi {
		return fmt.Sprintf("`%s` = %d is out of range: use %d to %d", key, n, lo, hi)
	}
	return ""
}

// parseSize reads a size such as "512MiB", "2G" or "1024" (MiB). Units are
// binary whether or not the i is written.
func parseSize(s string) (int64, string) {
	m := sizeRE().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Sprintf("size %q is not a size: write one such as \"512MiB\" or \"2GiB\"", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[byte]uint{'B': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40}
	unit := byte('M')
	if m[2] != "" {
		unit = m[2][0]
	}
	if n > (1<<62)>>shift[unit] {
		return 0, fmt.Sprintf("size %q is too large", s)
	}
	return n << shift[unit], ""
}

// commandList reads a list of shell commands written as one string or an
// array of strings (postInstall = ["npm ci", "npm run build"]).
func commandList(v any) ([]string, string) {
	const want = "`postInstall` must be a command, or an array of commands such as [\"npm ci\", \"npm run build\"]"
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return []string{}, ""
		}
		return []string{x}, ""
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("%s; entry %d is %s", want, i+1, tomlValueKind(e))
			}
			if strings.TrimSpace(s) == "" {
				return nil, fmt.Sprintf("`postInstall` entry %d is empty: remove it", i+1)
			}
			out = append(out, s)
		}
		return out, ""
	}
	return nil, fmt.Sprintf("%s, not %s", want, tomlValueKind(v))
}

// tomlValueKind names the kind of a decoded TOML value, for messages.
func tomlValueKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}
