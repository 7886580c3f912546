package postrender

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// With --weight the post-renderer splits a chart's Gateway API traffic as
// spec.traffic.gateway does: each HTTPRoute rule whose only backend is a
// transformed Service S sends to the per-color Services S-blue and
// S-green (their selectors never change), with weights 100-N and N for
// the active and the idle color. The rule names colors, so whichever of
// the route and the Services the agent applies first, no request goes to
// a color the render does not mean. A rule that sends to S beside other
// backends, and an Ingress to a transformed Service, cannot carry the
// weight: they are refused. Without --weight routes pass through and
// follow the active Service.

// backendRef is one backendRef of a route rule, as --weight reads it.
type backendRef struct {
	service   bool   // a Service: no group, kind Service or none
	namespace string // as written; empty: the route's
	name      string
	off       bool // weight 0: the chart turned this backend off
}

// routeBackends lists, per rule, an HTTPRoute's or GRPCRoute's backendRefs.
func routeBackends(rn *kyaml.RNode) [][]backendRef {
	rules, _ := rn.Pipe(kyaml.Lookup("spec", "rules"))
	if rules == nil || rules.YNode().Kind != yaml.SequenceNode {
		return nil
	}
	var out [][]backendRef
	_ = rules.VisitElements(func(rule *kyaml.RNode) error {
		var list []backendRef
		refs, _ := rule.Pipe(kyaml.Lookup("backendRefs"))
		if refs != nil && refs.YNode().Kind == yaml.SequenceNode {
			_ = refs.VisitElements(func(ref *kyaml.RNode) error {
				str := func(f string) string {
					v, _ := ref.GetString(f)
					if v == "null" || v == "~" {
						return ""
					}
					return v
				}
				w := ""
				if f := ref.Field("weight"); f != nil && f.Value != nil {
					w = f.Value.YNode().Value
				}
				list = append(list, backendRef{
					service:   str("group") == "" && (str("kind") == "" || str("kind") == "Service"),
					namespace: str("namespace"), name: str("name"), off: w == "0",
				})
				return nil
			})
		}
		out = append(out, list)
		return nil
	})
	return out
}

// routeKinds are the Gateway API routes whose rules --weight splits; other
// route kinds to a transformed Service are refused.
var routeKinds = map[string]bool{"HTTPRoute": true, "GRPCRoute": true}

// otherRouteKinds have backendRefs too, but bgrender does not split them.
var otherRouteKinds = map[string]bool{"TCPRoute": true, "TLSRoute": true, "UDPRoute": true}

// ingressBackends lists the Services an Ingress sends to.
func ingressBackends(rn *kyaml.RNode) []string {
	var out []string
	if name, _ := rn.GetString("spec.defaultBackend.service.name"); name != "" {
		out = append(out, name)
	}
	rules, _ := rn.Pipe(kyaml.Lookup("spec", "rules"))
	if rules != nil {
		_ = rules.VisitElements(func(rule *kyaml.RNode) error {
			paths, _ := rule.Pipe(kyaml.Lookup("http", "paths"))
			if paths != nil {
				_ = paths.VisitElements(func(p *kyaml.RNode) error {
					if name, _ := p.GetString("backend.service.name"); name != "" {
						out = append(out, name)
					}
					return nil
				})
			}
			return nil
		})
	}
	return out
}

// refService is the transformed Service a backendRef of route o names,
// or nil.
func (t *transformer) refService(o *object, ref backendRef) *object {
	if !ref.service || ref.name == "" {
		return nil
	}
	ns := ref.namespace
	if ns == "" {
		ns = t.namespaceOf(o)
	}
	return t.transformedService(ns, ref.name)
}

// transformedService returns the chart's Service name in namespace ns when
// the post-renderer routes it to the active color.
func (t *transformer) transformedService(ns, name string) *object {
	for _, d := range t.docs {
		for _, o := range d.objs {
			if o.kind == "Service" && o.name == name && t.namespaceOf(o) == ns && t.changes(o) {
				return o
			}
		}
	}
	return nil
}

// weightedRules returns the indexes of the route's rules whose only
// backend is a transformed Service.
func (t *transformer) weightedRules(o *object) []int {
	var out []int
	for i, refs := range o.routeRules {
		if len(refs) == 1 && !refs[0].off && t.refService(o, refs[0]) != nil {
			out = append(out, i)
		}
	}
	return out
}

