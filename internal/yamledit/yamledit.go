// Package yamledit edits YAML files that people wrote by hand, changing only
// the bytes of the values it sets. It parses the file into a YAML node tree
// (comments, positions and styles included) to find a value, then splices
// the new value into the original text, so a diff touches only the lines
// that change: comments, blank lines, quoting and indentation elsewhere stay
// exactly as they were. A re-encoding editor such as kyaml keeps comments
// but drops blank lines and normalises indentation; this one does not
// re-encode at all.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

// File is a YAML stream of one or more documents.
type File struct {
	data []byte
	docs []*yaml.Node // the root node of each document
}

// Parse parses a YAML stream. A key written twice in one mapping is an
// error (a *yamlerr.DuplicateKeyError with both lines): which of the two
// an edit should change, and which one Kubernetes reads, is unclear.
func Parse(data []byte) (*File, error) {
	f := &File{data: data}
	return f, f.parse()
}

func (f *File) parse() error {
	f.docs = f.docs[:0]
	dec := yaml.NewDecoder(bytes.NewReader(f.data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(doc.Content) == 0 {
			continue
		}
		if err := yamlerr.CheckKeys(&doc); err != nil {
			return err
		}
		f.docs = append(f.docs, doc.Content[0])
	}
}

// Clone returns a copy of the file that edits do not share.
func (f *File) Clone() (*File, error) {
	return Parse(append([]byte(nil), f.data...))
}

// Bytes returns the text of the file with every edit applied.
func (f *File) Bytes() []byte { return f.data }

// Docs returns the root node of each non-empty document.
func (f *File) Docs() []*yaml.Node { return f.docs }

// Lookup follows a path of mapping keys from n; it returns nil when a key
// is missing or a node on the way is not a mapping.
func Lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		n = valueOf(n, key)
	}
	return n
}

