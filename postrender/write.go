package postrender

import (
	"bytes"
	"context"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/render"
)

// The write step: untouched documents byte for byte, changed ones run
// through the filters and re-encoded, and what the generators add at the
// end.

// writeStream produces the output stream.
func writeStream(ctx context.Context, r *run) error {
	var out bytes.Buffer
	out.Grow(sumLen(r.chart.docs) * 2)
	for _, d := range r.chart.docs {
		if err := r.writeDocument(ctx, &out, d); err != nil {
			return err
		}
	}
	added, err := r.added()
	if err != nil {
		return err
	}
	if len(added) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	out.Write(added)
	r.out = out.Bytes()
	return nil
}

// writeDocument writes one document: as it came unless an object of it
// changes.
func (r *run) writeDocument(ctx context.Context, out *bytes.Buffer, d *document) error {
	changed := false
	for _, o := range d.objs {
		changed = changed || r.changes(o)
	}
	if !changed {
		out.Write(d.raw)
		return nil
	}
	if err := reparse(d); err != nil {
		return err
	}
	var filtered [][]*kyaml.RNode
	for _, o := range d.objs {
		nodes, err := r.apply(ctx, o)
		if err != nil {
			return err
		}
		filtered = append(filtered, nodes)
	}
	if err := writeChanged(out, d, filtered); err != nil {
		return err
	}
	// Let the parsed document go: only bytes are held across documents.
	d.node = nil
	for _, o := range d.objs {
		o.rn = nil
	}
	return nil
}

// apply returns what an object becomes, or nil if it stays as it is.
func (r *run) apply(ctx context.Context, o *object) ([]*kyaml.RNode, error) {
	if !r.changes(o) {
		return nil, nil
	}
	return r.filters[o.kind].apply(ctx, r, o)
}

// reparse parses again a top-level document that the read step let go.
func reparse(d *document) error {
	if d.node != nil {
		return nil
	}
	node, err := d.parse()
	if err != nil || node == nil || len(d.objs) != 1 {
		return fmt.Errorf("document %d changed between passes", d.index)
	}
	d.node = node
	d.objs[0].rn = kyaml.NewRNode(node.Content[0])
	return nil
}

func sumLen(docs []*document) int {
	n := 0
	for _, d := range docs {
		n += len(d.raw)
	}
	return n
}

// writeChanged writes a document whose object (or List items) changed.
// Each resulting object of a top-level document becomes a document of its
// own, carrying the original's comments; a List keeps its shape.
func writeChanged(out *bytes.Buffer, d *document, filtered [][]*kyaml.RNode) error {
	root := d.node.Content[0]
	isList := len(d.objs) > 0 && d.objs[0].rn.YNode() != root
	if isList {
		items, _ := kyaml.NewRNode(root).Pipe(kyaml.Lookup("items"))
		var content []*yaml.Node
		for i, nodes := range filtered {
			if nodes == nil {
				content = append(content, d.objs[i].rn.YNode())
				continue
			}
			for _, n := range nodes {
				content = append(content, n.YNode())
			}
		}
		items.YNode().Content = content
		return encode(out, d.node)
	}
	for _, n := range filtered[0] {
		doc := &yaml.Node{
			Kind:        yaml.DocumentNode,
			HeadComment: d.node.HeadComment,
			LineComment: d.node.LineComment,
			FootComment: d.node.FootComment,
			Content:     []*yaml.Node{n.YNode()},
		}
		if err := encode(out, doc); err != nil {
			return err
		}
	}
	return nil
}

// added runs the generators and encodes what they add as YAML documents;
// the chart must not have objects of those names already.
func (r *run) added() ([]byte, error) {
	var objs []render.Object
	for _, g := range r.generators {
		objs = append(objs, g(r)...)
	}
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if doc, taken := r.taken(kind, o.GetNamespace(), o.GetName()); taken {
			return nil, fmt.Errorf("bgrender would add %s %s, but the chart has one of that name (%s); rename one of them", kind, o.GetName(), doc)
		}
	}
	var out bytes.Buffer
	for _, o := range objs {
		doc, err := render.EncodeYAML(o)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(doc)
	}
	return out.Bytes(), nil
}
