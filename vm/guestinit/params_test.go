package guestinit

import (
	"strings"
	"testing"
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