// Scalar returns the value of the scalar at path below n, or "".
func Scalar(n *yaml.Node, path ...string) string {
	v := Lookup(n, path...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// SetString sets the string at path in document doc, keeping the quoting
// style of the old value where the new one allows it. Missing mappings on
// the path are created. It reports whether the text changed.
func (f *File) SetString(doc int, path []string, value string) (bool, error) {
	return f.set(doc, path, value, false)
}

// SetInt sets the integer at path in document doc, as SetString does.
func (f *File) SetInt(doc int, path []string, value int64) (bool, error) {
	return f.set(doc, path, strconv.FormatInt(value, 10), true)
}

func (f *File) set(doc int, path []string, value string, isInt bool) (bool, error) {
	if doc < 0 || doc >= len(f.docs) {
		return false, fmt.Errorf("document %d not found", doc)
	}
	return f.setAt(f.docs[doc], path, value, isInt)
}

// SetNode sets the string at path below n, a mapping node of this file
// (such as an item of a sequence found with Lookup). Nodes found before an
// edit are stale after it: look them up again.
func (f *File) SetNode(n *yaml.Node, path []string, value string) (bool, error) {
	return f.setAt(n, path, value, false)
}

// SetNodeInt is SetNode for an integer.
func (f *File) SetNodeInt(n *yaml.Node, path []string, value int64) (bool, error) {
	return f.setAt(n, path, strconv.FormatInt(value, 10), true)
}

func (f *File) setAt(n *yaml.Node, path []string, value string, isInt bool) (bool, error) {
	if len(path) == 0 {
		return false, errors.New("empty path")
	}
	for i, key := range path {
		if n.Kind != yaml.MappingNode {
			return false, fmt.Errorf("line %d: %s is not a mapping", n.Line, strings.Join(path[:i], "."))
		}
		next := valueOf(n, key)
		if next == nil {
			return true, f.insert(n, path[:i], path[i:], value, isInt)
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode {
		return false, fmt.Errorf("line %d: %s is not a scalar", n.Line, strings.Join(path, "."))
	}
	if n.Value == value && (isInt == (n.Tag == "!!int")) {
		return false, nil
	}
	return true, f.replace(n, strings.Join(path, "."), value, isInt)
}

// replace splices a new scalar over the text of n.
func (f *File) replace(n *yaml.Node, where, value string, isInt bool) error {
	if n.Anchor != "" || n.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return fmt.Errorf("line %d: %s: cannot edit an anchored, tagged or block scalar in place", n.Line, where)
	}
	start, err := f.offset(n.Line, n.Column)
	if err != nil {
		return err
	}
	end, err := scalarEnd(f.data, start, n)
	if err != nil {
		return fmt.Errorf("line %d: %s: %w", n.Line, where, err)
	}
	text := valueText(value, isInt, n.Style)
	return f.splice(start, end, text)
}

// valueText renders value for a place whose old style was style.
func valueText(value string, isInt bool, style yaml.Style) string {
	if isInt {
		return value
	}
	switch {
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(value)
	}
	return scalarText(value)
}

// scalarText renders a string as a plain scalar when YAML reads it back as
// the same string, else double-quoted.
func scalarText(value string) string {
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
	s := strings.TrimSuffix(string(out), "\n")
	if err == nil && !strings.ContainsAny(s, "\n\"'") && s == value {
		return s
	}
	return strconv.Quote(value)
}

// insert adds the keys rest (the first missing one and those below it) to
// the block mapping m, before its first key, with the same indentation.
func (f *File) insert(m *yaml.Node, have, rest []string, value string, isInt bool) error {
	where := strings.Join(append(append([]string{}, have...), rest...), ".")
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("line %d: cannot add %s to an empty or flow-style mapping; add it by hand: %w", m.Line, where, ErrCannotInsert)
	}
	first := m.Content[0]
	lineStart, err := f.offset(first.Line, 1)
	if err != nil {
		return err
	}
	keyStart, err := f.offset(first.Line, first.Column)
	if err != nil {
		return err
	}
	indent := string(f.data[lineStart:keyStart])
	// New lines end as the file's lines do, and nest by the file's step.
	style := lineStyle{eol: "\n", step: "  "}
	if i := bytes.IndexByte(f.data[keyStart:], '\n'); i > 0 && f.data[keyStart+i-1] == '\r' {
		style.eol = "\r\n"
	}
	if n := indentStep(m); n > 0 {
		style.step = strings.Repeat(" ", n)
	}
	if strings.TrimLeft(indent, " ") != "" {
		// The first key shares its line with something else (such as
		// "- " of a sequence item): insert after the key's indentation.
		lineStart, indent = keyStart, strings.Repeat(" ", first.Column-1)
		var b strings.Builder
		writeKeys(&b, "", rest, value, isInt, style)
		return f.splice(lineStart, lineStart, b.String()+indent)
	}
	var b strings.Builder
	writeKeys(&b, indent, rest, value, isInt, style)
	return f.splice(lineStart, lineStart, b.String())
}

// ErrCannotInsert: a key cannot be added where the path leads, such as
// into a flow-style mapping.
var ErrCannotInsert = errors.New("cannot insert a key here")

// lineStyle is how the lines of a file end and how far a nested block
// mapping is indented.
type lineStyle struct{ eol, step string }

// indentStep returns how many columns the block mappings below m are
// indented from their key, or 0 when m has none.
func indentStep(m *yaml.Node) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Line > k.Line {
			if n := v.Content[0].Column - k.Column; n > 0 {
				return n
			}
		}
	}
	return 0
}

func writeKeys(b *strings.Builder, indent string, keys []string, value string, isInt bool, style lineStyle) {
	for i, key := range keys {
		b.WriteString(indent + strings.Repeat(style.step, i) + scalarText(key) + ":")
		if i == len(keys)-1 {
			b.WriteString(" " + valueText(value, isInt, 0))
		}
		b.WriteString(style.eol)
	}
}

func (f *File) splice(start, end int, text string) error {
	data := make([]byte, 0, len(f.data)-(end-start)+len(text))
	data = append(data, f.data[:start]...)
	data = append(data, text...)
	data = append(data, f.data[end:]...)
	old := f.data
	f.data = data
	if err := f.parse(); err != nil {
		f.data = old
		f.parse() //nolint:errcheck // parsed before
		return fmt.Errorf("edit would make invalid YAML: %w", err)
	}
	return nil
}

