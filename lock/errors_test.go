package lock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFiles loads one bad file at a time and checks the message, which
// must start with the file's path and the line and column of the problem.
func TestBadFiles(t *testing.T) {
	tests := []struct {
		name  string
		which string // "global", "user" or "project"
		file  string
		want  string // after "<path>:"
	}{
		{"unknown top key", "project", "tools = []\npassenv = [\"X\"]\n",
			"2:1: unknown key `passenv` — did you mean `passEnv`?"},
		{"wrong case nested", "project", "[overrides.python]\nmemorymb = 512\n",
			"2:1: unknown key `memorymb` in [overrides.python] — did you mean `memoryMB`?"},
		{"wrong case table", "project", "[Overrides.python]\ncpus = 2\n",
			"1:2: unknown key `Overrides` — did you mean `overrides`?"},
		{"wrong case in array table", "project", "[[overrides.python.ports]]\nHost = 1\nguest = 2\n",
			"2:1: unknown key `Host` in [overrides.python.ports] — did you mean `host`?"},
		{"wrong case in inline table", "project", "[overrides.python]\nports = [{host = 1, Guest = 2}]\n",
			"2:21: unknown key `Guest` in [overrides.python.ports] — did you mean `guest`?"},
		{"unknown key in array table", "global", "[tool.x]\nimage = \"alpine\"\n[[tool.x.cache]]\nguest = \"/c\"\nnogc = true\n",
			"5:1: unknown key `nogc` in [tool.x.cache] — did you mean `noGC`?"},
		{"unknown nested key", "project", "[overrides.python]\ncpu = 2\n",
			"2:1: unknown key `cpu` in [overrides.python] — did you mean `cpus`?"},
		{"unknown dotted key", "project", "[overrides.python.network]\nproxy.alow = [\"a.com\"]\n",
			"2:1: unknown key `alow` in [overrides.python.network.proxy] — did you mean `allow`?"},
		{"unknown key without suggestion", "project", "[mount]\nzzzzzz = 1\n",
			"2:1: unknown key `zzzzzz` in [mount]; known keys: exclude, mode"},
		{"tools table in config.toml", "global", "[tools.python]\nimage = \"python:3\"\n",
			"1:2: unknown key `tools` — did you mean `tool`?"},
		{"unknown tool key", "global", "[tool.x]\nimage = \"alpine\"\nmemory = 5\n",
			"3:1: unknown key `memory` in [tool.x] — did you mean `memoryMB`?"},
		{"string for list", "project", "tools = \"python\"\n",
			"1:9: `tools` must be an array of strings, not a string"},
		{"string for int", "project", "[overrides.python]\ncpus = \"4\"\n",
			"2:8: `overrides.python.cpus` must be an integer, not a string"},
		{"int for bool", "user", "passSshAgent = 1\n",
			"1:16: `passSshAgent` must be a boolean (true or false), not an integer"},
		{"integer overflow", "project", "[overrides.python]\ncpus = 99999999999999999999\n",
			"2:8: "},
		{"duplicate key", "project", "[overrides.python]\ncpus = 1\ncpus = 2\n",
			"3:1: "},
		{"not TOML", "project", "tools = [\n",
			"1:10: this is not valid TOML: array is incomplete"},
		{"host port out of range", "project", "[[overrides.python.ports]]\nhost = 70000\nguest = 80\n",
			"2:1: host port 70000 is out of range: use 1 to 65535"},
		{"guest port zero", "project", "[[overrides.python.ports]]\nhost = 8080\nguest = 0\n",
			"3:1: guest port 0 is out of range: use 1 to 65535"},
		{"duplicate host port", "project", "[overrides.python]\nports = [{host = 8000, guest = 80}, {host = 8000, guest = 81}]\n",
			"2:38: host port 8000 is already forwarded by ports entry 1"},
		{"port missing guest", "project", "[[overrides.node.ports]]\nhost = 3000\n",
			"1:3: a port forward needs both `host` and `guest`"},
		{"passFiles escaping", "project", "passFiles = [\"ok.txt\", \"../../.ssh/id_rsa\"]\n",
			"1:24: passFiles entry \"../../.ssh/id_rsa\" escapes the directory it is relative to"},
		{"passFiles absolute in project", "project", "passFiles = [\"/etc/shadow\"]\n",
			"1:14: passFiles entry \"/etc/shadow\" must be a relative path, not an absolute one: a project's silo.toml can only pass files from inside the project"},
		{"passFiles home in project", "project", "passFiles = [\"~/.ssh/id_rsa\"]\n",
			"1:14: passFiles entry \"~/.ssh/id_rsa\" must be a relative path"},
		{"exclude absolute", "project", "[mount]\nexclude = [\"/etc\"]\n",
			"2:12: mount.exclude entry \"/etc\" must be a relative path, not an absolute one"},
		{"exclude escaping", "user", "[mount]\nexclude = [\"a/../../b\"]\n",
			"2:12: mount.exclude entry \"a/../../b\" escapes the directory"},
		{"exclude everything", "project", "[mount]\nexclude = [\".\"]\n",
			"2:12: mount.exclude entry \".\" names the whole directory"},
		{"bad mount mode", "project", "[mount]\nmode = \"rwx\"\n",
			"2:1: mount.mode \"rwx\" is not a mode: use \"rw\""},
		{"bad image", "project", "[overrides.python]\nimage = \"Not A::Reference\"\n",
			"2:1: image \"Not A::Reference\" is not a valid reference"},
		{"empty image", "global", "[tool.x]\nimage = \"\"\n",
			"2:1: the image reference is empty"},
		{"bad oci-layout tag", "global", "[tool.x]\nimage = \"oci-layout:./dir:bad tag!\"\n",
			"2:1: image \"oci-layout:./dir:bad tag!\": \"bad tag!\" is not a valid tag"},
		{"no image", "global", "[tool.x]\nshims = [\"x\"]\n",
			"1:2: tool \"x\" has no image"},
		{"bad tool name", "global", "[tool.\"Py Thon\"]\nimage = \"python\"\n",
			"1:2: tool name \"Py Thon\" must be lower-case"},
		{"bad shim", "global", "[tool.x]\nimage = \"alpine\"\nshims = [\"a:b:c\"]\n",
			"3:10: shim \"a:b:c\" must be a command name"},
		{"duplicate shim", "global", "[tool.x]\nimage = \"alpine\"\nshims = [\"a\", \"a:b\"]\n",
			"3:15: shim \"a\" is listed twice"},
		{"shim claimed twice", "global", "[tool.x]\nimage = \"alpine\"\nshims = [\"sh\"]\n[tool.y]\nimage = \"alpine\"\nshims = [\"sh\"]\n",
			"6:1: shim \"sh\" of tool \"y\" is already the shim of tool \"x\""},
		{"unknown tool in tools", "project", "tools = [\"python\", \"pyhton\"]\n",
			"1:20: there is no tool named `pyhton` — did you mean `python`?"},
		{"override of unknown tool", "user", "[overrides.nodejs]\ncpus = 2\n",
			"1:2: [overrides.nodejs]: there is no tool named `nodejs`"},
		{"bad env name", "project", "[overrides.python]\nenv = { \"1X\" = \"y\" }\n",
			"2:9: env: \"1X\" is not a valid environment variable name"},
		{"bad passEnv", "project", "passEnv = [\"OK\", \"NOT-OK\"]\n",
			"1:18: passEnv: \"NOT-OK\" is not a valid environment variable name"},
		{"proxy URL", "project", "[overrides.python.network]\nproxy.allow = [\"https://pypi.org/simple\"]\n",
			"2:16: proxy.allow: pattern \"https://pypi.org/simple\" is a URL: write the host name only, such as \"pypi.org\""},
		{"proxy garbage", "project", "[overrides.python.network.proxy]\ndeny = [\"exa mple.com\"]\n",
			"2:9: proxy.deny: pattern \"exa mple.com\": it is not a valid host name: character ' ' is not allowed in a host name; write one such as `pypi.org`"},
		{"proxy numeric name", "project", "[overrides.python.network.proxy]\nallow = [\"127.1\"]\n",
			"2:10: proxy.allow: pattern \"127.1\": it is not a valid host name: its last label is a number"},
		{"proxy zone", "project", "[overrides.python.network.proxy]\nallow = [\"ok.example\", \"[fe80::1%eth0]\"]\n",
			"2:24: proxy.allow: pattern \"[fe80::1%eth0]\": it is not an IPv6 address"},
		{"proxy bad port", "project", "[overrides.python.network.proxy]\ninstallAllow = [\"pypi.org:99999\"]\n",
			"2:17: proxy.installAllow: pattern \"pypi.org:99999\": port \"99999\" is not a number from 1 to 65535"},
		{"cache guest relative", "global", "[tool.x]\nimage = \"alpine\"\n[[tool.x.cache]]\nguest = \"cache\"\n",
			"4:1: cache guest \"cache\" must be an absolute path inside the sandbox"},
		{"cache without guest", "project", "[[overrides.python.cache]]\nhost = \"pip\"\n",
			"1:3: a [[cache]] entry needs `guest`"},
		{"cache host absolute", "project", "[[overrides.python.cache]]\nguest = \"/c\"\nhost = \"/home/u/.cache/pip\"\n",
			"3:1: cache host \"/home/u/.cache/pip\" must be a relative path, not an absolute one: it names a directory in the tool's cache area"},
		{"cache host escaping", "project", "[[overrides.python.cache]]\nguest = \"/c\"\nhost = \"../../.ssh\"\n",
			"3:1: cache host \"../../.ssh\" escapes"},
		{"bad size hint", "global", "[tool.x]\nimage = \"alpine\"\n[[tool.x.cache]]\nguest = \"/c\"\nsizeHint = \"lots\"\n",
			"5:1: size \"lots\" is not a size"},
		{"workdir relative", "project", "[overrides.python]\nworkdir = \"src\"\n",
			"2:1: workdir \"src\" must be an absolute path inside the sandbox"},
		{"workdir dotdot", "project", "[overrides.python]\nworkdir = \"/workspace/../etc\"\n",
			"2:1: workdir \"/workspace/../etc\" must not contain `..`"},
		{"memory too small", "project", "[overrides.python]\nmemoryMB = 1\n",
			"2:1: `memoryMB` = 1 is out of range: use 64 to 1048576"},
		{"cpus zero", "global", "[tool.x]\nimage = \"alpine\"\ncpus = 0\n",
			"3:1: `cpus` = 0 is out of range: use 1 to 256"},
		{"negative cache age", "project", "[cache.tools]\nmaxAgeDays = -1\n",
			"2:1: `cache.tools.maxAgeDays` = -1 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var path string
			switch tt.which {
			case "global":
				path = f.global(t, tt.file)
			case "user":
				path = f.user(t, tt.file)
			default:
				path = f.projectFile(t, tt.file)
			}
			c, err := f.load(f.project)
			if err == nil {
				t.Fatalf("loaded %q without error", tt.file)
			}
			if c != nil {
				t.Errorf("a Config came back with the error")
			}
			if want := path + ":" + tt.want; !strings.Contains(err.Error(), want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, want)
			}
		})
	}
}

