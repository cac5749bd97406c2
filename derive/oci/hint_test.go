package oci

import (
	"context"
	"net"
	"strings"
	"testing"
)

// TestPullSaysWhatToDoWhenOffline pulls from a port nobody listens on and
// from a live registry that lacks the image: only the first is "could not
// be reached", and only it points at loading the image from a file.
func TestPullSaysWhatToDoWhenOffline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	reg := startRegistry(t)
	tests := []struct {
		ref  string
		hint bool
	}{
		{closed + "/tool:1", true},
		{reg.Host + "/missing:1", false},
	}
	for _, tt := range tests {
		_, err := Pull(context.Background(), openStore(t), tt.ref, Options{})
		if err == nil {
			t.Fatalf("pull %s succeeded", tt.ref)
		}
		if got := strings.Contains(err.Error(), "could not be reached") && strings.Contains(err.Error(), "docker-archive:FILE"); got != tt.hint {
			t.Errorf("pull %s: hint shown = %v, want %v: %v", tt.ref, got, tt.hint, err)
		}
	}
}