// offset converts a 1-based line and (rune) column into a byte offset.
func (f *File) offset(line, column int) (int, error) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(f.data[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("line %d is past the end of the file", line)
		}
		off += i + 1
	}
	for c := 1; c < column; c++ {
		if off >= len(f.data) {
			return 0, fmt.Errorf("line %d column %d is past the end of the file", line, column)
		}
		_, size := utf8.DecodeRune(f.data[off:])
		off += size
	}
	return off, nil
}

// scalarEnd finds the end of the single-line scalar n that starts at start.
func scalarEnd(data []byte, start int, n *yaml.Node) (int, error) {
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			case '\n':
				return 0, errors.New("cannot edit a multi-line quoted scalar in place")
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(data); i++ {
			switch data[i] {
			case '\'':
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			case '\n':
				return 0, errors.New("cannot edit a multi-line quoted scalar in place")
			}
		}
	default:
		end := start + len(n.Value)
		if strings.Contains(n.Value, "\n") || end > len(data) || string(data[start:end]) != n.Value {
			return 0, errors.New("cannot edit a multi-line scalar in place")
		}
		return end, nil
	}
	return 0, errors.New("unterminated quoted scalar")
}

// Delete removes the key at path in document doc, with its scalar value,
// by removing its line: the key must start its line in a block mapping
// and its value must be a scalar on the same line (a trailing comment goes
// with it). It reports whether the key was there. A mapping that the key
// would leave empty goes with it, when that mapping is itself the value of
// a key that starts its line in a block mapping with other keys (so
// metadata.annotations goes when its last annotation does); a key that
// shares its line cannot be removed this way.
func (f *File) Delete(doc int, path []string) (bool, error) {
	if doc < 0 || doc >= len(f.docs) || len(path) == 0 {
		return false, fmt.Errorf("document %d, path %q not found", doc, path)
	}
	m := Lookup(f.docs[doc], path[:len(path)-1]...)
	if m == nil || m.Kind != yaml.MappingNode {
		return false, nil
	}
	where := strings.Join(path, ".")
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value != path[len(path)-1] {
			continue
		}
		if m.Style&yaml.FlowStyle != 0 || v.Kind != yaml.ScalarNode || v.Line != k.Line {
			return false, fmt.Errorf("line %d: cannot remove %s: it is not a one-line entry of a block mapping; remove it by hand: %w", k.Line, where, ErrCannotInsert)
		}
		first := k
		if len(m.Content) == 2 { // the mapping goes too, with its key
			parent := f.keyOf(doc, path[:len(path)-1])
			if parent == nil {
				return false, fmt.Errorf("line %d: cannot remove %s: it is the only key of its mapping; remove it by hand: %w", k.Line, where, ErrCannotInsert)
			}
			first = parent
		}
		start, err := f.lineStart(first, where)
		if err != nil {
			return false, err
		}
		end := len(f.data)
		if lineEnd, err := f.offset(k.Line, 1); err == nil {
			if j := bytes.IndexByte(f.data[lineEnd:], '\n'); j >= 0 {
				end = lineEnd + j + 1
			}
		}
		return true, f.splice(start, end, "")
	}
	return false, nil
}

// keyOf returns the key node of path in document doc when it can be
// removed with its value: it starts its line in a block mapping that has
// other keys. Else nil.
func (f *File) keyOf(doc int, path []string) *yaml.Node {
	if len(path) == 0 {
		return nil
	}
	m := Lookup(f.docs[doc], path[:len(path)-1]...)
	if m == nil || m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 || len(m.Content) <= 2 {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Value == path[len(path)-1] {
			if v := m.Content[i+1]; v.Kind != yaml.MappingNode || v.Style&yaml.FlowStyle != 0 {
				return nil
			}
			return k
		}
	}
	return nil
}

// lineStart returns the offset of the line of key k, which must start it.
func (f *File) lineStart(k *yaml.Node, where string) (int, error) {
	start, err := f.offset(k.Line, 1)
	if err != nil {
		return 0, err
	}
	keyStart, err := f.offset(k.Line, k.Column)
	if err != nil {
		return 0, err
	}
	if strings.TrimLeft(string(f.data[start:keyStart]), " ") != "" {
		return 0, fmt.Errorf("line %d: cannot remove %s: it shares its line; remove it by hand: %w", k.Line, where, ErrCannotInsert)
	}
	return start, nil
}
