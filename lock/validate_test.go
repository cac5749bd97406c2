package lock

import (
	"strings"
	"testing"
)

func TestCheckImage(t *testing.T) {
	tests := []struct {
		ref, want, err string
	}{
		{"python:3.12-slim", "python:3.12-slim", ""},
		{"ghcr.io/astral-sh/uv:python3.12-bookworm-slim", "ghcr.io/astral-sh/uv:python3.12-bookworm-slim", ""},
		{"localhost:5000/busybox@sha256:" + strings.Repeat("a", 64), "localhost:5000/busybox@sha256:" + strings.Repeat("a", 64), ""},
		{"oci-layout:img", "oci-layout:/cfg/img", ""},
		{"oci-layout:./img:v1.2", "oci-layout:/cfg/img:v1.2", ""},
		{"oci-layout:/abs/dir", "oci-layout:/abs/dir", ""},
		{"oci-layout:~/layouts/bb:latest", "oci-layout:/home/u/layouts/bb:latest", ""},
		{"docker-archive:../x.tar", "docker-archive:/x.tar", ""},
		{"oci-archive:a/b.tar", "oci-archive:/cfg/a/b.tar", ""},
		{"", "", "the image reference is empty"},
		{"Python:3", "", "is not a valid reference"},
		{"python:bad tag", "", "is not a valid reference"},
		{"python@sha256:short", "", "is not a valid reference"},
		{"oci-layout:", "", "names no path"},
		{"oci-layout:dir:", "", `"" is not a valid tag`},
		{"oci-archive:", "", "names no path"},
		{"docker-archive:a\x00b", "", "NUL"},
	}
	for _, tt := range tests {
		got, msg := checkImage(tt.ref, "/cfg", "/home/u")
		if got != tt.want || !strings.Contains(msg, tt.err) || (tt.err == "") != (msg == "") {
			t.Errorf("checkImage(%q) = %q, %q; want %q, %q", tt.ref, got, msg, tt.want, tt.err)
		}
	}
	if _, msg := checkImage("oci-layout:rel", "", "/home/u"); !strings.Contains(msg, "built-in values must be absolute") {
		t.Errorf("relative built-in image: %q", msg)
	}
	if _, msg := checkImage("oci-layout:~/x", "/cfg", ""); !strings.Contains(msg, "$HOME is not set") {
		t.Errorf("~ without a home: %q", msg)
	}
}

func TestCheckDomain(t *testing.T) {
	good := []string{"pypi.org", "*.npmjs.org", "*", "pypi.org:8443", "203.0.113.7", "[2001:db8::1]", "[2001:db8::1]:443", "Example.COM", "host.", "under_score.example", "bücher.de"}
	bad := map[string]string{
		"https://pypi.org/simple": "is a URL",
		"exa mple.com":            "is not allowed in a host name",
		"a.*.com":                 "a wildcard must be",
		"pypi.org:0":              "is not a number from 1 to 65535",
		"pypi.org:http":           "is not a number from 1 to 65535",
		"[2001:db8::1":            "missing ']'",
		"[203.0.113.7]":           "is not an IPv6 address",
		"":                        "empty pattern",
		"127.1":                   "numeric IP address",
		"[fe80::1%eth0]":          "is not an IPv6 address",
	}
	for _, d := range good {
		if msg := checkDomain(d); msg != "" {
			t.Errorf("checkDomain(%q) = %q, want ok", d, msg)
		}
	}
	for d, want := range bad {
		msg := checkDomain(d)
		if want == "" {
			continue
		}
		if !strings.Contains(msg, want) {
			t.Errorf("checkDomain(%q) = %q, want %q", d, msg, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"512", 512 << 20, false}, {"512MiB", 512 << 20, false}, {"2G", 2 << 30, false},
		{"2GB", 2 << 30, false}, {"1TiB", 1 << 40, false}, {"100B", 100, false}, {"64 K", 64 << 10, false},
		{"lots", 0, true}, {"-1G", 0, true}, {"1.5G", 0, true}, {"999999999999T", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, msg := parseSize(tt.in)
		if got != tt.want || (msg != "") != tt.bad {
			t.Errorf("parseSize(%q) = %d, %q", tt.in, got, msg)
		}
	}
}

func TestCheckShim(t *testing.T) {
	tests := []struct {
		in   string
		want Shim
		bad  bool
	}{
		{"pip", Shim{"pip", "pip"}, false},
		{"py:python3", Shim{"py", "python3"}, false},
		{"g++", Shim{"g++", "g++"}, false},
		{"", Shim{}, true}, {"a:b:c", Shim{}, true}, {"../bin/sh", Shim{}, true},
		{"a/b", Shim{}, true}, {":x", Shim{}, true}, {"x:", Shim{}, true}, {"-rf", Shim{}, true},
	}
	for _, tt := range tests {
		got, msg := checkShim(tt.in)
		if got != tt.want || (msg != "") != tt.bad {
			t.Errorf("checkShim(%q) = %v, %q", tt.in, got, msg)
		}
	}
}

func TestNearest(t *testing.T) {
	keys := []string{"tools", "passEnv", "passFiles", "passSshAgent", "mount", "overrides", "cache"}
	tests := map[string]string{
		"passenv": "passEnv", "PASSENV": "passEnv", "passFile": "passFiles", "tool": "tools",
		"overide": "overrides", "passSSHAgent": "passSshAgent", "xyz": "", "": "",
		"completely-unrelated-key": "", strings.Repeat("a", 100): "",
	}
	for in, want := range tests {
		if got := nearest(in, keys); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckRelative(t *testing.T) {
	tests := map[string]string{
		"a": "a", "a/b/": "a/b", "./a": "a", "a/../b": "b", "a//b": "a/b",
		"..": "", "../a": "", "a/../../b": "", "/a": "", "~/a": "", "~": "", ".": "", "": "", "a/..": "",
	}
	for in, want := range tests {
		got, msg := checkRelative(in, "x")
		if got != want || (want == "") != (msg != "") {
			t.Errorf("checkRelative(%q) = %q, %q; want %q", in, got, msg, want)
		}
	}
}
