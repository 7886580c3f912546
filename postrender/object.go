package postrender

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// The objects of the stream: a document, the object in it (or a List's
// items), and what the read step learns of each.

// object is one Kubernetes object of the stream: a top-level document or an
// item of a kind: List document.
type object struct {
	// rn is the parsed object. Between the read and the write step it is
	// dropped for top-level documents, which are parsed again only if
	// they change, so that a large stream is never held parsed all at once.
	rn        *kyaml.RNode
	kind      string
	name      string
	namespace string // as written; may be empty
	hook      bool   // a Helm hook, which passes through untouched
	skip      bool   // a Service or PDB marked bgrender.io/skip: "true"
	doc       int    // 1-based document number, for errors
	line      int    // line of the object in the stream

	// What decides whether the object changes, read by the read step.
	selector map[string]string // a Service's spec.selector
	targets  []string          // a Service's target ports (targetPort, else port)
	external bool              // a Service of type LoadBalancer or NodePort
	target   string            // the Deployment an HPA scales
	pdb      labels.Selector   // a PodDisruptionBudget's spec.selector
	// routeRules are an HTTPRoute's rules' Service backends (with
	// --weight), and backends an Ingress's Services.
	routeRules [][]backendRef
	backends   []string
}

func (o *object) String() string {
	return fmt.Sprintf("document %d (line %d, %s %q)", o.doc, o.line, o.kind, o.name)
}

// document is one chunk of the stream and what became of it.
type document struct {
	chunk
	index int
	node  *yaml.Node // the parsed document, kept only when it may change
	objs  []*object  // the object, or a List's items
}

// objectRef says where an object of the stream is, as object.String does.
type objectRef struct {
	doc, line  int
	kind, name string
}

func (r objectRef) String() string {
	return fmt.Sprintf("document %d (line %d, %s %q)", r.doc, r.line, r.kind, r.name)
}

func newObject(n *yaml.Node, doc, line int) (*object, error) {
	o := &object{rn: kyaml.NewRNode(n), doc: doc, line: line}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("document %d (line %d): expected a Kubernetes object (a mapping), got %s", doc, line, kindName(n))
	}
	kind := o.rn.Field("kind")
	if kind == nil || kind.Value.YNode().Kind != yaml.ScalarNode || kind.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d): kind: required; every manifest needs apiVersion and kind", doc, line)
	}
	o.kind = kind.Value.YNode().Value
	if av := o.rn.Field("apiVersion"); av == nil || av.Value.YNode().Kind != yaml.ScalarNode || av.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d, kind %s): apiVersion: required", doc, line, o.kind)
	}
	if err := checkMetadata(n); err != nil {
		return nil, fmt.Errorf("document %d (line %d, kind %s): %w", doc, line, o.kind, err)
	}
	return o, nil
}

// checkMetadata makes sure that metadata has the shape that kyaml's
// accessors assume (they index into it without checking): a mapping whose
// name and namespace are scalars and whose labels and annotations map
// scalars to scalars.
func checkMetadata(obj *yaml.Node) error {
	meta := mappingValue(obj, "metadata")
	if meta == nil || meta.Tag == "!!null" {
		return nil
	}
	if meta.Kind != yaml.MappingNode {
		return fmt.Errorf("metadata: expected a mapping, got %s", kindName(meta))
	}
	for i := 0; i+1 < len(meta.Content); i += 2 {
		k, v := meta.Content[i], meta.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("metadata: keys must be strings")
		}
		switch k.Value {
		case "name", "namespace":
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("metadata.%s: expected a string, got %s", k.Value, kindName(v))
			}
		case "labels", "annotations":
			if err := checkStringMap("metadata."+k.Value, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkStringMap makes sure that a labels or annotations field, unless
// null, maps scalars to scalars.
func checkStringMap(field string, v *yaml.Node) error {
	if v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: expected a mapping, got %s", field, kindName(v))
	}
	for j := 0; j+1 < len(v.Content); j += 2 {
		if v.Content[j].Kind != yaml.ScalarNode || v.Content[j+1].Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: expected string keys and values", field)
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "a node"
}

func listItems(list *object) ([]*object, error) {
	items := list.rn.Field("items")
	if items == nil || items.Value.YNode().Tag == "!!null" {
		return nil, nil
	}
	if items.Value.YNode().Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: items: expected a list", list)
	}
	var out []*object
	for _, n := range items.Value.YNode().Content {
		o, err := newObject(n, list.doc, list.line+n.Line-list.rn.YNode().Line)
		if err != nil {
			return nil, err
		}
		if o.kind == "List" {
			return nil, fmt.Errorf("%s: a List inside a List is not supported", o)
		}
		out = append(out, o)
	}
	return out, nil
}
