package main

import (
	"errors"
	"strings"

	"github.com/alecthomas/kong"
)

// globalValueFlags are silo's global flags that take a value as the next
// word: the shorthand scan skips them.
var globalValueFlags = map[string]bool{"--home": true, "--backend": true, "--agent": true, "--boot-timeout": true, "--hang-timeout": true}

// shorthandAt finds the first word of args that is not a global flag; if
// it names no command, it is shorthand for silo run (silo python x.py),
// and shorthandAt returns where to insert "run".
func shorthandAt(args []string, cmds []*kong.Node) (int, bool) {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "--" {
			return 0, false
		}
		if globalValueFlags[args[i]] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return 0, false
	}
	for _, c := range cmds {
		if c.Name == args[i] || contains(c.Aliases, args[i]) {
			return 0, false
		}
	}
	if args[i] == "help" {
		return 0, false
	}
	return i, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseError is a kong parse error as one line and the help to read.
func parseError(err error) error {
	var pe *kong.ParseError
	cmd := ""
	if errors.As(err, &pe) && pe.Context != nil {
		if c := pe.Context.Command(); c != "" {
			cmd = " " + strings.Fields(strings.ReplaceAll(c, "<", " <"))[0]
		}
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "unexpected argument ") {
		w := strings.TrimPrefix(msg, "unexpected argument ")
		msg += didYouMean(w, commandNames)
	}
	return usageErrorf("%s (see silo%s --help)", msg, cmd)
}
