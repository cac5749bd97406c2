package main

import (
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/home"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/silo-dev/silo/lock"
)

// loadConfig is lock.Load with the user at the terminal: a project file
// that needs trust is shown, with what it grants, and trusted on a yes.
// Without a terminal (stdin and stderr) the refusal stands, naming the
// command that trusts the file.
func loadConfig(home string, o lock.Options) (*lock.Config, error) {
	for {
		cfg, err := lock.Load(o)
		ue, untrusted := lock.IsUntrusted(err)
		if !untrusted || !isTerminal(os.Stdin) || !isTerminal(os.Stderr) {
			return cfg, err
		}
		yes, err := askTrust(os.Stdin, os.Stderr, ue.Why(), ue.Review)
		if err != nil {
			return nil, err
		}
		if !yes {
			return nil, fmt.Errorf("not trusted, so silo did not obey it; to trust it later: %s", ue.TrustCommand())
		}
		if err := ue.Trust(home); err != nil {
			return nil, err
		}
		// Load again: it obeys the file only if it still holds the bytes
		// just shown, and asks again otherwise.
	}
}

// askTrust shows what r grants and asks whether to trust it: y or yes
// trusts, anything else (Enter included) does not.
func askTrust(in io.Reader, out io.Writer, why string, r *lock.Review) (bool, error) {
	fmt.Fprintf(out, "silo: %s\nIt asks for (sha256 %s):\n%sTrust this content? silo asks again if it changes [y/N] ", why, r.ShortHash(), r.Describe())
	line, err := readLine(in)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(out)
	}
	return false, nil
}

// readLine reads up to a newline one byte at a time, so that nothing past
// the answer is taken from stdin, which the sandbox gets next.
func readLine(in io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 1024 {
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), nil
}

// ConfigTrustCmd is silo config trust [FILE] [--expect HASH].
type ConfigTrustCmd struct {
	File   string `arg:"" optional:"" help:"The silo.toml to trust (default: the one silo finds from here)." type:"path"`
	Expect string `help:"Trust the file only if its content has this hash, the one silo printed when it refused the file (for scripts; no question asked)." placeholder:"HASH"`
}

// Run reads the file once, shows what it grants and records the hash of
// exactly those bytes, once the user said yes or --expect matched them.
func (c *ConfigTrustCmd) Run(g *Globals) error {
	h, err := g.HomeDir()
	if err != nil {
		return err
	}
	userHome, _ := os.UserHomeDir()
	opts := lock.Options{Home: h, UserHome: userHome}
	file := c.File
	if file == "" {
		if file, err = lock.FindProjectFile(opts); err != nil {
			return err
		}
		if file == "" {
			return fmt.Errorf("no silo.toml here or above: name the file to trust")
		}
	}
	if own, _ := filepath.Abs(file); own == home.Dir(h).UserProject() || own == home.Dir(h).GlobalConfig() {
		fmt.Fprintf(os.Stderr, "silo: %s is your own user-wide configuration: silo obeys it without trust\n", file)
		return nil
	}
	r, err := lock.ReviewFile(opts, file)
	if err != nil {
		return err
	}
	if err := c.confirm(r); err != nil {
		return err
	}
	if err := r.Trust(h); err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(os.Stderr, "silo: trusted %s (sha256 %s); silo asks again if it changes\n", printablePath(r.Path), r.ShortHash())
	}
	return nil
}

// confirm returns nil when r's bytes are the ones the user means: they
// match --expect, or the user said yes at the terminal.
func (c *ConfigTrustCmd) confirm(r *lock.Review) error {
	if c.Expect != "" {
		ok, err := r.Matches(c.Expect)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s has changed: its content now has the hash %s, not %s, so nothing was trusted. It now asks for:\n%sRead it again; if these are yours, trust this content with:\n  %s",
				printablePath(r.Path), r.ShortHash(), c.Expect, r.Describe(), r.TrustCommand())
		}
		return nil
	}
	if !isTerminal(os.Stdin) || !isTerminal(os.Stderr) {
		return fmt.Errorf("%s asks for (sha256 %s):\n%sNothing was trusted: there is no terminal to ask on. If these are yours, trust exactly this content with:\n  %s",
			printablePath(r.Path), r.ShortHash(), r.Describe(), r.TrustCommand())
	}
	yes, err := askTrust(os.Stdin, os.Stderr, printablePath(r.Path)+" is about to be trusted.", r)
	if err != nil {
		return err
	}
	if !yes {
		return fmt.Errorf("%s was not trusted", printablePath(r.Path))
	}
	return nil
}

// printablePath escapes the control characters of a path found on disk
// (a sandbox names the directories it makes), so that printing it cannot
// drive the terminal.
func printablePath(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return !strconv.IsPrint(r) && r != ' ' }) < 0 {
		return p
	}
	q := strconv.QuoteToGraphic(p)
	return q[1 : len(q)-1]
}
