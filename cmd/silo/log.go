package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/internal/safetext"
)

// refusalLogCap bounds the refusal log: past it, the log moves to
// refusals.jsonl.1 (replacing the older one) and a new one starts.
const refusalLogCap = 1 << 20

// refusalEntry is one refused connection in the log.
type refusalEntry struct {
	Time    time.Time `json:"time"`
	Tool    string    `json:"tool"`
	Project string    `json:"project"`
	Host    string    `json:"host"`
	Port    int       `json:"port"`
	Rule    string    `json:"rule"`
}

// appendRefusal appends e to the refusal log; a log silo cannot write
// loses the entry, never the run.
func appendRefusal(homeDir string, e refusalEntry) {
	p := home.Dir(homeDir).RefusalLog()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	if fi, err := os.Stat(p); err == nil && fi.Size() >= refusalLogCap {
		_ = os.Rename(p, p+".1")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	data, _ := json.Marshal(e)
	_, _ = f.Write(append(data, '\n'))
}

// LogCmd is silo log.
type LogCmd struct {
	JSON  bool   `name:"json" help:"Print the entries as JSON."`
	Since string `help:"Only entries newer than this: a duration (1h, 30m) or a time (2026-12-03T09:00:00Z)." placeholder:"WHEN"`
}

// Help is silo log's example.
func (c *LogCmd) Help() string {
	return "Examples:\n  silo log\n  silo log --since 1h\n  silo log --json --since 2026-12-03T09:00:00Z"
}

// Run prints the refused connections.
func (c *LogCmd) Run(g *Globals) error {
	since, err := parseSince(c.Since)
	if err != nil {
		return err
	}
	p := home.Dir(g.home).RefusalLog()
	entries := []refusalEntry{}
	for _, f := range []string{p + ".1", p} {
		entries = append(entries, readRefusals(f, since)...)
	}
	if c.JSON {
		return printJSON(os.Stdout, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(os.Stderr, "silo: no refused connection logged")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTOOL\tDESTINATION\tPROJECT\tRULE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), safetext.Escape(e.Tool),
			safetext.Escape(net.JoinHostPort(e.Host, strconv.Itoa(e.Port))), safetext.Escape(e.Project), safetext.Escape(e.Rule))
	}
	return tw.Flush()
}

// parseSince reads --since: a duration back from now, or a time.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf("--since %q is neither a duration (1h, 30m) nor a time (2026-12-03T09:00:00Z)", s)
}

// readRefusals reads the log file p, the entries after since.
func readRefusals(p string, since time.Time) []refusalEntry {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []refusalEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		var e refusalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Time.Before(since) {
			continue
		}
		out = append(out, e)
	}
	return out
}
