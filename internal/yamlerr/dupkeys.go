package yamlerr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DuplicateKeyError is a key written twice in one mapping. YAML forbids
// it, and readers disagree on which value wins: yaml.v3 refuses it when it
// decodes into a map, sigs.k8s.io/yaml (so Helm and kubectl) keeps the
// last, kyaml's and yamledit's lookups the first. Two files concatenated
// without a "---" line make one such document.
type DuplicateKeyError struct {
	File  string // the file, when the caller knows it; else the message starts with "line N"
	Path  string // the key from the document's root: spec.ports[0].name, metadata.labels["app.kubernetes.io/name"]
	Line  int    // the line of the second key
	First int    // the line of the first key
}

// Msg is the message without file, line and path.
func (e *DuplicateKeyError) Msg() string {
	msg := fmt.Sprintf("duplicate key (first defined on line %d)", e.First)
	if e.Path == "apiVersion" || e.Path == "kind" {
		msg += "; two documents without a --- line between them?"
	}
	return msg
}

func (e *DuplicateKeyError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg())
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg())
}

// DuplicateKeys finds every key written twice in one mapping of the tree
// n (a document node or any node below one), at any depth, in block and
// flow style, in the order of the text; a key written three times is
// reported twice, each time against the first. Keys are compared as
// yaml.v3 compares them: two scalars with the same text ("1" and 1 are the
// same key, as they are in JSON). A key that a << merge brings in is not
// written in the mapping, so a key that overrides it is no duplicate (the
// merge rule); two << keys in one mapping are (write <<: [*a, *b]).
// Aliases are not followed: an anchored mapping is checked where it is
// written, once.
func DuplicateKeys(n *yaml.Node) []*DuplicateKeyError {
	w := &keyWalker{path: make([]step, 0, 16)} // deep enough for most manifests: one allocation
	w.walk(n)
	// A mapping is checked before the mappings in it: put the keys of
	// nested ones that come first in the text first.
	sort.SliceStable(w.dups, func(i, j int) bool { return w.dups[i].Line < w.dups[j].Line })
	return w.dups
}

// CheckKeys returns the first duplicate key below n, or nil.
func CheckKeys(n *yaml.Node) error {
	if dups := DuplicateKeys(n); len(dups) > 0 {
		return dups[0]
	}
	return nil
}

// CheckStream parses data, a YAML stream read from file, and returns its
// first syntax error ("file:line: invalid YAML: …") or duplicate key. It
// is for the files that bgrender reads with a decoder that takes a
// duplicate key silently (sigs.k8s.io/yaml, Helm's values).
func CheckStream(file string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			line, msg := Parse(err)
			if line == 0 {
				return fmt.Errorf("%s: invalid YAML: %s", file, msg)
			}
			return fmt.Errorf("%s:%d: invalid YAML: %s", file, line, msg)
		}
		if dups := DuplicateKeys(&doc); len(dups) > 0 {
			dups[0].File = file
			return dups[0]
		}
	}
}

// keyWalker walks a tree keeping the keys and indexes that lead to the
// node it is at; the path is spelt out only for a duplicate.
type keyWalker struct {
	path []step
	dups []*DuplicateKeyError
}

// step is one level of a path: a mapping key, or a sequence index when
// key is nil.
type step struct {
	key   *yaml.Node
	index int
}

func (w *keyWalker) walk(n *yaml.Node) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.path = append(w.path, step{index: i})
			w.walk(c)
			w.path = w.path[:len(w.path)-1]
		}
	case yaml.MappingNode:
		w.mapping(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.path = append(w.path, step{key: n.Content[i]})
			w.walk(n.Content[i+1])
			w.path = w.path[:len(w.path)-1]
		}
	}
}

// smallMapping is the size up to which a mapping's keys are compared
// pairwise: most Kubernetes mappings are small, and a map per mapping
// would cost more than the comparisons.
const smallMapping = 16

// mapping reports the keys of m written before in m.
func (w *keyWalker) mapping(m *yaml.Node) {
	keys := len(m.Content) / 2
	var seen map[string]*yaml.Node
	if keys > smallMapping {
		seen = make(map[string]*yaml.Node, keys)
	}
	for i := 0; i < keys; i++ {
		k := m.Content[2*i]
		if k.Kind != yaml.ScalarNode {
			continue // a complex key: not Kubernetes, and compared by nobody
		}
		var first *yaml.Node
		if seen != nil {
			if first = seen[k.Value]; first == nil {
				seen[k.Value] = k
			}
		} else {
			for j := 0; j < i; j++ {
				if prev := m.Content[2*j]; prev.Kind == yaml.ScalarNode && prev.Value == k.Value {
					first = prev
					break
				}
			}
		}
		if first != nil {
			w.path = append(w.path, step{key: k})
			w.dups = append(w.dups, &DuplicateKeyError{Path: w.spell(), Line: k.Line, First: first.Line})
			w.path = w.path[:len(w.path)-1]
		}
	}
}

// spell writes the current path as bgrender's messages do: dotted keys,
// bracketed indexes, and keys that are not plain words quoted in brackets.
func (w *keyWalker) spell() string {
	var b strings.Builder
	for _, s := range w.path {
		switch {
		case s.key == nil:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case !plainKey(s.key.Value):
			b.WriteString("[" + strconv.Quote(s.key.Value) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key.Value)
		}
	}
	return b.String()
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
