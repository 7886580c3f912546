package postrender

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Reading and editing fields of parsed objects. The edits work on the
// yaml.Node tree where kyaml's setters would re-parse every value, and
// keep the comments of what they replace.

// stringMap reads a map of strings at path; a missing map is empty.
func stringMap(rn *kyaml.RNode, path ...string) (map[string]string, error) {
	n, err := rn.Pipe(kyaml.Lookup(path...))
	if err != nil || n == nil {
		return map[string]string{}, nil
	}
	if n.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: expected a mapping", dotted(path))
	}
	out := map[string]string{}
	content := n.YNode().Content
	for i := 0; i+1 < len(content); i += 2 {
		if content[i+1].Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s.%s: expected a string", dotted(path), content[i].Value)
		}
		out[content[i].Value] = content[i+1].Value
	}
	return out, nil
}

func dotted(path []string) string {
	var b bytes.Buffer
	for i, p := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// labelSelector reads a metav1.LabelSelector at path; nil if absent or empty.
func labelSelector(o *object, path ...string) (labels.Selector, error) {
	n, err := o.rn.Pipe(kyaml.Lookup(path...))
	if err != nil || n == nil {
		return nil, nil
	}
	var ls metav1.LabelSelector
	raw, err := n.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	if err := json.Unmarshal(raw, &ls); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	if sel.Empty() {
		return nil, nil
	}
	return sel, nil
}

// setStringMapField sets key to the string value in the mapping at path
// under rn, creating the mappings on the way. It edits the yaml.Node tree
// directly: kyaml's field setter re-parses every value it sets, which made
// this the most expensive step of a post-render.
func setStringMapField(rn *kyaml.RNode, key, value string, path ...string) error {
	m := rn.YNode()
	for _, p := range path {
		if m.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: expected a mapping", p)
		}
		next := mappingValue(m, p)
		if next == nil || next.Tag == "!!null" {
			if next == nil {
				next = &yaml.Node{}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, next)
			}
			*next = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		m = next
	}
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: expected a mapping", dotted(path))
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if old := mappingValue(m, key); old != nil {
		// Keep the comments around the old value.
		v.HeadComment, v.LineComment, v.FootComment = old.HeadComment, old.LineComment, old.FootComment
		*old = *v
		return nil
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return nil
}

// mappingValue returns the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