// TestAllProblemsAtOnce checks that problems in several files are all
// reported, and that no Config comes back.
func TestAllProblemsAtOnce(t *testing.T) {
	f := newFixture(t)
	g := f.global(t, "[tool.x]\nimage = \"alpine\"\ncpus = 0\n")
	p := f.projectFile(t, "passEnv = [\"A-B\"]\n[[overrides.x.ports]]\nhost = 0\nguest = 1\n")
	c, err := f.load(f.project)
	if c != nil || err == nil {
		t.Fatalf("Load = %v, %v; want no config and an error", c, err)
	}
	for _, want := range []string{g + ":3:1:", p + ":1:12:", p + ":3:1:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d problems reported, want 3:\n%v", n, err)
	}

	// An unknown key does not hide the other problems of its file.
	f = newFixture(t)
	p = f.projectFile(t, "passenv = [\"X\"]\n[[overrides.python.ports]]\nhost = 0\nguest = 1\n[mount]\nmode = \"x\"\n")
	_, err = f.load(f.project)
	for _, want := range []string{p + ":1:1: unknown key `passenv`", p + ":3:1: host port 0", p + ":6:1: mount.mode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d problems reported, want 3:\n%v", n, err)
	}
}

// TestUnreadableFiles covers files that are not configuration at all.
func TestUnreadableFiles(t *testing.T) {
	f := newFixture(t)
	if err := os.Mkdir(filepath.Join(f.project, "silo.toml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := f.load(f.project)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("silo.toml directory: err = %v", err)
	}

	f = newFixture(t)
	f.projectFile(t, "# "+strings.Repeat("x", maxFileSize)+"\n")
	_, err = f.load(f.project)
	if err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("huge silo.toml: err = %v", err)
	}
}

