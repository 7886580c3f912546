package rollouts

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/spec"
)

// EncodeSpec writes an app as a YAML document in the order of the spec's
// fields (apiVersion, kind, metadata, spec), leaving out empty values.
func EncodeSpec(app *spec.BlueGreenApp) ([]byte, error) {
	raw, err := json.Marshal(app)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", app.Metadata.Name, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil { // JSON is YAML, and the node keeps the order
		return nil, fmt.Errorf("encode %s: %w", app.Metadata.Name, err)
	}
	root := doc.Content[0]
	prune(root)
	block(root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode %s: %w", app.Metadata.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prune drops nulls and empty mappings (Go's zero structs) from a mapping,
// deepest first; an empty list stays (an empty topologySpreadConstraints
// list means none).
func prune(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		out := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			prune(v)
			if v.Tag == "!!null" || (v.Kind == yaml.MappingNode && len(v.Content) == 0) {
				continue
			}
			out = append(out, k, v)
		}
		n.Content = out
	case yaml.SequenceNode:
		for _, item := range n.Content {
			prune(item)
		}
	}
}

// block writes every collection in block style, as people write specs,
// and plain scalars without the quotes of JSON where YAML reads them the
// same.
func block(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || (n.Kind == yaml.SequenceNode && len(n.Content) > 0) {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0 // the encoder quotes where a plain scalar would change type
	}
	for _, c := range n.Content {
		block(c)
	}
}
