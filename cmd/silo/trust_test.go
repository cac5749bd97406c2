package main

import (
	"io"
	"strings"
	"testing"

	"github.com/silo-dev/silo/lock"
)

// TestAskTrustLeavesStdin: the answer is read up to its newline and no
// further, so that what the user typed after it reaches the sandbox.
func TestAskTrustLeavesStdin(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"y\nrest", true}, {"YES\nrest", true}, {" y \nrest", true},
		{"\nrest", false}, {"n\nrest", false}, {"yy\nrest", false}, {"", false},
	} {
		in := strings.NewReader(tt.in)
		var out strings.Builder
		got, err := askTrust(in, &out, "why", &lock.Review{Path: "/p/silo.toml", Hash: strings.Repeat("a", 64)})
		if err != nil || got != tt.want {
			t.Errorf("answer %q: %v, %v; want %v", tt.in, got, err, tt.want)
		}
		rest, _ := io.ReadAll(in)
		if tt.in != "" && string(rest) != "rest" {
			t.Errorf("answer %q left %q on stdin, want \"rest\"", tt.in, rest)
		}
	}
}
