package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/silo-dev/silo/lock"
)

// CompletionCmd is silo completion SHELL.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

// Help is silo completion's example.
func (c *CompletionCmd) Help() string {
	return `Examples:
  silo completion bash > ~/.local/share/bash-completion/completions/silo
  silo completion zsh > "${fpath[1]}/_silo"
  silo completion fish > ~/.config/fish/completions/silo.fish`
}

// The scripts ask silo itself (silo __complete) for the candidates, so
// that commands, flags and the tool names of the user's configuration
// are always the binary's own.
const bashCompletion = `# silo completion for bash: silo completion bash
_silo() {
  local IFS=$'\n'
  COMPREPLY=($(silo __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _silo silo
`

const zshCompletion = `#compdef silo
# silo completion for zsh: silo completion zsh
_silo() {
  local -a candidates
  candidates=("${(@f)$(silo __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _silo silo
`

const fishCompletion = `# silo completion for fish: silo completion fish
complete -c silo -f -a '(silo __complete -- (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`

// Run prints the script.
func (c *CompletionCmd) Run() error {
	switch c.Shell {
	case "zsh":
		fmt.Print(zshCompletion)
	case "fish":
		fmt.Print(fishCompletion)
	default:
		fmt.Print(bashCompletion)
	}
	return nil
}

// completeCmd prints the candidates for the last of the words typed after
// silo (internal: the completion scripts call it).
type completeCmd struct {
	Words []string `arg:"" optional:"" passthrough:""`
}

// toolArgs are the commands whose first argument is a tool.
var toolArgs = map[string]bool{"run": true, "exec": true, "shell": true, "install": true, "uninstall": true,
	"pin": true, "unpin": true, "current": true, "shim": true, "lsp": true, "build": true, "rebuild": true}

// Run prints one candidate a line.
func (c *completeCmd) Run(g *Globals, k *kong.Kong) error {
	words := c.Words
	if len(words) > 0 && words[0] == "--" {
		words = words[1:]
	}
	cur := ""
	if len(words) > 0 {
		cur, words = words[len(words)-1], words[:len(words)-1]
	}
	var cands []string
	node := k.Model.Node
	var cmd *kong.Node
	args := 0
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			continue
		}
		if cmd == nil {
			for _, ch := range node.Children {
				if ch.Name == w {
					cmd = ch
				}
			}
			if cmd == nil {
				break // shorthand: silo TOOL ARGS
			}
			continue
		}
		if len(cmd.Children) > 0 {
			for _, ch := range cmd.Children {
				if ch.Name == w {
					cmd = ch
				}
			}
			continue
		}
		args++
	}
	switch {
	case strings.HasPrefix(cur, "-"):
		n := node
		if cmd != nil {
			n = cmd
		}
		for _, f := range n.AllFlags(true) {
			for _, fl := range f {
				if !fl.Hidden {
					cands = append(cands, "--"+fl.Name)
				}
			}
		}
	case cmd == nil && len(words) == 0:
		for _, ch := range node.Children {
			if !ch.Hidden {
				cands = append(cands, ch.Name)
			}
		}
		cands = append(cands, completeTools(g, true)...)
	case cmd != nil && len(cmd.Children) > 0:
		for _, ch := range cmd.Children {
			if !ch.Hidden {
				cands = append(cands, ch.Name)
			}
		}
	case cmd != nil && toolArgs[cmd.Name] && args == 0:
		cands = completeTools(g, cmd.Name == "install")
	case cmd != nil && cmd.Name == "shim" && args == 1:
		cands = []string{"add", "remove", "list"}
	case cmd != nil && cmd.Name == "completion":
		cands = []string{"bash", "zsh", "fish"}
	}
	sort.Strings(cands)
	for i, c := range cands {
		if strings.HasPrefix(c, cur) && (i == 0 || cands[i-1] != c) {
			fmt.Println(c)
		}
	}
	return nil
}

// completeTools are the tool names of the configuration, with the shim
// names and the catalog's when all.
func completeTools(g *Globals, all bool) []string {
	cfg, err := lock.Load(lock.Options{Home: g.home})
	if err != nil {
		return nil
	}
	names := cfg.ToolNames()
	if all {
		names = append(append(names, cfg.Shims()...), "claude-code")
	}
	return names
}
