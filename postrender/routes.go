package postrender

import (
	"context"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// routes, with --weight, splits each rule of an HTTPRoute or GRPCRoute
// whose only backend is a transformed Service S: its backendRef to S
// becomes one to S-<active> with weight 100-N and one to S-<idle> with
// weight N (see weights.go). Without --weight routes pass through.
var routes = filter{
	kinds: []string{"HTTPRoute", "GRPCRoute"},
	changes: func(r *run, o *object) bool {
		return r.opts.Weight != nil && len(r.weightedRules(o)) > 0
	},
	apply: splitRoute,
}

// routeKinds are the Gateway API routes whose rules --weight splits; other
// route kinds to a transformed Service are refused.
var routeKinds = map[string]bool{"HTTPRoute": true, "GRPCRoute": true}

// otherRouteKinds have backendRefs too, but bgrender does not split them.
var otherRouteKinds = map[string]bool{"TCPRoute": true, "TLSRoute": true, "UDPRoute": true}

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
				list = append(list, readBackendRef(ref))
				return nil
			})
		}
		out = append(out, list)
		return nil
	})
	return out
}

// readBackendRef reads one backendRef; a null group or kind is the
// default.
func readBackendRef(ref *kyaml.RNode) backendRef {
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
	return backendRef{
		service:   str("group") == "" && (str("kind") == "" || str("kind") == "Service"),
		namespace: str("namespace"), name: str("name"), off: w == "0",
	}
}

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
func (r *run) refService(o *object, ref backendRef) *object {
	if !ref.service || ref.name == "" {
		return nil
	}
	ns := ref.namespace
	if ns == "" {
		ns = r.namespaceOf(o)
	}
	return r.transformedService(ns, ref.name)
}

// transformedService returns the chart's Service name in namespace ns when
// the post-renderer routes it to the active color.
func (r *run) transformedService(ns, name string) *object {
	for _, d := range r.chart.docs {
		for _, o := range d.objs {
			if o.kind == "Service" && o.name == name && r.namespaceOf(o) == ns && r.changes(o) {
				return o
			}
		}
	}
	return nil
}

// weightedRules returns the indexes of the route's rules whose only
// backend is a transformed Service.
func (r *run) weightedRules(o *object) []int {
	var out []int
	for i, refs := range o.routeRules {
		if len(refs) == 1 && !refs[0].off && r.refService(o, refs[0]) != nil {
			out = append(out, i)
		}
	}
	return out
}

// splitRoute rewrites the weighted rules' backendRef to S into one to
// S-<active> and one to S-<idle>, each with every field the API server
// would default written out (group, kind, weight), the port kept.
func splitRoute(_ context.Context, r *run, o *object) ([]*kyaml.RNode, error) {
	rules, err := o.rn.Pipe(kyaml.Lookup("spec", "rules"))
	if err != nil || rules == nil {
		return nil, fmt.Errorf("%s: spec.rules: %v", o, err)
	}
	items := rules.YNode().Content
	for _, i := range r.weightedRules(o) {
		rule := kyaml.NewRNode(items[i])
		refs, err := rule.Pipe(kyaml.Lookup("backendRefs"))
		if err != nil || refs == nil || len(refs.YNode().Content) != 1 {
			return nil, fmt.Errorf("%s: rule %d changed between passes", o, i+1)
		}
		ref := kyaml.NewRNode(refs.YNode().Content[0])
		var split []*yaml.Node
		for _, c := range []spec.Color{r.colors.active, r.colors.active.Other()} {
			weighted, err := r.weightedRef(ref, c)
			if err != nil {
				return nil, err
			}
			split = append(split, weighted.YNode())
		}
		refs.YNode().Content = split
	}
	return []*kyaml.RNode{o.rn}, nil
}

// weightedRef returns a copy of backendRef ref to S that sends color c's
// share to S-c.
func (r *run) weightedRef(ref *kyaml.RNode, c spec.Color) (*kyaml.RNode, error) {
	name, _ := ref.GetString("name")
	out := ref.Copy()
	weight := 100 - *r.opts.Weight
	if c != r.colors.active {
		weight = *r.opts.Weight
	}
	for _, f := range [][2]string{{"name", colorName(name, c)}, {"group", ""}, {"kind", "Service"}} {
		if err := out.PipeE(kyaml.SetField(f[0], kyaml.NewStringRNode(f[1]))); err != nil {
			return nil, err
		}
	}
	if err := out.PipeE(kyaml.SetField("weight", kyaml.NewRNode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(weight)}))); err != nil {
		return nil, err
	}
	return out, nil
}
