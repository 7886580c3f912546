package postrender

import (
	"context"
	"fmt"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

// The read step: the stream split into documents, each parsed on its own
// and kept parsed only when it may change, and what the later steps need
// to know of the chart indexed.

// chart is what the read step learns of the stream as a whole.
type chart struct {
	docs []*document
	// namespaces are the namespaces that objects name; names the chart's
	// objects by kind/namespace/name (an unnamed namespace resolved).
	namespaces map[string]bool
	names      map[string]objectRef
	// hasIngress: the chart routes traffic in through an Ingress or a
	// Gateway API route, so the NetworkPolicies admit the controller.
	hasIngress bool
	// otherRoute names a route whose controller is likely not
	// ingress-nginx (a Gateway API route, another Ingress class).
	otherRoute string
}

// objects lists the objects of every document, List items one by one.
func (c *chart) objects() []*object {
	var all []*object
	for _, d := range c.docs {
		all = append(all, d.objs...)
	}
	return all
}

// readStream splits and parses the stream, keeping parsed only what may
// change.
func readStream(_ context.Context, r *run) error {
	objects := 0
	for i, c := range split(r.in) {
		d := &document{chunk: c, index: i + 1}
		r.chart.docs = append(r.chart.docs, d)
		node, err := c.parse()
		if err != nil {
			return fmt.Errorf("document %d: %w", d.index, err)
		}
		if node == nil {
			continue // only comments or whitespace
		}
		objects++
		if err := r.readDocument(d, node); err != nil {
			return err
		}
	}
	if objects == 0 {
		return fmt.Errorf("no manifests on standard input: the chart rendered nothing, or the post-renderer was given an empty stream")
	}
	return nil
}

// readDocument reads the object of one document (or a List's items).
func (r *run) readDocument(d *document, node *yaml.Node) error {
	root := node.Content[0]
	o, err := newObject(root, d.index, d.line+root.Line-1)
	if err != nil {
		return err
	}
	r.noteObject(o)
	_, listHook := o.rn.GetAnnotations()[AnnotationHelmHook]
	switch {
	case o.kind == "List" && listHook:
		// Helm takes a List with a hook annotation as a hook: it
		// passes through, items and all.
	case o.kind == "List":
		items, err := listItems(o)
		if err != nil {
			return err
		}
		for _, item := range items {
			r.noteObject(item)
		}
		d.objs = items
		d.node = node // Lists are rare; keep them parsed
	case interesting(o) || (r.opts.Weight != nil && (routeKinds[o.kind] || otherRouteKinds[o.kind] || o.kind == "Ingress")):
		d.objs = []*object{o}
	case podTemplateKinds[o.kind]:
		if err := r.addWorkload(o); err != nil {
			return err
		}
	}
	for _, o := range d.objs {
		if err := r.describe(o); err != nil {
			return err
		}
	}
	if d.node == nil {
		for _, o := range d.objs {
			o.rn = nil
		}
	}
	return nil
}

// interesting reports whether an object may be transformed or decides what
// is: Deployments, Services, HPAs and PDBs that are not Helm hooks.
func interesting(o *object) bool {
	switch o.kind {
	case "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget":
		return true
	}
	return false
}

// noteObject records the namespace an object names, if any, and where
// the object is by kind, namespace and name: the objects bgrender adds
// must not take its place.
func (r *run) noteObject(o *object) {
	c := &r.chart
	switch o.kind {
	case "List":
		return
	case "Ingress", "HTTPRoute", "GRPCRoute":
		c.hasIngress = true
		if class, _ := o.rn.GetString("spec.ingressClassName"); o.kind != "Ingress" || (class != "" && class != "nginx") {
			c.otherRoute = o.kind + " " + o.rn.GetName()
		}
	}
	ns := o.rn.GetNamespace()
	if ns != "" {
		if c.namespaces == nil {
			c.namespaces = map[string]bool{}
		}
		c.namespaces[ns] = true
	} else {
		ns = r.opts.Namespace
	}
	if c.names == nil {
		c.names = map[string]objectRef{}
	}
	name := o.rn.GetName()
	c.names[o.kind+"/"+ns+"/"+name] = objectRef{doc: o.doc, line: o.line, kind: o.kind, name: name}
}

// taken returns the chart's object of kind at namespace/name (the
// namespace as bgrender resolves it), if there is one.
func (r *run) taken(kind, namespace, name string) (objectRef, bool) {
	if namespace == "" {
		namespace = r.opts.Namespace
	}
	ref, ok := r.chart.names[kind+"/"+namespace+"/"+name]
	return ref, ok
}

// namespaceOf is where an object is: as written, else the release
// namespace.
func (r *run) namespaceOf(o *object) string {
	if o.namespace != "" {
		return o.namespace
	}
	return r.opts.Namespace
}

// describe reads what decides whether an object changes, and registers
// the Deployments that become blue and green.
func (r *run) describe(o *object) error {
	o.name, o.namespace = o.rn.GetName(), o.rn.GetNamespace()
	_, o.hook = o.rn.GetAnnotations()[AnnotationHelmHook]
	if o.hook {
		return nil
	}
	var err error
	switch o.kind {
	case "Deployment":
		return r.addDeployment(o)
	case "Service":
		return r.describeService(o)
	case "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute":
		o.routeRules = routeBackends(o.rn)
	case "Ingress":
		o.backends = ingressBackends(o.rn)
	case "HorizontalPodAutoscaler":
		if kind, _ := o.rn.GetString("spec.scaleTargetRef.kind"); kind == "Deployment" {
			o.target, _ = o.rn.GetString("spec.scaleTargetRef.name")
		}
	case "PodDisruptionBudget":
		o.skip = r.skipped(o)
		if o.pdb, err = labelSelector(o, "spec", "selector"); err != nil {
			return err
		}
	default:
		if podTemplateKinds[o.kind] { // an item of a List
			return r.addWorkload(o)
		}
	}
	return nil
}

// skipped reports whether an object is marked to be left as it is, by
// annotation or by --skip.
func (r *run) skipped(o *object) bool {
	return o.rn.GetAnnotations()[AnnotationSkip] == "true" || slices.Contains(r.opts.Skip, o.name)
}
