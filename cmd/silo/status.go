package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/silo-dev/silo/internal/fsutil"
	"github.com/silo-dev/silo/internal/safetext"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/silo-dev/silo/internal/home"
	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
	"github.com/silo-dev/silo/vm/netproxy"
)

// runRecord is what silo keeps about one run while it runs: its record in
// $SILO_HOME/sandboxes (silo status), and the connections the network
// policy refused (printed after the command, and logged).
type runRecord struct {
	g       *Globals
	rec     sandboxRecord
	mu      sync.Mutex
	refused []netproxy.Event // the first refusal of each host:port
	seen    map[string]bool
}

// sandboxRecord is one running sandbox, as silo status shows it.
type sandboxRecord struct {
	PID     int    `json:"pid"`
	Tool    string `json:"tool"`
	Image   string `json:"image"`
	Project string `json:"project"`
	Backend string `json:"backend"`
	// Role is what the run is for beyond running its tool: "language
	// server" for silo lsp, else "".
	Role    string    `json:"role,omitempty"`
	Started time.Time `json:"started"`
	// StartTicks is the process's start time in clock ticks since boot
	// (/proc/PID/stat), so that a reused PID is not taken for the run.
	StartTicks uint64 `json:"startTicks,omitempty"`
}

// newRunRecord starts the record of a run of plan on backend.
func newRunRecord(g *Globals, plan *sandbox.Plan, backend string) *runRecord {
	tool := "image"
	if plan.Tool != nil {
		tool = plan.Tool.Name
	}
	return &runRecord{g: g, seen: map[string]bool{}, rec: sandboxRecord{
		PID: os.Getpid(), Tool: tool, Image: plan.Image, Project: plan.Spec.Workspace,
		Backend: backend, Started: time.Now().UTC(), StartTicks: startTicks(os.Getpid()),
	}}
}

// event takes the proxy's decisions (sandbox.Options.Events): every
// refusal is logged; the first of each host:port is kept for the advice.
func (r *runRecord) event(e netproxy.Event) {
	if e.Allowed {
		return
	}
	appendRefusal(r.g.home, refusalEntry{Time: e.Time.UTC(), Tool: r.rec.Tool, Project: r.rec.Project,
		Host: e.Host, Port: e.Port, Rule: refusalReason(e)})
	dest := e.Host + ":" + strconv.Itoa(e.Port)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen[dest] {
		r.seen[dest] = true
		r.refused = append(r.refused, e)
	}
}

// run runs the sandbox, recorded for silo status while it runs; then it
// prints the refused connections with the silo.toml lines that allow
// them.
func (r *runRecord) run(ctx context.Context, sb *sandbox.Sandbox, policy lock.CachePolicy) (int, error) {
	path := r.write()
	defer func() {
		if path != "" {
			os.Remove(path)
		}
	}()
	maybePolicyGC(r.g, policy)
	code, err := sb.Run(ctx)
	r.printRefusals()
	return code, err
}

// write records the run; a home it cannot write to only loses the record.
func (r *runRecord) write() string {
	dir := home.Dir(r.g.home).Sandboxes()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	data, _ := json.Marshal(r.rec)
	p := filepath.Join(dir, strconv.Itoa(r.rec.PID)+".json")
	// A record lives as long as its run: it needs no fsync.
	if fsutil.WriteFile(p, data, fsutil.WriteOptions{Perm: 0o600}) != nil {
		return ""
	}
	return p
}

// printRefusals says, once per refused host, what was refused and the
// lines that would allow it: an HTTPS client shows its user only the
// proxy's 403.
func (r *runRecord) printRefusals() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) == 0 || r.g.Quiet {
		return
	}
	var b strings.Builder
	print := netproxy.PrintRefusals(&b)
	for _, e := range r.refused {
		print(e)
		if e.Refused != nil {
			advice := e.Refused.Advice(r.rec.Tool)
			if _, rest, ok := strings.Cut(advice, "\n"); ok && strings.TrimSpace(rest) != "" {
				b.WriteString(indent(rest))
			}
		}
	}
	// The hosts are what the sandbox asked for: escape them.
	fmt.Fprint(os.Stderr, safetext.Lines(b.String()))
}

// indent prefixes every line of s with "silo: ".
func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("silo: " + l + "\n")
	}
	return b.String()
}

func refusalReason(e netproxy.Event) string {
	if e.Refused != nil {
		return e.Refused.Reason
	}
	return "refused"
}

