package sandbox

import (
	"github.com/silo-dev/silo/vm"
	"slices"
	"testing"
)

func TestComposeEnv(t *testing.T) {
	host := map[string]string{
		"AWS_SECRET_ACCESS_KEY": "secret", "GITHUB_TOKEN": "tok", "TERM": "screen", "LANG": "de_DE.UTF-8",
		"HOME": "/home/me", "PATH": "/host/bin", "EMPTY": "",
	}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	tests := []struct {
		name string
		opts EnvOptions
		want []string
	}{
		{"nothing from the host", EnvOptions{Host: lookup},
			[]string{"HOME=/root", "LANG=de_DE.UTF-8", "PATH=" + vm.DefaultPath, "TERM=screen"}},
		{"image path kept, tool wins, pass through", EnvOptions{
			Image: []string{"PATH=/img/bin", "A=image", "B=image", "malformed"},
			Tool:  map[string]string{"B": "tool"},
			Pass:  []string{"GITHUB_TOKEN", "UNSET", "EMPTY"},
			Host:  lookup,
		}, []string{"A=image", "B=tool", "EMPTY=", "GITHUB_TOKEN=tok", "HOME=/root", "LANG=de_DE.UTF-8", "PATH=/img/bin", "TERM=screen"}},
		{"home is the guest's", EnvOptions{Image: []string{"HOME=/image/home"}, Pass: []string{"HOME"}, Host: lookup},
			[]string{"HOME=/root", "LANG=de_DE.UTF-8", "PATH=" + vm.DefaultPath, "TERM=screen"}},
		{"defaults without host values", EnvOptions{Host: func(string) (string, bool) { return "", false }},
			[]string{"HOME=/root", "LANG=C.UTF-8", "PATH=" + vm.DefaultPath, "TERM=xterm-256color"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComposeEnv(tt.opts)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if slices.Contains(got, "AWS_SECRET_ACCESS_KEY=secret") {
				t.Error("a host secret leaked into the environment")
			}
		})
	}
}

func TestDefaultProtected(t *testing.T) {
	got := DefaultProtected()
	for _, want := range []string{"silo.toml", "silo.lock", ".git/", ".envrc", ".bashrc", ".husky/", ".claude/", ".vscode/"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not protected: %q", want, got)
		}
	}
	got[0] = "changed"
	if DefaultProtected()[0] == "changed" {
		t.Error("DefaultProtected returns the list itself, not a copy")
	}
}

func TestGuestPath(t *testing.T) {
	tests := []struct{ host, home, want string }{
		{"/home/me/.npmrc", "/home/me", "/root/.npmrc"},
		{"/home/me/.config/x/y", "/home/me", "/root/.config/x/y"},
		{"/etc/ssl/cert.pem", "/home/me", "/etc/ssl/cert.pem"},
		{"/home/meat/x", "/home/me", "/home/meat/x"},
		{"/x", "", "/x"},
	}
	for _, tt := range tests {
		if got := GuestPath(tt.host, tt.home); got != tt.want {
			t.Errorf("GuestPath(%q, %q) = %q, want %q", tt.host, tt.home, got, tt.want)
		}
	}
}
