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
		{"quiet silo.root=vda silo.ws=workspace silo.scratch=512", Params{Root: "vda", Workspace: "workspace", ScratchMB: 512}},
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
