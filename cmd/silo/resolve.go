package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/sandbox"
)

// resolveTool turns the tool word of a command line into a tool: a tool's
// name (claude-code for claude included), or one of a tool's shims, which
// then runs (silo npm test runs node's npm). An unknown word is an error
// with the nearest name; reached as silo WORD (shorthand), it is an
// unknown command, a usage error.
func resolveTool(cfg *lock.Config, req *sandbox.Request, shorthand bool) error {
	if req.Image != "" || req.Tool == "" {
		return nil
	}
	name := lock.CanonicalTool(req.Tool)
	if slices.Contains(cfg.ToolNames(), name) {
		req.Tool = name
		return nil
	}
	if tool, _, ok := cfg.Shim(req.Tool); ok && req.Shim == "" {
		req.Tool, req.Shim = tool, req.Tool
		return nil
	}
	candidates := append(cfg.ToolNames(), cfg.Shims()...)
	if strings.HasPrefix(req.Tool, "-") {
		return usageErrorf("unknown flag %s (see silo run --help)", req.Tool)
	}
	if shorthand {
		candidates = append(candidates, commandNames...)
		return usageErrorf("unknown command or tool %q%s (see silo --help, or silo list --available)", req.Tool, didYouMean(req.Tool, candidates))
	}
	return usageErrorf("no tool named %q%s (see silo list --available; install one with silo install TOOL)", req.Tool, didYouMean(req.Tool, candidates))
}

// didYouMean is " — did you mean X?" for the candidate nearest to word,
// or "" when none is near.
func didYouMean(word string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		if d := editDistance(word, c); best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= len(word)/3+1 {
		return fmt.Sprintf(" — did you mean %q?", best)
	}
	for _, c := range candidates {
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			return fmt.Sprintf(" — did you mean %q?", c)
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// UsageError is a command line silo cannot read: it exits with status 2
// after one line on stderr.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}
