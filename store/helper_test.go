package store

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The store's multi-process tests run this test binary again as a helper
// process: SILO_STORE_HELPER names what it does, SILO_STORE_HOME where.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("SILO_STORE_HELPER")
	if mode == "" {
		t.Skip("only run as a helper process")
	}
	home := os.Getenv("SILO_STORE_HOME")
	seed, _ := strconv.Atoi(os.Getenv("SILO_STORE_SEED"))
	var err error
	switch mode {
	case "hold":
		err = helperHold(home, seed)
	case "add-big":
		err = helperAddBig(home, seed)
	case "add-and-root":
		err = helperAddAndRoot(home, seed)
	case "add-tree":
		err = helperAddTree(home, os.Getenv("SILO_STORE_SRC"))
	case "unprivileged":
		err = helperUnprivileged(home)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// helper starts this test binary as a helper process in mode.
func helper(t testing.TB, mode, home string, seed int, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SILO_STORE_HELPER="+mode, "SILO_STORE_HOME="+home, "SILO_STORE_SEED="+strconv.Itoa(seed))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// helperHold adds an entry, prints its name and waits to be killed.
func helperHold(home string, seed int) error {
	s, err := Open(home)
	if err != nil {
		return err
	}
	e, err := s.AddReader(bytesOf(seed, 1000), AddOptions{Name: "held"})
	if err != nil {
		return err
	}
	fmt.Println(e.Name)
	time.Sleep(time.Minute)
	return nil
}

// bytesOf returns n pseudo-random bytes determined by seed.
func bytesOf(seed, n int) io.Reader {
	return io.LimitReader(rand.NewChaCha8(seedBytes(seed)), int64(n))
}

func seedBytes(seed int) [32]byte {
	var b [32]byte
	copy(b[:], strconv.Itoa(seed))
	return b
}

// helperAddBig adds 32 MiB of fresh bytes, or a tree of 300 files,
// depending on seed: the crash test kills it at a random point.
func helperAddBig(home string, seed int) error {
	s, err := Open(home)
	if err != nil {
		return err
	}
	defer s.Close()
	if seed%2 == 0 {
		_, err = s.AddReader(bytesOf(seed, 32<<20), AddOptions{Name: "big", Kind: KindLayer})
		return err
	}
	d, err := s.MkTemp("tree-")
	if err != nil {
		return err
	}
	src := bufio.NewReader(bytesOf(seed, 1<<30))
	for i := range 300 {
		p := filepath.Join(d, "t", strconv.Itoa(i%10), strconv.Itoa(i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := make([]byte, 4096+i*97)
		io.ReadFull(src, b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	_, err = s.AddDir(filepath.Join(d, "t"), AddOptions{Name: "tree", Kind: KindRootfs, Move: seed%4 == 1})
	return err
}

// helperAddAndRoot runs the adder side of the GC race: each iteration
// opens the store, adds a layer and a rootfs referring to it, roots the
// rootfs, adds unrooted garbage, and closes the store. It prints each
// rooted name.
func helperAddAndRoot(home string, n int) error {
	for i := range n {
		s, err := Open(home)
		if err != nil {
			return err
		}
		layer, err := s.AddReader(bytesOf(i, 512), AddOptions{Name: fmt.Sprintf("layer-%d", i), Kind: KindLayer})
		if err != nil {
			return err
		}
		if _, err := s.AddReader(bytesOf(-i-1, 256), AddOptions{Name: "garbage", Kind: KindFile}); err != nil {
			return err
		}
		rootfs, err := s.AddReader(bytesOf(i+1_000_000, 512), AddOptions{Name: fmt.Sprintf("rootfs-%d", i), Kind: KindRootfs, References: []string{layer.Name}})
		if err != nil {
			return err
		}
		if err := s.AddRoot(fmt.Sprintf("r%d", i), rootfs.Name); err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
		fmt.Println(rootfs.Name, layer.Name)
	}
	return nil
}

// helperAddTree adds the tree src and prints the entry's name.
func helperAddTree(home, src string) error {
	s, err := Open(home)
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := s.AddDir(src, AddOptions{Name: "tree"})
	if err != nil {
		return err
	}
	fmt.Println(e.Name)
	return nil
}

// helperUnprivileged exercises, as an unprivileged user, everything that
// moves read-only trees around: AddDir by move and by copy of a tree with a
// read-only directory and with a file and a directory of mode 0000,
// compression, decompression, GC and verify.
func helperUnprivileged(home string) error {
	s, err := Open(home)
	if err != nil {
		return err
	}
	d, err := s.MkTemp("build-")
	if err != nil {
		return err
	}
	root := filepath.Join(d, "rootfs")
	for _, p := range []string{"ro/file", "rw/file"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(p+" content, compressible compressible compressible"), 0o444); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "ro"), 0o555); err != nil {
		return err
	}
	// Images ship files and directories their owner may not read
	// (/etc/shadow 0000 on Fedora): root reads them regardless.
	if err := os.WriteFile(filepath.Join(root, "shadow"), []byte("root:*:1::::::\n"), 0); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(root, "closed"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "closed", "f"), []byte("x"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(root, "closed"), 0); err != nil {
		return err
	}
	copied, err := s.AddDir(root, AddOptions{Name: "copied"})
	if err != nil {
		return err
	}
	moved, err := s.AddDir(root, AddOptions{Name: "moved", Move: true})
	if err != nil {
		return err
	}
	if copied.ContentHash != moved.ContentHash {
		return fmt.Errorf("copy and move hash differently")
	}
	if err := s.Close(); err != nil {
		return err
	}
	if s, err = Open(home); err != nil {
		return err
	}
	defer s.Close()
	if r, err := s.Compress(CompressOptions{All: true}); err != nil || len(r.Entries) != 2 {
		return fmt.Errorf("compress: %+v %v", r, err)
	}
	if _, err := s.Use(moved.Name); err != nil {
		return err
	}
	if r, err := s.Verify(nil, false); err != nil || !r.OK() {
		return fmt.Errorf("verify: %+v %v", r, err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	if s, err = Open(home); err != nil {
		return err
	}
	r, err := s.GC(GCOptions{})
	if err != nil {
		return err
	}
	if len(r.Removed) != 2 {
		return fmt.Errorf("GC removed %+v", r.Removed)
	}
	return nil
}
