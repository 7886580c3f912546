package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Manifest returns the plain JSON form of an object as the API server would
// accept it: typed fields only, without the empty status and the null
// creationTimestamp that Go's zero values would add.
func Manifest(o Object) (map[string]any, error) {
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", kindOf(o), o.GetName(), err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep integers integers
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", kindOf(o), o.GetName(), err)
	}
	prune(m)
	// A rendered object has no status: the API server ignores it in a
	// manifest, and Go's zero values would write "status: {loadBalancer:
	// {}}" on Services and Ingresses and zero counts on budgets.
	delete(m, "status")
	return m, nil
}

// prune drops null values, and the empty status and resources maps that
// Go's zero values add, from a manifest. Other empty maps stay: an empty
// podSelector or namespaceSelector means "all".
func prune(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(v)
			if len(v) == 0 && (k == "status" || k == "resources") {
				delete(m, k)
			}
		case []any:
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					prune(im)
				}
			}
		}
	}
}

// EncodeYAML encodes one object as a YAML document with sorted keys, in
// the layout kubectl prints (two-space indent, list items flush with their key).
func EncodeYAML(o Object) ([]byte, error) {
	m, err := Manifest(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(yamlNode(m)); err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", kindOf(o), o.GetName(), err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// yamlNode converts a decoded JSON value into a YAML node with sorted keys;
// building the node directly is much cheaper than re-parsing JSON as YAML.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(v[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if len(v) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, item := range v {
			n.Content = append(n.Content, yamlNode(item))
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// WriteYAML writes the objects as a YAML stream, documents separated by
// "---". Nothing is written if any object fails to encode.
func WriteYAML(w io.Writer, objs []Object) error {
	var buf bytes.Buffer
	for i, o := range objs {
		doc, err := EncodeYAML(o)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON writes the objects as one indented JSON v1 List, the form that
// `kubectl get -o json` prints and `kubectl apply -f` accepts.
func WriteJSON(w io.Writer, objs []Object) error {
	items := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		m, err := Manifest(o)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	list := struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}{"v1", "List", items}
	raw, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(raw, '\n'))
	return err
}
