package yamledit

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetFlowList sets the value at path in document doc to a one-line flow
// sequence of the strings items, such as [a, "b c"]: it replaces a flow
// sequence of scalars on one line, or a scalar, that is there, and adds
// the key (as SetString does) when it is missing. Other lines are kept.
func (f *File) SetFlowList(doc int, path []string, items []string) error {
	if doc < 0 || doc >= len(f.docs) || len(path) == 0 {
		return fmt.Errorf("document %d, path %q not found", doc, path)
	}
	text := flowText(items)
	m := Lookup(f.docs[doc], path[:len(path)-1]...)
	var n *yaml.Node
	if m != nil && m.Kind == yaml.MappingNode {
		n = valueOf(m, path[len(path)-1])
	}
	if n == nil {
		_, err := f.set(doc, path, text, true) // verbatim, as an integer is
		return err
	}
	where := strings.Join(path, ".")
	start, err := f.offset(n.Line, n.Column)
	if err != nil {
		return err
	}
	end, err := flowEnd(f.data, start, n)
	if err != nil {
		return fmt.Errorf("line %d: %s: %w", n.Line, where, err)
	}
	return f.splice(start, end, text)
}

// flowText is items as a flow sequence, each a plain scalar when YAML
// reads it back as the same string, else double-quoted.
func flowText(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = scalarText(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// flowEnd finds the end of n, which starts at start: a scalar, or a flow
// sequence of scalars on one line.
func flowEnd(data []byte, start int, n *yaml.Node) (int, error) {
	switch {
	case n.Kind == yaml.ScalarNode:
		return scalarEnd(data, start, n)
	case n.Kind != yaml.SequenceNode || n.Style&yaml.FlowStyle == 0:
		return 0, errors.New("not a flow sequence or a scalar: edit it by hand")
	}
	at := start + 1
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || item.Line != n.Line {
			return 0, errors.New("not a one-line flow sequence of scalars: edit it by hand")
		}
		from, err := offsetIn(data, start, n.Column, item.Column)
		if err != nil {
			return 0, err
		}
		if at, err = scalarEnd(data, from, item); err != nil {
			return 0, err
		}
	}
	i := at
	for i < len(data) && (data[i] == ' ' || data[i] == ',') {
		i++
	}
	if i >= len(data) || data[i] != ']' {
		return 0, errors.New("not a one-line flow sequence: edit it by hand")
	}
	return i + 1, nil
}

// offsetIn is the offset of column col on the line where column base is
// at offset start.
func offsetIn(data []byte, start, base, col int) (int, error) {
	off := start + col - base
	if off < start || off > len(data) {
		return 0, errors.New("a column outside the line")
	}
	return off, nil
}
