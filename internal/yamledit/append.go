package yamledit

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AppendItem adds item (the text of a one-line block mapping or scalar,
// such as "path: patch.yaml") as the last item of the block sequence at
// the top-level key of document doc, indented as its items are; when the
// document has no such key, it adds the key with the item at the end of
// the document. Comments and every other line are kept.
func (f *File) AppendItem(doc int, key, item string) error {
	if doc < 0 || doc >= len(f.docs) {
		return fmt.Errorf("document %d not found", doc)
	}
	m := f.docs[doc]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: the document is not a mapping", m.Line)
	}
	seq := valueOf(m, key)
	if seq == nil {
		return f.appendKey(m, key, item)
	}
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return fmt.Errorf("line %d: %s is not a block list with items: %w", seq.Line, key, ErrCannotInsert)
	}
	// The first item's line up to its content is the prefix of an item
	// ("  - "); the last item ends before the next line indented no
	// deeper than its dash.
	first, last := seq.Content[0], seq.Content[len(seq.Content)-1]
	lineStart, err := f.offset(first.Line, 1)
	if err != nil {
		return err
	}
	contentStart, err := f.offset(first.Line, first.Column)
	if err != nil {
		return err
	}
	prefix := string(f.data[lineStart:contentStart])
	dash := strings.Index(prefix, "-")
	if dash < 0 || strings.TrimSpace(prefix) != "-" {
		return fmt.Errorf("line %d: %s: the first item does not start its line: %w", first.Line, key, ErrCannotInsert)
	}
	lines := strings.SplitAfter(string(f.data), "\n")
	end := last.Line // 1-based: the last line of the last item
	for i := last.Line; i < len(lines); i++ {
		text := strings.TrimRight(lines[i], "\r\n")
		trimmed := strings.TrimLeft(text, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if len(text)-len(trimmed) <= dash || trimmed == "---" || trimmed == "..." {
			break
		}
		end = i + 1
	}
	at := 0
	for _, l := range lines[:end] {
		at += len(l)
	}
	eol := "\n"
	if strings.HasSuffix(lines[first.Line-1], "\r\n") {
		eol = "\r\n"
	}
	text := prefix + item + eol
	if at > 0 && f.data[at-1] != '\n' {
		text = eol + text
	}
	return f.splice(at, at, text)
}

// appendKey adds "key:" with one item at the end of the document whose
// root mapping is m, at the indentation of m's keys.
func (f *File) appendKey(m *yaml.Node, key, item string) error {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("line %d: cannot add %s to an empty or flow-style mapping: %w", m.Line, key, ErrCannotInsert)
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	lines := strings.SplitAfter(string(f.data), "\n")
	// The document ends at the next "---" after its last key, or at the end.
	end := len(lines)
	for i := m.Content[len(m.Content)-1].Line; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i], "\r\n"); t == "---" || t == "..." {
			end = i
			break
		}
	}
	at := 0
	for _, l := range lines[:end] {
		at += len(l)
	}
	text := indent + scalarText(key) + ":\n" + indent + "  - " + item + "\n"
	if at > 0 && f.data[at-1] != '\n' {
		text = "\n" + text
	}
	return f.splice(at, at, text)
}
