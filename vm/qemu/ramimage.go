package qemu

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/silo-dev/silo/internal/home"
)

// A restored VM maps its guest RAM from a file instead of loading it from
// the migration stream page by page (a tenth of a second and more under
// TCG for a 2 GiB guest): the snapshot entry's stream, split once
// (splitStream) into the guest RAM as a sparse file and the rest of the
// stream, which are kept beside each other in the home's runtime
// directory under the entry's name. QEMU maps the RAM file privately
// (memory-backend-file, share=off): the guest's writes go to its own
// copies of the pages, never to the file, which every VM restored from
// the entry shares through the host's page cache. The files are derived
// from the store entry, which stays what is verified and collected; those
// of entries no longer in the store are removed whenever a new pair is
// made and after every collection (RemoveStaleRAM).

// Suffixes of the two files made of a snapshot entry.
const (
	ramSuffix = ".ram" // the guest RAM
	devSuffix = ".dev" // the stream without it
)

// ramImage returns the guest RAM file and the rest of the stream of the
// snapshot entry at snapshot, making them on first use.
func (b *Backend) ramImage(snapshot string) (ram, dev string, err error) {
	if b.o.Home == "" {
		return "", "", errors.New("no home to keep the snapshot's RAM in")
	}
	fi, err := os.Stat(snapshot)
	if err != nil {
		return "", "", err
	}
	dir := ramImageDir(b.o.Home)
	base := filepath.Join(dir, imageName(filepath.Base(snapshot), fi))
	ram, dev = base+ramSuffix, base+devSuffix
	if fileExists(ram) && fileExists(dev) {
		return ram, dev, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	if err := splitFile(snapshot, ram, dev); err != nil {
		return "", "", err
	}
	removeStaleImages(dir, filepath.Dir(snapshot))
	return ram, dev, nil
}

// imageName names the files made of the snapshot entry name as it is
// now (fi): its name, size and modification time, so that an entry
// changed since (damaged, or rewritten by the store) is split again, and
// a damaged one then fails to restore as it would without them.
func imageName(entry string, fi os.FileInfo) string {
	return entry + "@" + strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16)
}

// ramImageDir is where the RAM files of a home's snapshots are.
func ramImageDir(h string) string { return filepath.Join(home.Dir(h).Runtime(), "snapshot-ram") }

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// splitFile splits the stream at snapshot into the files ram and dev
// (splitStream), each written whole under a temporary name first.
func splitFile(snapshot, ram, dev string) (err error) {
	in, err := os.Open(snapshot)
	if err != nil {
		return err
	}
	defer in.Close()
	ramTmp, err := os.CreateTemp(filepath.Dir(ram), ".ram-*")
	if err != nil {
		return err
	}
	defer os.Remove(ramTmp.Name())
	defer ramTmp.Close()
	devTmp, err := os.CreateTemp(filepath.Dir(dev), ".dev-*")
	if err != nil {
		return err
	}
	defer os.Remove(devTmp.Name())
	defer devTmp.Close()
	w := bufio.NewWriterSize(devTmp, 1<<20)
	size, err := splitStream(bufio.NewReaderSize(in, 1<<20), w, ramTmp)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		// The file is the whole block: QEMU maps it at the RAM's size.
		err = ramTmp.Truncate(int64(size))
	}
	if err != nil {
		return fmt.Errorf("split the VM snapshot's RAM from its stream: %w", err)
	}
	if err := os.Rename(devTmp.Name(), dev); err != nil {
		return err
	}
	return os.Rename(ramTmp.Name(), ram)
}

// RemoveStaleRAM removes the RAM files of the home h made of snapshot
// entries no longer in the store at storeDir (or changed since): a GC
// calls it once it has collected, so that a collected snapshot frees its
// RAM file too.
func RemoveStaleRAM(h, storeDir string) { removeStaleImages(ramImageDir(h), storeDir) }

// removeStaleImages removes the files in dir made of snapshot entries
// that are no longer in store or have changed since, and the temporary files of splits that
// were left an hour ago.
func removeStaleImages(dir, store string) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range names {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			// A split that did not finish (its process died) an hour ago.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.Remove(filepath.Join(dir, n))
			}
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(n, ramSuffix), devSuffix)
		entry, _, ok := strings.Cut(name, "@")
		if name == n || !ok {
			continue
		}
		fi, err := os.Stat(filepath.Join(store, entry))
		if errors.Is(err, os.ErrNotExist) || err == nil && imageName(entry, fi) != name {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