// TestPassFileSymlinkEscape tries to smuggle a host file out through a
// symlink inside the project.
func TestPassFileSymlinkEscape(t *testing.T) {
	f := newFixture(t)
	secret := f.write(t, "home/.ssh/id_rsa", "PRIVATE KEY")
	if err := os.Symlink(secret, filepath.Join(f.project, "key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(secret), filepath.Join(f.project, "sshdir")); err != nil {
		t.Fatal(err)
	}
	f.write(t, "home/proj/inside.txt", "fine")
	if err := os.Symlink("inside.txt", filepath.Join(f.project, "ok-link")); err != nil {
		t.Fatal(err)
	}
	for _, entry := range []string{"key", "sshdir/id_rsa"} {
		p := f.projectFile(t, "passFiles = [\""+entry+"\"]\n")
		_, err := f.load(f.project)
		want := p + ":1:14: passFiles entry \"" + entry + "\" is a symlink to " + secret + ", outside the project"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("passFiles %q: err = %v, want %s", entry, err, want)
		}
	}
	f.projectFile(t, "passFiles = [\"ok-link\", \"not-there-yet\"]\n")
	tl := f.mustTool(t, "python")
	want := []string{filepath.Join(f.project, "ok-link"), filepath.Join(f.project, "not-there-yet")}
	if strings.Join(tl.PassFiles, ",") != strings.Join(want, ",") {
		t.Errorf("PassFiles = %q, want %q", tl.PassFiles, want)
	}
}
