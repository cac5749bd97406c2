package guestinit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParams(t *testing.T) {
	tests := []struct {
		cmdline string
		want    Params
	}{
		{"console=ttyS0 quiet", Params{}},
		{"quiet silo.root=silo-rootfs silo.ws=workspace silo.scratch=512", Params{Root: "silo-rootfs", Workspace: "workspace", ScratchMB: 512}},
		{"silo.root=r silo.disk=silo-scratch silo.debug=1", Params{Root: "r", Disk: "silo-scratch", Debug: true}},
		{"silo.probe=1 silo.scratch=nonsense", Params{Probe: true}},
		{"silo.probe=0 silo.rootx=vdb", Params{}},
		{"silo.ws=workspace silo.mounts=2", Params{Workspace: "workspace", Mounts: 2}},
		{"silo.mounts=-1 silo.mounts=x", Params{}},
	}
	for _, tt := range tests {
		got := ParseCmdline(tt.cmdline)
		if got != tt.want {
			t.Errorf("ParseCmdline(%q) = %+v, want %+v", tt.cmdline, got, tt.want)
		}
		if back := ParseCmdline(strings.Join(got.Cmdline(), " ")); back != got {
			t.Errorf("round trip of %+v gave %+v", got, back)
		}
	}
}

func TestMountTag(t *testing.T) {
	if got := MountTag(0); got != "silo.m0" {
		t.Errorf("MountTag(0) = %q", got)
	}
	// QEMU refuses 9p mount tags longer than 31 bytes.
	if got := MountTag(999); len(got) > 31 || got == MountTag(99) {
		t.Errorf("MountTag(999) = %q", got)
	}
}

func TestGoLine(t *testing.T) {
	g := Go{Params: Params{Root: "silo-rootfs", Workspace: "workspace", Mounts: 3, Disk: "silo-scratch"}, Seed: []byte{1, 2, 0xff}, Time: time.Unix(1700000000, 123)}
	line := g.Line()
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("Line() = %q: want one line", line)
	}
	back, err := ParseGo(line)
	if err != nil {
		t.Fatal(err)
	}
	if back.Params != g.Params || !bytes.Equal(back.Seed, g.Seed) || !back.Time.Equal(g.Time) {
		t.Errorf("round trip of %+v gave %+v", g, back)
	}
	for _, bad := range []string{"", "go silo.root=x", "go silo.seed=zz silo.time=1", "stop silo.seed=01 silo.time=1", "go silo.seed=01 silo.time=x"} {
		if _, err := ParseGo(bad); err == nil {
			t.Errorf("ParseGo(%q) accepted it", bad)
		}
	}
}
