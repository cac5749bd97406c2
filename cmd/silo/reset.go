package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ResetCmd is silo reset.
type ResetCmd struct {
	Yes bool `help:"Do not ask (for scripts)."`
}

// Help is silo reset's example.
func (c *ResetCmd) Help() string {
	return "Examples:\n  silo reset          # asks first\n  silo reset --yes"
}

// Run removes the home, after asking.
func (c *ResetCmd) Run(g *Globals) error {
	fi, err := os.Lstat(g.home)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory but a link or a file: silo reset removes only a real home, never what a link points to; remove it yourself if you mean to", g.home)
	}
	if run := running(g.home); len(run) > 0 {
		return fmt.Errorf("%d sandboxes are running (silo status lists them): stop them, then run silo reset again", len(run))
	}
	size := dirSize(g.home)
	if !c.Yes {
		if !isTerminal(os.Stdin) || !isTerminal(os.Stderr) {
			return usageErrorf("silo reset removes %s (%s: tools, images, caches, trust records) and there is no terminal to ask on: type silo reset --yes", g.home, formatBytes(size))
		}
		fmt.Fprintf(os.Stderr, "Remove all of silo's data in %s (%s: installed tools, images, package caches, trust records)? [y/N] ", g.home, formatBytes(size))
		line, _ := readLine(os.Stdin)
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("nothing removed")
		}
	}
	if err := removeHome(g.home); err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(os.Stderr, "silo: removed %s (%s)\n", g.home, formatBytes(size))
	}
	return nil
}

// removeHome removes the home: it makes the read-only directories of the
// store writable first, and follows no symlink (a link inside is removed
// as a link, what it points to is left alone).
func removeHome(root string) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Type()&fs.ModeSymlink == 0 {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("remove %s: %w", root, err)
	}
	return nil
}

// dirSize is the bytes of the regular files beneath root, no link followed.
func dirSize(root string) int64 {
	var n int64
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
