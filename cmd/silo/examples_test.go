package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestEveryCommandHasAnExample renders --help for every visible command
// and checks that it shows an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(n *kong.Node, path []string)
	var paths [][]string
	walk = func(n *kong.Node, path []string) {
		for _, c := range n.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			paths = append(paths, p)
			walk(c, p)
		}
	}
	var cli CLI
	var out bytes.Buffer
	parser, err := kong.New(&cli, kong.Name("silo"), kong.Help(helpWithExample), kong.Writers(&out, &out),
		kong.Exit(func(int) { panic("exit") }), kong.Vars{"version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	walk(parser.Model.Node, nil)
	if len(paths) < 20 {
		t.Fatalf("found only %d commands", len(paths))
	}
	for _, p := range paths {
		out.Reset()
		func() {
			defer func() { _ = recover() }()
			_, _ = parser.Parse(append(p, "--help"))
		}()
		if !strings.Contains(out.String(), "Example") {
			t.Errorf("silo %s --help shows no example:\n%s", strings.Join(p, " "), out.String())
		}
	}
}
