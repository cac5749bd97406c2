package kernel

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-dev/silo/store"
)

func TestAgentHash(t *testing.T) {
	home := t.TempDir()
	agent := filepath.Join(t.TempDir(), "silo")
	if err := os.WriteFile(agent, []byte("version one"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"first", func() {}, "version one"},
		{"cached", func() {}, "version one"},
		// Same size, new content, mtime moved back to where it was: the
		// change time and the cache key still catch it.
		{"rewritten in place", func() {
			fi, _ := os.Stat(agent)
			os.WriteFile(agent, []byte("version two"), 0o755)
			os.Chtimes(agent, fi.ModTime(), fi.ModTime())
		}, "version two"},
		{"replaced by rename", func() {
			tmp := agent + ".new"
			os.WriteFile(tmp, []byte("version three, longer"), 0o755)
			os.Rename(tmp, agent)
		}, "version three, longer"},
		{"corrupt cache", func() {
			os.WriteFile(filepath.Join(home, "runtime", "agent-hash.json"), []byte("{garbage"), 0o644)
		}, "version three, longer"},
	}
	for _, s := range steps {
		s.change()
		time.Sleep(2 * time.Millisecond)
		got, err := AgentHash(home, agent)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if want := store.HashBytes([]byte(s.want)); got != want {
			t.Errorf("%s: hash %s, want the hash of %q", s.name, got, s.want)
		}
	}
	if _, err := AgentHash(home, filepath.Join(home, "missing")); err == nil {
		t.Error("a missing agent hashed")
	}
}