// startTicks is the start time of process pid in clock ticks after boot,
// or 0 where /proc does not say.
func startTicks(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// alive reports whether the record's process still runs (and is the
// same process, where /proc says).
func (s sandboxRecord) alive() bool {
	if s.PID <= 0 {
		return false
	}
	if err := syscall.Kill(s.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return s.StartTicks == 0 || startTicks(s.PID) == s.StartTicks
}

// running reads the records of the running sandboxes; those of dead
// processes are removed.
func running(homeDir string) []sandboxRecord {
	dir := home.Dir(homeDir).Sandboxes()
	ents, _ := os.ReadDir(dir)
	out := []sandboxRecord{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		var rec sandboxRecord
		if err != nil || json.Unmarshal(data, &rec) != nil || !rec.alive() {
			os.Remove(p)
			continue
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// StatusCmd is silo status.
type StatusCmd struct {
	JSON bool `name:"json" help:"Print the status as JSON."`
}

// Help is silo status's example.
func (c *StatusCmd) Help() string {
	return "Examples:\n  silo status\n  silo status --json"
}

// statusOutput is silo status --json.
type statusOutput struct {
	Running []statusRun  `json:"running"`
	Project string       `json:"project,omitempty"`
	Tools   []statusTool `json:"tools"`
}

type statusRun struct {
	sandboxRecord
	AgeSeconds int64 `json:"ageSeconds"`
}

type statusTool struct {
	Name      string `json:"name"`
	Installed bool   `json:"installed"`
	Pinned    bool   `json:"pinned"`
	// InSync says whether the store matches the project's silo.lock for
	// the tool; absent when the project has no lock entry for it.
	InSync  *bool    `json:"inSync,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// Run prints the running sandboxes and this project's tools.
func (c *StatusCmd) Run(g *Globals) error {
	out := statusOutput{Running: []statusRun{}, Tools: []statusTool{}}
	now := time.Now()
	for _, r := range running(g.home) {
		out.Running = append(out.Running, statusRun{r, int64(now.Sub(r.Started).Seconds())})
	}
	cfg, err := lock.Load(lock.Options{Home: g.home})
	if err == nil && cfg.ProjectRoot() != "" {
		out.Project = cfg.ProjectRoot()
		pins := readPins(g.home)
		data, _ := os.ReadFile(home.Dir(g.home).GlobalConfig())
		states := syncStates(g, cfg)
		for _, t := range cfg.ProjectTools() {
			st := statusTool{Name: t, Installed: lock.ToolBlock(data, t) != nil, Pinned: pins[t]}
			if s, ok := states[t]; ok {
				st.InSync, st.Reasons = &s.InSync, s.Reasons
			}
			out.Tools = append(out.Tools, st)
		}
	}
	if c.JSON {
		return printJSON(os.Stdout, out)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	if len(out.Running) == 0 {
		fmt.Fprintln(tw, "No sandbox is running.")
	} else {
		fmt.Fprintln(tw, "PID\tTOOL\tPROJECT\tBACKEND\tAGE")
		for _, r := range out.Running {
			tool := r.Tool
			if r.Role != "" {
				tool += " (" + r.Role + ")"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.PID, tool, r.Project, r.Backend, (time.Duration(r.AgeSeconds) * time.Second).String())
		}
	}
	if out.Project != "" {
		fmt.Fprintf(tw, "\nProject %s:\nTOOL\tINSTALLED\tPINNED\tSILO.LOCK\n", out.Project)
		for _, t := range out.Tools {
			sync := "no entry"
			if t.InSync != nil && *t.InSync {
				sync = "in sync"
			} else if t.InSync != nil {
				sync = "out of sync: " + strings.Join(t.Reasons, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, yesNo(t.Installed), yesNo(t.Pinned), sync)
		}
	}
	if err != nil {
		fmt.Fprintf(tw, "\n(the configuration here does not load: %v)\n", err)
	}
	return tw.Flush()
}

// syncStates is, for a project with a silo.lock, each locked tool's state
// (the build's sandbox.Builder.Sync, changing nothing); nil otherwise.
func syncStates(g *Globals, cfg *lock.Config) map[string]sandbox.ToolState {
	if _, err := os.Stat(filepath.Join(cfg.ProjectRoot(), "silo.lock")); err != nil {
		return nil
	}
	out := map[string]sandbox.ToolState{}
	_ = withBuilder(g, func(ctx context.Context, b *sandbox.Builder, p *sandbox.Project) error {
		states, err := b.Sync(ctx, p, sandbox.ModeStatus)
		for _, s := range states {
			out[s.Tool] = s
		}
		return err
	})
	return out
}
