package kernel

import (
	"encoding/json"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/home"
	"io"
	"os"

	"github.com/silo-dev/silo/store"
)

// agentStamp identifies one version of the agent file without reading it:
// if any of these change, the file is hashed again.
type agentStamp struct {
	Path  string     `json:"path"`
	Size  int64      `json:"size"`
	MTime int64      `json:"mtimeNs"`
	CTime int64      `json:"ctimeNs"`
	Ino   uint64     `json:"ino"`
	Dev   uint64     `json:"dev"`
	Hash  store.Hash `json:"hash"`
}

// AgentHash returns the blake3 hash of the agent binary at path. Hashing
// silo's own 20 MB binary costs tens of milliseconds on every VM run, so
// the answer is cached in home/runtime/agent-hash.json, keyed by the
// file's path, size, times, inode and device.
func AgentHash(h string, path string) (store.Hash, error) {
	cache := home.Dir(h).AgentHashCache()
	stamp, err := stampOf(path)
	if err != nil {
		return store.Hash{}, err
	}
	var cached agentStamp
	if b, err := os.ReadFile(cache); err == nil && json.Unmarshal(b, &cached) == nil {
		want := cached
		want.Hash = store.Hash{}
		if want == stamp && !cached.Hash.IsZero() {
			return cached.Hash, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return store.Hash{}, fmt.Errorf("read the guest agent: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return store.Hash{}, fmt.Errorf("read the guest agent: %w", err)
	}
	stamp.Hash = store.HashBytes(b)
	if after, err := stampOf(path); err == nil && after == (agentStamp{Path: stamp.Path, Size: stamp.Size, MTime: stamp.MTime, CTime: stamp.CTime, Ino: stamp.Ino, Dev: stamp.Dev}) {
		writeStamp(cache, &stamp) // best effort: a cache
	}
	return stamp.Hash, nil
}

func stampOf(path string) (agentStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return agentStamp{}, fmt.Errorf("find the guest agent: %w", err)
	}
	s := agentStamp{Path: path, Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	s.CTime, s.Ino, s.Dev = sysStamp(fi)
	return s, nil
}

func writeStamp(path string, s *agentStamp) {
	if b, err := json.Marshal(s); err == nil {
		_ = fsutil.WriteFile(path, b, fsutil.WriteOptions{MkdirPerm: 0o700})
	}
}
