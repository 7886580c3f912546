package postrender

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

// chunk is one document of the stream as it arrived: its bytes, including
// the separator line that opened it, and its first line in the stream.
type chunk struct {
	raw  []byte
	line int // 1-based line of raw's first byte
}

// split cuts a YAML stream into documents at "---" separator lines, keeping
// every byte: concatenating the chunks gives back the input.
func split(data []byte) []chunk {
	var chunks []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if end >= 0 {
			next = i + end + 1
		}
		if i > start && isSeparator(data[i:next]) {
			chunks = append(chunks, chunk{raw: data[start:i], line: startLine})
			start, startLine = i, line
		}
		line++
		i = next
	}
	if start < len(data) {
		chunks = append(chunks, chunk{raw: data[start:], line: startLine})
	}
	return chunks
}

// isSeparator reports whether a line opens a new document: "---" alone or
// followed by a space (a comment or content).
func isSeparator(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	return bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) || bytes.HasPrefix(line, []byte("---\t"))
}

// parse decodes one chunk. It returns nil for a document that holds only
// comments or whitespace. A key written twice in one mapping is a
// *yamlerr.DuplicateKeyError with lines of the stream.
func (c chunk) parse() (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(c.raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, c.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, c.yamlError(err)
		}
		return nil, fmt.Errorf("line %d: more than one document between separators", c.line+extra.Line-1)
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, nil
	}
	if dups := yamlerr.DuplicateKeys(&doc); len(dups) > 0 {
		// Helm and kubectl would keep the last of the two values, and
		// the filters read the first.
		dup := *dups[0]
		dup.Line, dup.First = c.line+dup.Line-1, c.line+dup.First-1
		return nil, &dup
	}
	if err := expandAliases(&doc); err != nil {
		return nil, fmt.Errorf("line %d: %w", c.line, err)
	}
	return &doc, nil
}

// maxExpandedNodes bounds the size walk; maxAddedNodes bounds the nodes
// that aliases may add when expanded, against alias bombs (a chart's
// anchors add a few hundred).
const (
	maxExpandedNodes = 1 << 24
	maxAddedNodes    = 1 << 16
)

// countNodes counts the nodes of a tree as written (an alias is one).
func countNodes(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += countNodes(c)
	}
	return total
}

// expandAliases replaces YAML aliases by copies of their anchors, and
// merges << merge keys into their mappings, as Helm and the API server read them, so that the rest
// of the post-renderer sees plain mappings. A document without aliases is
// left as it is.
func expandAliases(doc *yaml.Node) error {
	if !hasAliases(doc) {
		return nil // most documents: no walk with a map
	}
	sizes := map[*yaml.Node]int{}
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if n == nil || depth > 1000 {
			return maxExpandedNodes + 1
		}
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = maxExpandedNodes + 1 // a cycle counts as too big
		total := 1
		if n.Kind == yaml.AliasNode {
			total = size(n.Alias, depth+1)
		}
		for _, c := range n.Content {
			total += size(c, depth+1)
			if total > maxExpandedNodes {
				break
			}
		}
		sizes[n] = min(total, maxExpandedNodes+1)
		return sizes[n]
	}
	if size(doc, 0)-countNodes(doc) > maxAddedNodes {
		return fmt.Errorf("its aliases expand to more than %d further YAML nodes", maxAddedNodes)
	}
	return kyaml.NewRNode(doc).DeAnchor()
}

// hasAliases reports whether a tree holds an alias or a << merge key.
func hasAliases(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.Tag == "!!merge") {
		return true
	}
	for _, c := range n.Content {
		if hasAliases(c) {
			return true
		}
	}
	return false
}

// yamlError rebases a parser error's line onto the whole stream.
func (c chunk) yamlError(err error) error {
	line, msg := yamlerr.Parse(err)
	if line == 0 {
		line = 1
	}
	return fmt.Errorf("line %d: invalid YAML: %s", c.line+line-1, msg)
}

// encode writes a document node in kyaml's layout (two-space indent,
// list items flush with their key), opened by a separator.
func encode(w *bytes.Buffer, doc *yaml.Node) error {
	w.WriteString("---\n")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}
