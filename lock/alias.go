package lock

import (
	"fmt"
	"sort"
	"strings"
)

// toolAliases maps the tool names Silo's users type to silo's own.
var toolAliases = map[string]string{"claude-code": "claude"}

// CanonicalTool returns the name silo knows a tool by: "claude" for Silo's
// "claude-code", any other name unchanged. Load applies it to every tool
// name a file writes ([tool.NAME], [overrides.NAME], tools = […]) and
// [Config.Tool] to the name it is given; commands and shims resolving a
// tool name the user typed call it too.
func CanonicalTool(name string) string {
	if c, ok := toolAliases[name]; ok {
		return c
	}
	return name
}

// snakeKey is one of Silo's snake_case keys and silo's spelling of it.
type snakeKey struct{ snake, camel string }

// readSnakeCase reads Silo's snake_case keys of a silo.toml (pass_env,
// pass_files, pass_ssh_agent, at the top and in [overrides.TOOL]) as their
// camelCase keys, positions included. A file that sets both spellings of
// one key is an error naming both places. It returns the note to print
// once for the file, or "".
func (b *builder) readSnakeCase(l *layer, f *projectFile) string {
	var used []string
	top := []snakeKey{{"pass_env", "passEnv"}, {"pass_files", "passFiles"}, {"pass_ssh_agent", "passSshAgent"}}
	if b.alias(l, nil, top, &used) {
		f.PassEnv, f.PassFiles = append(f.PassEnv, f.PassEnvSnake...), append(f.PassFiles, f.PassFilesSnake...)
		if f.PassSSHAgentSnake != nil {
			f.PassSSHAgent = f.PassSSHAgentSnake
		}
	}
	for _, k := range sortedKeys(f.Overrides) {
		o := f.Overrides[k]
		if o == nil {
			continue
		}
		over := []snakeKey{{"pass_env", "passEnv"}, {"pass_ssh_agent", "passSshAgent"}}
		if b.alias(l, []string{"overrides", k}, over, &used) {
			o.PassEnv = append(o.PassEnv, o.PassEnvSnake...)
			if o.PassSSHAgentSnake != nil {
				o.PassSSHAgent = o.PassSSHAgentSnake
			}
		}
	}
	if len(used) == 0 {
		return ""
	}
	return fmt.Sprintf("silo: %s: read Silo's spelling %s; silo documents the camelCase keys: rename them", l.file, strings.Join(used, ", "))
}

// alias checks the snake_case keys of one table (prefix) and copies the
// positions of those that are set to their camelCase paths. It reports
// whether the table's values may be moved (no key set both ways).
func (b *builder) alias(l *layer, prefix []string, keys []snakeKey, used *[]string) bool {
	ok := true
	for _, k := range keys {
		sp, snake := l.ix.at(at(prefix, k.snake)...)
		if !snake {
			continue
		}
		if cp, camel := l.ix.at(at(prefix, k.camel)...); camel {
			b.fail(l, at(prefix, k.snake), "`%s` (line %d) and `%s` (line %d) set the same thing: keep one, `%s`",
				k.snake, sp.Line, k.camel, cp.Line, k.camel)
			ok = false
			continue
		}
		*used = append(*used, fmt.Sprintf("%s (line %d) as %s", strings.Join(at(prefix, k.snake), "."), sp.Line, k.camel))
		from := strings.Join(at(prefix, k.snake), pathSep)
		to := strings.Join(at(prefix, k.camel), pathSep)
		var moved []string
		for p := range l.ix {
			if p == from || strings.HasPrefix(p, from+pathSep) {
				moved = append(moved, p)
			}
		}
		sort.Strings(moved)
		for _, p := range moved {
			l.ix[to+strings.TrimPrefix(p, from)] = l.ix[p]
		}
	}
	return ok
}
