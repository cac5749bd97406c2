//go:build linux

package agent

import (
	"errors"
	"github.com/silo-dev/silo/sandbox"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountTestFilter serves ws through the workspace filter at a new
// directory, with the default protected names, and returns it. It skips
// unless the test may mount FUSE (root with /dev/fuse).
func mountTestFilter(t testing.TB, ws string, exclude []string, readOnly bool) string {
	t.Helper()
	return mountFilterFor(t, ws, filterOptions{exclude: exclude, readOnly: readOnly})
}

// mountFilterFor is mountTestFilter with all the options.
func mountFilterFor(t testing.TB, ws string, o filterOptions) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting FUSE needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	mnt, scratch := t.TempDir(), t.TempDir()
	o.protected = sandbox.DefaultProtected()
	f, err := mountFilter(ws, scratch, mnt, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.unmount(mnt) })
	return mnt
}

// gitIn runs git in dir with a fixed identity and no user or system
// configuration, and returns its combined output.
func gitIn(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustGit is gitIn that fails the test on error.
func mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitIn(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// gitProject makes a repository with one commit and the user's own
// .envrc and nested repository.
func gitProject(t testing.TB) string {
	t.Helper()
	ws := t.TempDir()
	mustGit(t, ws, "init", "-q", "-b", "main")
	for p, data := range map[string]string{"README": "hello\n", ".envrc": "export A=1\n", "lib/.git": "gitdir: ../.git/modules/lib\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(ws, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustGit(t, ws, "add", "README", ".envrc")
	mustGit(t, ws, "commit", "-q", "-m", "first")
	return ws
}

// refused asserts that err is the filter's refusal.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.EROFS) {
		t.Errorf("%s: %v, want it refused", what, err)
	}
}

func TestFilterRefusesProtectedNamesAtAnyDepth(t *testing.T) {
	ws := gitProject(t)
	mnt := mountTestFilter(t, ws, nil, false)
	in := func(p string) string { return filepath.Join(mnt, p) }
	if err := os.MkdirAll(in("src/deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"src/.git/config", "src/deep/.git", "src/.envrc", ".gitmodules", "silo.toml", "src/silo.lock",
		"src/.vscode/tasks.json", "src/.devcontainer/devcontainer.json", "src/.claude/settings.json", "src/.mcp.json",
		".git/config", ".git/config.worktree", ".git/hooks/pre-commit", ".git/commondir", ".git/worktrees/x/config",
		".git/modules/lib/config", ".git/info/attributes", "src/.husky/pre-commit", "src/lefthook-local.yml",
		"src/.pre-commit-config.yaml", "src/mise.toml", "src/.bashrc", "src/HEAD", "src/.config/fish/config.fish"} {
		err := os.MkdirAll(filepath.Dir(in(p)), 0o755)
		if err == nil {
			err = os.WriteFile(in(p), []byte("[core]\n\tfsmonitor = touch /tmp/pwned\n"), 0o644)
		}
		refused(t, "create "+p, err)
	}
	refused(t, "mkdir src/.git", os.Mkdir(in("src/.git"), 0o755))
	refused(t, "symlink src/.git", os.Symlink("../.git", in("src/.git")))
	refused(t, "write .envrc", os.WriteFile(in(".envrc"), []byte("evil\n"), 0o644))
	refused(t, "write lib/.git", os.WriteFile(in("lib/.git"), []byte("gitdir: /tmp/evil\n"), 0o644))
	refused(t, "chmod .envrc", os.Chmod(in(".envrc"), 0o777))
	refused(t, "truncate .git/config", os.Truncate(in(".git/config"), 0))
	refused(t, "remove .envrc", os.Remove(in(".envrc")))
	refused(t, "rename .envrc away", os.Rename(in(".envrc"), in("envrc.old")))
	refused(t, "rename .git away", os.Rename(in(".git"), in("git.old")))
	refused(t, "link .git/config", os.Link(in(".git/config"), in("config-link")))
	refused(t, "setxattr .envrc", unix.Setxattr(in(".envrc"), "user.x", []byte("1"), 0))
	if err := os.WriteFile(in("src/cfg"), []byte("[core]\n\thooksPath = /tmp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, "rename onto .git/config", os.Rename(in("src/cfg"), in(".git/config")))
	refused(t, "rename to src/.git", os.Rename(in("src/cfg"), in("src/.git")))
	if err := os.MkdirAll(in("prep/fish"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("prep/fish/config.fish"), []byte("evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// unix.Rename: os.Rename refuses an existing directory itself.
	refused(t, "rename a prepared directory to .config", unix.Rename(in("prep"), in("src/deep/.config")))
	if err := os.Mkdir(in("hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	refused(t, "rename a directory to .git/hooks", unix.Rename(in("hooks"), in(".git/hooks")))
	for _, p := range []string{"src/.git", "src/.envrc", ".git/hooks/pre-commit", ".git/commondir", "src/deep/.config", "src/HEAD", "src/.config/fish"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err == nil {
			t.Errorf("%s appeared in the workspace", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ws, ".envrc")); string(b) != "export A=1\n" {
		t.Errorf(".envrc is now %q", b)
	}
}

func TestFilterLetsGitWork(t *testing.T) {
	ws := gitProject(t)
	mnt := mountTestFilter(t, ws, nil, false)
	if err := os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, mnt, "add", "new.txt")
	mustGit(t, mnt, "commit", "-q", "-m", "inside")
	if err := os.WriteFile(filepath.Join(mnt, "README"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, mnt, "stash")
	mustGit(t, mnt, "checkout", "-q", "-b", "topic")
	mustGit(t, mnt, "stash", "pop")
	mustGit(t, mnt, "commit", "-q", "-am", "topic")
	mustGit(t, mnt, "checkout", "-q", "main")
	if in, host := mustGit(t, mnt, "status", "--porcelain"), mustGit(t, ws, "status", "--porcelain"); in != host {
		t.Errorf("git status inside: %q; on the host: %q", in, host)
	}
	if log := mustGit(t, ws, "log", "--format=%s", "topic"); log != "topic\ninside\nfirst\n" {
		t.Errorf("git log on the host: %q", log)
	}
	if _, err := gitIn(t, mnt, "config", "core.fsmonitor", "touch /tmp/x"); err == nil {
		t.Error("git config wrote .git/config through the filter")
	}
}

func TestFilterStripsSetuid(t *testing.T) {
	ws := t.TempDir()
	mnt := mountTestFilter(t, ws, nil, false)
	p := filepath.Join(mnt, "e")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o755|os.ModeSetuid)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// os.Chmod maps ModeSetuid to S_ISUID; chmod(2) with 06755.
	if err := unix.Chmod(p, 0o6755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdir(filepath.Join(mnt, "d"), 0o2755); err != nil {
		t.Fatal(err)
	}
	g, err := os.OpenFile(filepath.Join(mnt, "g"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fchmod(int(g.Fd()), 0o4755); err != nil {
		t.Fatal(err)
	}
	g.Close()
	for _, name := range []string{"e", "d", "g"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(ws, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			t.Errorf("%s has mode %o in the workspace", name, st.Mode&0o7777)
		}
	}
	if err := unix.Setxattr(filepath.Join(mnt, "e"), "security.capability", []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("set security.capability: %v, want EPERM", err)
	}
}

func TestFilterExcludes(t *testing.T) {
	ws := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ws, "node_modules/host"), 0o755); err != nil {
		t.Fatal(err)
	}
	mnt := mountTestFilter(t, ws, []string{"node_modules", "web/node_modules"}, false)
	in := func(p string) string { return filepath.Join(mnt, p) }
	if err := os.MkdirAll(in("node_modules/pkg/.git"), 0o755); err != nil {
		t.Fatalf("inside an excluded path anything goes: %v", err)
	}
	if err := os.WriteFile(in("node_modules/pkg/index.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(in("node_modules/host")); err == nil {
		t.Error("the host's node_modules shows through the exclusion")
	}
	if _, err := os.Stat(filepath.Join(ws, "node_modules/pkg")); err == nil {
		t.Error("what the sandbox wrote in an excluded path reached the workspace")
	}
	ents, err := os.ReadDir(mnt)
	if err != nil || len(ents) != 1 || ents[0].Name() != "node_modules" {
		t.Errorf("the workspace lists %v (%v), want node_modules", ents, err)
	}
	refused(t, "rename node_modules", os.Rename(in("node_modules"), in("nm.old")))
	if err := os.MkdirAll(in("web/node_modules/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	refused(t, "rename the parent of an excluded path", os.Rename(in("web"), in("web.old")))
	if _, err := os.Stat(filepath.Join(ws, "web/node_modules")); err == nil {
		t.Error("an excluded path appeared in the workspace")
	}
	if _, err := os.Stat(filepath.Join(ws, "web")); err != nil {
		t.Errorf("web, made by the sandbox, is not in the workspace: %v", err)
	}
}

func TestFilterReadOnly(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := mountTestFilter(t, ws, []string{"out"}, true)
	refused(t, "write f", os.WriteFile(filepath.Join(mnt, "f"), []byte("y"), 0o644))
	refused(t, "create g", os.WriteFile(filepath.Join(mnt, "g"), []byte("y"), 0o644))
	if err := os.WriteFile(filepath.Join(mnt, "out/g"), []byte("y"), 0o644); err != nil {
		t.Errorf("an excluded path stays writable: %v", err)
	}
}

func TestFilterStaysBeneathTheWorkspace(t *testing.T) {
	// ../outside leads from the workspace to outside; from the mount it
	// leads nowhere, so only a filter that followed it could write there.
	top := t.TempDir()
	ws, outside := filepath.Join(top, "ws"), filepath.Join(top, "outside")
	for _, d := range []string{ws, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mnt := mountTestFilter(t, ws, nil, false)
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The kernel still holds d as a directory: the filter gets the
	// create of d/x and must not follow the link now in d's place.
	if err := os.Remove(filepath.Join(ws, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(ws, "d")); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(mnt, "d/x"), []byte("x"), 0o644)
	if _, serr := os.Stat(filepath.Join(outside, "x")); serr == nil {
		t.Errorf("the filter followed a link out of the workspace (write: %v)", err)
	}
}

// TestFilterXattrRoundTrip: a user attribute set through the filter is
// on the workspace's file, reads and lists back, and goes when removed;
// a symlink's own attributes are not its target's.
func TestFilterXattrRoundTrip(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(ws, "f"), "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("this file system keeps no user attributes: %v", err)
	}
	unix.Removexattr(filepath.Join(ws, "f"), "user.probe")
	if err := os.Symlink("f", filepath.Join(ws, "l")); err != nil {
		t.Fatal(err)
	}
	mnt := mountTestFilter(t, ws, nil, false)
	f := filepath.Join(mnt, "f")
	if err := unix.Setxattr(f, "user.silo", []byte("kept"), 0); err != nil {
		t.Fatalf("setxattr: %v", err)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(ws, "f"), "user.silo", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("on the workspace's file: %q, %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Getxattr(f, "user.silo", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("getxattr through the filter: %q, %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Listxattr(f, buf); err != nil || !strings.Contains(string(buf[:n]), "user.silo") {
		t.Errorf("listxattr: %q, %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Getxattr(filepath.Join(mnt, "l"), "user.silo", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("getxattr follows the link: %q, %v", buf[:max(n, 0)], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(mnt, "l"), "user.silo", buf); err == nil {
		t.Error("lgetxattr of the link read its target's attribute")
	}
	if err := unix.Removexattr(f, "user.silo"); err != nil {
		t.Fatalf("removexattr: %v", err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(ws, "f"), "user.silo", buf); !errors.Is(err, unix.ENODATA) {
		t.Errorf("after removexattr the workspace's file has it: %v", err)
	}
}
