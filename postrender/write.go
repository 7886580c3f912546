package postrender

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// write produces the output stream: untouched documents byte for byte,
// changed ones re-encoded, and the added policies at the end.
func (t *transformer) write(ctx context.Context) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(sumLen(t.docs) * 2)
	for _, d := range t.docs {
		changed := false
		for _, o := range d.objs {
			changed = changed || t.changes(o)
		}
		if !changed {
			out.Write(d.raw)
			continue
		}
		if err := t.reparse(d); err != nil {
			return nil, err
		}
		var expanded [][]*kyaml.RNode
		for _, o := range d.objs {
			nodes, err := t.expand(ctx, o)
			if err != nil {
				return nil, err
			}
			expanded = append(expanded, nodes)
		}
		if err := t.writeChanged(&out, d, expanded); err != nil {
			return nil, err
		}
		// Let the parsed document go: only bytes are held across documents.
		d.node = nil
		for _, o := range d.objs {
			o.rn = nil
		}
	}
	extra, err := t.extras()
	if err != nil {
		return nil, err
	}
	if len(extra) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	out.Write(extra)
	return out.Bytes(), nil
}

// reparse parses again a top-level document that the first pass let go.
func (t *transformer) reparse(d *document) error {
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
func (t *transformer) writeChanged(out *bytes.Buffer, d *document, expanded [][]*kyaml.RNode) error {
	root := d.node.Content[0]
	isList := len(d.objs) > 0 && d.objs[0].rn.YNode() != root
	if isList {
		items, _ := kyaml.NewRNode(root).Pipe(kyaml.Lookup("items"))
		var content []*yaml.Node
		for i, nodes := range expanded {
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
	for _, n := range expanded[0] {
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

// expand returns what an object becomes, or nil if it stays as it is.
func (t *transformer) expand(ctx context.Context, o *object) ([]*kyaml.RNode, error) {
	if !t.changes(o) {
		return nil, nil
	}
	switch o.kind {
	case "Deployment":
		return t.expandDeployment(ctx, t.byName[t.namespaceOf(o)+"/"+o.name])
	case "Service":
		return t.expandService(o)
	case "HorizontalPodAutoscaler":
		return t.expandHPA(ctx, o)
	case "PodDisruptionBudget":
		return t.expandPDB(ctx, o)
	case "HTTPRoute", "GRPCRoute":
		return t.expandRoute(o)
	}
	return nil, nil
}

// colorName is the name of an object's copy for color c.
func colorName(name string, c spec.Color) string { return name + "-" + string(c) }

// expandDeployment returns D-blue and D-green. The color that receives the
// new render is D with the color label added to its labels, selector and
// pod template; the other keeps what the previous release ran, if known.
func (t *transformer) expandDeployment(ctx context.Context, d *deployment) ([]*kyaml.RNode, error) {
	var out []*kyaml.RNode
	if old := t.adopting[d]; old != nil {
		// Adoption: D keeps running as it ran, beside the new colors.
		old = old.Copy()
		if d.filename != "" {
			if err := setStringMapField(old, AnnotationHelm4Filename, d.filename, "metadata", "annotations"); err != nil {
				return nil, err
			}
		}
		if err := t.addUsage(old); err != nil {
			return nil, err
		}
		out = append(out, old)
	}
	for _, c := range spec.Colors {
		if t.keeps(c) {
			prev, err := t.previousDeployment(ctx, d.namespace, colorName(d.name, c))
			if err != nil {
				return nil, err
			}
			if prev != nil {
				prev = prev.Copy()
				if mappingValue(mappingValue(d.rn.YNode(), "spec"), "replicas") == nil {
					// The chart leaves the count to an autoscaler: so does
					// the kept color (the live count read from the cluster
					// would be set again on every upgrade).
					if mappingValue(prev.YNode(), "spec") != nil {
						if _, err := prev.Pipe(kyaml.Lookup("spec"), kyaml.Clear("replicas")); err != nil {
							return nil, err
						}
					}
				}
				if d.filename != "" {
					if err := setStringMapField(prev, AnnotationHelm4Filename, d.filename, "metadata", "annotations"); err != nil {
						return nil, err
					}
				}
				if err := t.addUsage(prev); err != nil {
					return nil, err
				}
				out = append(out, prev)
				continue
			}
		}
		clone, err := t.colorDeployment(d, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.object, err)
		}
		if err := t.addUsage(clone); err != nil {
			return nil, err
		}
		out = append(out, clone)
	}
	return out, nil
}

func (t *transformer) colorDeployment(d *deployment, c spec.Color) (*kyaml.RNode, error) {
	// The last color may take the parsed original: nothing reads it after.
	clone := d.rn
	if c != spec.Colors[len(spec.Colors)-1] {
		clone = d.rn.Copy()
	}
	if err := setStringMapField(clone, "name", colorName(d.name, c), "metadata"); err != nil {
		return nil, err
	}
	value := string(c)
	if err := setStringMapField(clone, t.opts.ColorLabel, value, "metadata", "labels"); err != nil {
		return nil, err
	}
	if err := setStringMapField(clone, t.opts.ColorLabel, value, "spec", "selector", "matchLabels"); err != nil {
		return nil, err
	}
	if err := setStringMapField(clone, t.opts.ColorLabel, value, "spec", "template", "metadata", "labels"); err != nil {
		return nil, err
	}
	return clone, nil
}

// maxServiceName is the longest Service name (an RFC 1035 label).
const maxServiceName = 63

// expandService routes a Service that selects a transformed Deployment's
// pods to the active color and adds <name>-preview for the idle one.
func (t *transformer) expandService(o *object) ([]*kyaml.RNode, error) {
	for _, d := range t.selectedBy(t.namespaceOf(o), o.selector) {
		if t.adopting[d] != nil {
			return nil, nil // adoption: the Service still selects D's pods
		}
	}
	idle := t.active.Other()
	if name := o.name + "-preview"; len(name) > maxServiceName {
		return nil, fmt.Errorf("%s: the preview Service %s would have %d characters, and a Service name has at most %d; shorten the Service's name to %d characters or fewer (most charts take fullnameOverride)",
			o, name, len(name), maxServiceName, maxServiceName-len("-preview"))
	}
	preview := o.rn.Copy()
	main := o.rn // nothing reads the original after this
	if err := t.routeService(main, t.active); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if err := setStringMapField(preview, "name", o.name+"-preview", "metadata"); err != nil {
		return nil, err
	}
	if err := t.routeService(preview, idle); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if err := setStringMapField(preview, annotationPreview, string(idle), "metadata", "annotations"); err != nil {
		return nil, err
	}
	if err := makeClusterIP(preview); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	out := []*kyaml.RNode{main, preview}
	if t.weighted[t.namespaceOf(o)+"/"+o.name] {
		colors, err := t.colorServices(o, main)
		if err != nil {
			return nil, err
		}
		out = append(out, colors...)
	}
	return out, nil
}

func (t *transformer) routeService(svc *kyaml.RNode, c spec.Color) error {
	if err := setStringMapField(svc, t.opts.ColorLabel, string(c), "spec", "selector"); err != nil {
		return err
	}
	if err := setStringMapField(svc, annotationActive, string(t.active), "metadata", "annotations"); err != nil {
		return err
	}
	return setStringMapField(svc, annotationPrevious, string(t.active.Other()), "metadata", "annotations")
}

// makeClusterIP turns the preview copy of a Service into a plain ClusterIP
// Service: it must not claim a second load balancer or the same node ports.
func makeClusterIP(svc *kyaml.RNode) error {
	specNode, err := svc.Pipe(kyaml.Lookup("spec"))
	if err != nil || specNode == nil {
		return err
	}
	if ip := specNode.Field("clusterIP"); ip != nil && ip.Value.YNode().Value == "None" {
		return nil // headless stays headless
	}
	for _, f := range []string{"clusterIP", "clusterIPs", "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass",
		"externalTrafficPolicy", "healthCheckNodePort", "allocateLoadBalancerNodePorts", "externalIPs", "externalName"} {
		if _, err := specNode.Pipe(kyaml.Clear(f)); err != nil {
			return err
		}
	}
	if typ := specNode.Field("type"); typ != nil {
		if err := specNode.PipeE(kyaml.SetField("type", kyaml.NewStringRNode("ClusterIP"))); err != nil {
			return err
		}
	}
	ports, _ := specNode.Pipe(kyaml.Lookup("ports"))
	if ports != nil {
		return ports.VisitElements(func(p *kyaml.RNode) error {
			_, err := p.Pipe(kyaml.Clear("nodePort"))
			return err
		})
	}
	return nil
}

// colorCopies returns one copy of o per color, named <name>-<color> and
// carrying the color label; edit adjusts each copy further. A color that
// keeps what it ran (see expandDeployment) keeps its copy from the
// previous state too, when the previous state has one.
func (t *transformer) colorCopies(ctx context.Context, o *object, edit func(clone *kyaml.RNode, c spec.Color) error) ([]*kyaml.RNode, error) {
	var out []*kyaml.RNode
	for _, c := range spec.Colors {
		if t.keeps(c) {
			prev, err := t.previousObject(ctx, o.kind, t.namespaceOf(o), colorName(o.name, c))
			if err != nil {
				return nil, runtimeError(err)
			}
			if prev != nil {
				prev = prev.Copy()
				if f := o.rn.GetAnnotations()[AnnotationHelm4Filename]; f != "" {
					if err := setStringMapField(prev, AnnotationHelm4Filename, f, "metadata", "annotations"); err != nil {
						return nil, err
					}
				}
				out = append(out, prev)
				continue
			}
		}
		clone := o.rn.Copy()
		if err := setStringMapField(clone, "name", colorName(o.name, c), "metadata"); err != nil {
			return nil, err
		}
		if err := setStringMapField(clone, t.opts.ColorLabel, string(c), "metadata", "labels"); err != nil {
			return nil, err
		}
		if err := edit(clone, c); err != nil {
			return nil, err
		}
		out = append(out, clone)
	}
	return out, nil
}

// keeps reports whether color c keeps what the previous state ran.
func (t *transformer) keeps(c spec.Color) bool {
	return t.opts.Previous != nil && (c != t.target || t.promotion)
}

// previousObject returns an HPA or PDB as the previous state had it, when
// the previous state can tell (see PreviousObjects).
func (t *transformer) previousObject(ctx context.Context, kind, namespace, name string) (*kyaml.RNode, error) {
	p, ok := t.opts.Previous.(PreviousObjects)
	if !ok {
		return nil, nil
	}
	return p.Object(ctx, kind, namespace, name)
}

// expandHPA gives each color its own autoscaler when the HPA scales a
// transformed Deployment.
func (t *transformer) expandHPA(ctx context.Context, o *object) ([]*kyaml.RNode, error) {
	out, err := t.colorCopies(ctx, o, func(clone *kyaml.RNode, c spec.Color) error {
		ref, err := clone.Pipe(kyaml.Lookup("spec", "scaleTargetRef"))
		if err != nil {
			return err
		}
		return ref.PipeE(kyaml.SetField("name", kyaml.NewStringRNode(colorName(o.target, c))))
	})
	for _, hpa := range out {
		// For the quota: the most each color may scale to. maxReplicas is
		// an integer, which kyaml's GetString refuses.
		hs := mappingValue(hpa.YNode(), "spec")
		target := mappingValue(mappingValue(hs, "scaleTargetRef"), "name")
		if m := mappingValue(hs, "maxReplicas"); target != nil && m != nil && m.Kind == yaml.ScalarNode {
			if n, err := strconv.ParseInt(m.Value, 10, 32); err == nil {
				t.hpaMax[target.Value] = int32(n)
			}
		}
	}
	return out, err
}

// expandPDB gives each color its own budget when a PDB selects a
// transformed Deployment's pods.
func (t *transformer) expandPDB(ctx context.Context, o *object) ([]*kyaml.RNode, error) {
	return t.colorCopies(ctx, o, func(clone *kyaml.RNode, c spec.Color) error {
		return setStringMapField(clone, t.opts.ColorLabel, string(c), "spec", "selector", "matchLabels")
	})
}