// checkWeights refuses what --weight cannot split, and notes the Services
// that get per-color copies.
func (t *transformer) checkWeights(all []*object) error {
	if t.opts.Weight == nil {
		return nil
	}
	if w := *t.opts.Weight; w < 0 || w > 100 {
		return fmt.Errorf("--weight %d: want a percentage, 0 to 100", w)
	}
	t.weighted = map[string]bool{}
	routes := 0
	for _, o := range all {
		ns := t.namespaceOf(o)
		switch {
		case o.hook:
		case routeKinds[o.kind]:
			for i, refs := range o.routeRules {
				for _, ref := range refs {
					if len(refs) == 1 || t.refService(o, ref) == nil || ref.off {
						continue
					}
					return fmt.Errorf("%s: rule %d sends to Service %s beside other backends: --weight splits a rule whose only backend is a transformed Service; give %s a rule of its own, or leave out --weight", o, i+1, ref.name, ref.name)
				}
			}
			for _, i := range t.weightedRules(o) {
				svc := t.refService(o, o.routeRules[i][0])
				t.weighted[t.namespaceOf(svc)+"/"+svc.name] = true
				routes++
			}
		case otherRouteKinds[o.kind]:
			for _, refs := range o.routeRules {
				for _, ref := range refs {
					if t.refService(o, ref) != nil {
						return fmt.Errorf("%s: sends to Service %s, which bgrender routes to the active color: --weight splits HTTPRoutes and GRPCRoutes, not a %s; leave out --weight", o, ref.name, o.kind)
					}
				}
			}
		case o.kind == "Ingress":
			for _, name := range o.backends {
				if t.transformedService(ns, name) != nil {
					return fmt.Errorf("%s: sends to Service %s, which bgrender routes to the active color: an Ingress cannot carry --weight (ingress-nginx's canary Ingresses are spec.traffic.nginx's, in a bgrender-managed folder); route it with a Gateway API HTTPRoute, or leave out --weight", o, name)
				}
			}
		}
	}
	if routes == 0 {
		return fmt.Errorf("--weight %d: no HTTPRoute or GRPCRoute of the chart has a rule whose only backend is a Service that bgrender routes to the active color, so there is nothing to split", *t.opts.Weight)
	}
	for key := range t.weighted {
		ns, name, _ := strings.Cut(key, "/")
		for _, c := range spec.Colors {
			n := colorName(name, c)
			if len(n) > maxServiceName {
				return fmt.Errorf("Service %s: the per-color Service %s would have %d characters, more than %d; shorten the Service's name", name, n, len(n), maxServiceName)
			}
			if other, ok := t.taken("Service", ns, n); ok {
				return fmt.Errorf("Service %s: bgrender would add Service %s for --weight, but the chart has one of that name (%s); rename one of them", name, n, other)
			}
		}
	}
	return nil
}

// colorServices returns S-blue and S-green: copies of the active Service
// main (already routed to the active color), each selecting one color.
func (t *transformer) colorServices(o *object, main *kyaml.RNode) ([]*kyaml.RNode, error) {
	var out []*kyaml.RNode
	for _, c := range spec.Colors {
		svc := main.Copy()
		if err := setStringMapField(svc, "name", colorName(o.name, c), "metadata"); err != nil {
			return nil, err
		}
		if err := t.routeService(svc, c); err != nil {
			return nil, fmt.Errorf("%s: %w", o, err)
		}
		if err := makeClusterIP(svc); err != nil {
			return nil, fmt.Errorf("%s: %w", o, err)
		}
		// The color record belongs to the active Service alone.
		for _, a := range []string{render.AnnotationActiveColor, render.AnnotationPreviousColor} {
			if _, err := svc.Pipe(kyaml.ClearAnnotation(a)); err != nil {
				return nil, err
			}
		}
		if len(svc.GetAnnotations()) == 0 {
			if _, err := svc.Pipe(kyaml.Lookup("metadata"), kyaml.Clear("annotations")); err != nil {
				return nil, err
			}
		}
		out = append(out, svc)
	}
	return out, nil
}

// expandRoute rewrites the weighted rules' backendRef to S into one to
// S-<active> and one to S-<idle>, each with every field the API server
// would default written out (group, kind, weight), the port kept.
func (t *transformer) expandRoute(o *object) ([]*kyaml.RNode, error) {
	rules, err := o.rn.Pipe(kyaml.Lookup("spec", "rules"))
	if err != nil || rules == nil {
		return nil, fmt.Errorf("%s: spec.rules: %v", o, err)
	}
	items := rules.YNode().Content
	idle := t.active.Other()
	w := *t.opts.Weight
	for _, i := range t.weightedRules(o) {
		rule := kyaml.NewRNode(items[i])
		refs, err := rule.Pipe(kyaml.Lookup("backendRefs"))
		if err != nil || refs == nil || len(refs.YNode().Content) != 1 {
			return nil, fmt.Errorf("%s: rule %d changed between passes", o, i+1)
		}
		ref := kyaml.NewRNode(refs.YNode().Content[0])
		name, _ := ref.GetString("name")
		var split []*kyaml.RNode
		for _, c := range []spec.Color{t.active, idle} {
			r := ref.Copy()
			weight := 100 - w
			if c == idle {
				weight = w
			}
			for _, f := range [][2]string{{"name", colorName(name, c)}, {"group", ""}, {"kind", "Service"}} {
				if err := r.PipeE(kyaml.SetField(f[0], kyaml.NewStringRNode(f[1]))); err != nil {
					return nil, err
				}
			}
			if err := r.PipeE(kyaml.SetField("weight", kyaml.NewRNode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(weight)}))); err != nil {
				return nil, err
			}
			split = append(split, r)
		}
		refs.YNode().Content = []*yaml.Node{split[0].YNode(), split[1].YNode()}
	}
	return []*kyaml.RNode{o.rn}, nil
}
