package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWorkspace(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home", "me")
	project := filepath.Join(home, "src", "app")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link-to-home")
	if err := os.Symlink(home, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ws, want string
	}{
		{project, ""},
		{filepath.Join(base, "elsewhere"), ""},
		{home, "holds your home directory"},
		{filepath.Dir(home), "holds your home directory"},
		{link, "holds your home directory"},
		{"/", "the whole system"},
	}
	for _, tt := range tests {
		err := checkWorkspace(tt.ws, home)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkWorkspace(%s) = %v, want %q", tt.ws, err, tt.want)
		}
	}
}

func TestRelativeCwd(t *testing.T) {
	ws := t.TempDir()
	sub := filepath.Join(ws, "a", "b c")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := relativeCwd(ws, sub); err != nil || got != "a/b c" {
		t.Errorf("relativeCwd = %q, %v", got, err)
	}
	if got, err := relativeCwd(ws, ws); err != nil || got != "." {
		t.Errorf("relativeCwd(ws) = %q, %v", got, err)
	}
	if _, err := relativeCwd(sub, ws); err == nil {
		t.Error("a cwd outside the workspace was accepted")
	}
}
