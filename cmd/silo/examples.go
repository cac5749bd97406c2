package main

import (
	"fmt"
	"strings"

	"github.com/alecthomas/kong"
)

// examples are the examples --help shows for the commands whose type has
// no Help method of its own, by command path.
var examples = map[string]string{
	"":                      "silo install python && eval \"$(silo shellenv)\" && python script.py",
	"lsp":                   "silo lsp python      # an editor runs this as the language server",
	"build":                 "silo build python pip install -r requirements.txt",
	"rebuild":               "silo rebuild python",
	"pull":                  "silo pull            # after cloning a project with a silo.lock",
	"image":                 "silo image pull python:3.12-slim",
	"image pull":            "silo image pull python:3.12-slim\n  silo image pull oci-layout:./img --dir",
	"image ls":              "silo image ls --json",
	"image rm":              "silo image rm python:3.12-slim && silo store gc",
	"image inspect":         "silo image inspect python:3.12-slim",
	"config":                "silo config show python",
	"config show":           "silo config show python\n  silo config show --json",
	"config path":           "silo config path --all",
	"config trust":          "silo config trust ./silo.toml --expect 0123abcd…   # the hash silo printed",
	"store":                 "silo store gc --dry-run",
	"store add":             "silo store add ./dir",
	"store ls":              "silo store ls --json",
	"store path-info":       "silo store path-info NAME",
	"store verify":          "silo store verify --repair",
	"store gc":              "silo store gc --dry-run",
	"store roots":           "silo store roots",
	"store compress":        "silo store compress --all",
	"cache":                 "silo cache report",
	"cache report":          "silo cache report --json",
	"cache list":            "silo cache list --kind rootfs",
	"cache gc":              "silo cache gc --max-size 10240\n  silo cache gc --tool-caches --dry-run",
	"cache compress":        "silo cache compress",
	"cache clean":           "silo cache clean",
	"runtime":               "silo runtime status",
	"runtime import-kernel": "silo runtime import-kernel /boot/vmlinuz-$(uname -r)",
	"runtime status":        "silo runtime status",
	"runtime gc":            "silo runtime gc",
	"doctor":                "silo doctor",
	"version":               "silo version     # or silo --version",
}

// helpWithExample is kong's help, then the command's example when its
// type does not print one itself.
func helpWithExample(o kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(o, ctx); err != nil {
		return err
	}
	if sel := ctx.Selected(); sel != nil && sel.Help != "" && strings.Contains(sel.Help, "Example") {
		return nil
	}
	var path []string
	if sel := ctx.Selected(); sel != nil {
		for n := sel; n != nil && n.Type != kong.ApplicationNode; n = n.Parent {
			path = append([]string{n.Name}, path...)
		}
	}
	if ex, ok := examples[strings.Join(path, " ")]; ok {
		fmt.Fprintf(ctx.Stdout, "\nExample:\n  %s\n", ex)
	}
	return nil
}
