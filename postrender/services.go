package postrender

import (
	"context"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// services pairs each Service that selects a transformed Deployment's pods:
// the Service routes to the active color, and a <name>-preview twin (a
// plain ClusterIP Service) to the idle one. With --weight it also gets
// the per-color Services that the routes split between (weights.go).
var services = filter{
	kinds:   []string{"Service"},
	changes: serviceChanges,
	check:   checkServiceSelects,
	adds:    func(o *object) []string { return []string{o.name + "-preview"} },
	apply:   pairService,
}

// maxServiceName is the longest Service name (an RFC 1035 label).
const maxServiceName = 63

// describeService reads what decides whether a Service changes.
func (r *run) describeService(o *object) error {
	o.skip = r.skipped(o)
	var err error
	if o.selector, err = stringMap(o.rn, "spec", "selector"); err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	o.targets = serviceTargets(o.rn)
	typ, _ := o.rn.GetString("spec.type")
	o.external = typ == "LoadBalancer" || typ == "NodePort"
	return nil
}

// serviceTargets returns each port's targetPort (its port when it has
// none), as written: a number or a port name.
func serviceTargets(rn *kyaml.RNode) []string {
	ports := mappingValue(mappingValue(rn.YNode(), "spec"), "ports")
	if ports == nil || ports.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, p := range ports.Content {
		v := mappingValue(p, "targetPort")
		if v == nil {
			v = mappingValue(p, "port")
		}
		if v != nil && v.Kind == yaml.ScalarNode {
			out = append(out, v.Value)
		}
	}
	return out
}

// serviceChanges: a Service changes when it selects a transformed
// Deployment's pods, unless it is skipped, already selects a color, or
// selects a Deployment being adopted (it keeps selecting D's pods).
func serviceChanges(r *run, o *object) bool {
	_, colored := o.selector[r.opts.ColorLabel]
	if o.skip || colored {
		return false
	}
	selected := r.pods.selectedBy(r.namespaceOf(o), o.selector)
	for _, d := range selected {
		if r.adopted(d) {
			return false
		}
	}
	return len(selected) > 0
}

// checkServiceSelects refuses a Service that selects the pods of a
// workload that is not made blue/green as well as a transformed one.
func checkServiceSelects(r *run, o *object) error {
	sel := labels.SelectorFromValidatedSet(o.selector)
	for _, w := range r.pods.others {
		if w.namespace == r.namespaceOf(o) && sel.Matches(w.podLabels) {
			return fmt.Errorf("%s: selects the pods of %s, which are not made blue/green, and of Deployment %s, which are: routing the Service to one color would drop %s's pods; annotate the Service with %s: \"true\" to leave it as it is, or narrow its selector",
				o, w.desc, r.pods.selectedBy(r.namespaceOf(o), o.selector)[0].name, w.name, AnnotationSkip)
		}
	}
	return nil
}

// pairService routes a Service to the active color and adds
// <name>-preview for the idle one (and, with --weight, the per-color
// Services).
func pairService(_ context.Context, r *run, o *object) ([]*kyaml.RNode, error) {
	idle := r.colors.active.Other()
	if name := o.name + "-preview"; len(name) > maxServiceName {
		return nil, fmt.Errorf("%s: the preview Service %s would have %d characters, and a Service name has at most %d; shorten the Service's name to %d characters or fewer (most charts take fullnameOverride)",
			o, name, len(name), maxServiceName, maxServiceName-len("-preview"))
	}
	preview := o.rn.Copy()
	main := o.rn // nothing reads the original after this
	if err := r.routeService(main, r.colors.active); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if err := setStringMapField(preview, "name", o.name+"-preview", "metadata"); err != nil {
		return nil, err
	}
	if err := r.routeService(preview, idle); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if err := setStringMapField(preview, annotationPreview, string(idle), "metadata", "annotations"); err != nil {
		return nil, err
	}
	if err := makeClusterIP(preview); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	out := []*kyaml.RNode{main, preview}
	if r.weighted[r.namespaceOf(o)+"/"+o.name] {
		colors, err := r.colorServices(o, main)
		if err != nil {
			return nil, err
		}
		out = append(out, colors...)
	}
	return out, nil
}

// routeService points a Service at color c and records the active color
// and the one before it.
func (r *run) routeService(svc *kyaml.RNode, c spec.Color) error {
	if err := setStringMapField(svc, r.opts.ColorLabel, string(c), "spec", "selector"); err != nil {
		return err
	}
	if err := setStringMapField(svc, annotationActive, string(r.colors.active), "metadata", "annotations"); err != nil {
		return err
	}
	return setStringMapField(svc, annotationPrevious, string(r.colors.active.Other()), "metadata", "annotations")
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
