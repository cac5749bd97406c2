package tests

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// skipHostPackages are dependencies a copied package never needs at run
// time in a test image (the package manager itself).
var skipHostPackages = map[string]bool{"dpkg": true, "tar": true, "debconf": true, "perl-base": true}

// hostPackages returns the host's installed Debian packages roots and
// everything they depend on (Depends and Pre-Depends, the first installed
// alternative), sorted. It skips the test when a root is not installed,
// naming the package to install.
func hostPackages(t testing.TB, roots ...string) []string {
	t.Helper()
	installed := func(p string) bool {
		out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", p).Output()
		return err == nil && strings.HasPrefix(string(out), "ii")
	}
	for _, r := range roots {
		if !installed(r) {
			t.Skipf("Debian package %s is not installed: apt-get install %s (scripts/deps.sh does)", r, r)
		}
	}
	version := regexp.MustCompile(`\(.*?\)`)
	seen := map[string]bool{}
	todo := append([]string(nil), roots...)
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[p] || skipHostPackages[p] {
			continue
		}
		seen[p] = true
		out, err := exec.Command("dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", p).Output()
		if err != nil {
			t.Fatalf("dpkg-query %s: %v", p, err)
		}
		for _, dep := range strings.Split(string(out), ",") {
			for _, alt := range strings.Split(dep, "|") {
				name, _, _ := strings.Cut(strings.TrimSpace(version.ReplaceAllString(alt, "")), ":")
				if name != "" && installed(name) {
					todo = append(todo, name)
					break
				}
			}
		}
	}
	var pkgs []string
	for p := range seen {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs
}

// hostPackageEntries returns the files of the host's packages pkgs as
// layer entries at the paths dpkg lists them under (documentation left
// out), with each Python source's compiled __pycache__ file beside it
// and the host's modification times, so that the interpreter uses them.
// A listed path that is a symlink to a directory (merged /usr) becomes a
// directory.
func hostPackageEntries(t testing.TB, pkgs []string) []tarEntry {
	t.Helper()
	out, err := exec.Command("dpkg", append([]string{"-L"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("dpkg -L: %v", err)
	}
	seen := map[string]bool{}
	var entries []tarEntry
	var add func(p string)
	add = func(p string) {
		if seen[p] || p == "/" || p == "." {
			return
		}
		seen[p] = true
		add(filepath.Dir(p))
		fi, err := os.Lstat(p)
		if err != nil {
			return
		}
		name := strings.TrimPrefix(p, "/")
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				entries = append(entries, tarEntry{Name: name + "/", Type: tar.TypeDir})
				return
			}
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, tarEntry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target})
		case fi.IsDir():
			entries = append(entries, tarEntry{Name: name + "/", Type: tar.TypeDir, Mode: int64(fi.Mode().Perm())})
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, tarEntry{Name: name, Mode: int64(fi.Mode().Perm()), Body: b, ModTime: fi.ModTime()})
			if strings.HasSuffix(p, ".py") {
				stem := strings.TrimSuffix(filepath.Base(p), ".py")
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "__pycache__", stem+".cpython-*.pyc"))
				for _, m := range matches {
					add(m)
				}
			}
		}
	}
	for _, p := range strings.Split(string(out), "\n") {
		if p == "" || p == "/." || strings.HasPrefix(p, "/usr/share/doc") || strings.HasPrefix(p, "/usr/share/man") || strings.HasPrefix(p, "/usr/share/locale") {
			continue
		}
		add(p)
	}
	return entries
}
