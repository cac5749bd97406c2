package lock

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDiscovery walks up from nested directories to find silo.toml.
func TestDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		files    []string // relative to the fixture's top
		dir      string   // working directory, relative to top
		wantRoot string   // relative to top; "" for none
	}{
		{"in the working directory", []string{"home/proj/silo.toml"}, "home/proj", "home/proj"},
		{"from a nested directory", []string{"home/proj/silo.toml"}, "home/proj/a/b/c", "home/proj"},
		{"nearest wins, once trusted", []string{"home/proj/silo.toml", "home/proj/a/silo.toml"}, "home/proj/a/b", "home/proj/a"},
		{"in $HOME itself", []string{"home/silo.toml"}, "home/proj/a", "home"},
		{"not above $HOME", []string{"silo.toml"}, "home/proj/a", ""},
		{"none at all", nil, "home/proj", ""},
		{"outside $HOME up to the root", []string{"srv/silo.toml"}, "srv/app/x", "srv"},
		{"user-wide file is not a project", []string{"home/.silo/silo.toml"}, "home/.silo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, p := range tt.files {
				f.write(t, p, "")
			}
			if len(tt.files) > 1 {
				if err := f.trust(filepath.Join(f.top, tt.files[len(tt.files)-1])); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(f.top, tt.dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			c, err := f.load(dir)
			if err != nil {
				t.Fatal(err)
			}
			var wantFiles []string
			want, wantWS := "", dir
			if tt.wantRoot != "" {
				want = filepath.Join(f.top, tt.wantRoot)
				wantWS = want
				wantFiles = []string{filepath.Join(want, "silo.toml")}
			}
			if tt.name == "user-wide file is not a project" {
				wantFiles = []string{filepath.Join(f.home, "silo.toml")}
			}
			if c.ProjectRoot() != want || c.Workspace() != wantWS {
				t.Errorf("ProjectRoot, Workspace = %q, %q; want %q, %q", c.ProjectRoot(), c.Workspace(), want, wantWS)
			}
			if !reflect.DeepEqual(c.Files(), wantFiles) {
				t.Errorf("Files = %q, want %q", c.Files(), wantFiles)
			}
		})
	}
}

// TestFilesOrder checks Files lists every file read, in merge order.
func TestFilesOrder(t *testing.T) {
	f := newFixture(t)
	want := []string{f.global(t, ""), f.user(t, ""), f.projectFile(t, "")}
	c := mustLoad(t, f, filepath.Join(f.project))
	if !reflect.DeepEqual(c.Files(), want) {
		t.Errorf("Files = %q, want %q", c.Files(), want)
	}
}

// TestRelativeOptions checks that relative option paths are made absolute.
func TestRelativeOptions(t *testing.T) {
	f := newFixture(t)
	f.projectFile(t, "passFiles = [\"x\"]\n")
	t.Chdir(f.top)
	c, err := Load(Options{Home: "home/.silo", Dir: "home/proj", UserHome: "home"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustTool(t, c, "python").PassFiles[0]; got != filepath.Join(f.project, "x") {
		t.Errorf("PassFiles[0] = %q", got)
	}
	if _, err := Load(Options{}); err == nil {
		t.Error("Load without a home directory did not fail")
	}
}
