package jsonc

import (
	"encoding/json"
	"fmt"
)

// parser is a recursive-descent JSONC parser that records spans.
type parser struct {
	s       []byte
	i       int
	depth   int
	openEnd bool // a /* comment ran to the end of the text
}

const maxDepth = 512

func (p *parser) errorf(format string, args ...any) error {
	line, col := 1, 1
	for _, c := range p.s[:min(p.i, len(p.s))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d column %d: %s", line, col, fmt.Sprintf(format, args...))
}

// skip passes whitespace and comments.
func (p *parser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.i++
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '/':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '*':
			p.i += 2
			for p.i < len(p.s) && !(p.s[p.i] == '*' && p.i+1 < len(p.s) && p.s[p.i+1] == '/') {
				p.i++
			}
			if p.i >= len(p.s) {
				p.openEnd = true
			}
			p.i = min(p.i+2, len(p.s))
		default:
			return
		}
	}
}

// value parses one value at p.i (whitespace skipped).
func (p *parser) value() (*node, error) {
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of file")
	}
	start := p.i
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		if err := p.str(); err != nil {
			return nil, err
		}
	default:
		for p.i < len(p.s) && !isDelim(p.s[p.i]) {
			p.i++
		}
		var v any
		if p.i == start || json.Unmarshal(p.s[start:p.i], &v) != nil {
			return nil, p.errorf("not a JSON value: %q", p.s[start:max(p.i, start+1)])
		}
	}
	return &node{start: start, end: p.i}, nil
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '/', '"':
		return true
	}
	return false
}

// str passes one string token.
func (p *parser) str() error {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			return nil
		case '\n':
			return p.errorf("a line break inside a string")
		}
		p.i++
	}
	p.i = start
	return p.errorf("a string that does not end")
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nested more than %d deep", maxDepth)
	}
	return nil
}

func (p *parser) object() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{start: p.i, object: true}
	p.i++
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			n.end = p.i
			return n, nil
		}
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected a key in quotes or }")
		}
		ks := p.i
		if err := p.str(); err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(p.s[ks:p.i], &key); err != nil {
			return nil, p.errorf("bad key %s", p.s[ks:p.i])
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected : after the key %q", key)
		}
		p.i++
		p.skip()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, value: v})
		if err := p.comma('}'); err != nil {
			return nil, err
		}
	}
}

func (p *parser) array() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{start: p.i}
	p.i++
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			n.end = p.i
			return n, nil
		}
		if _, err := p.value(); err != nil {
			return nil, err
		}
		if err := p.comma(']'); err != nil {
			return nil, err
		}
	}
}

// comma passes the comma after a member or element, or stops before the
// closing bracket.
func (p *parser) comma(close byte) error {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == close {
		return nil
	}
	return p.errorf("expected , or %c", close)
}
