package promote

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/spec"
)

// A plain folder may split traffic through the Gateway API as bgrender
// renders it: an HTTPRoute whose rules each send to two Services of the
// app, one that selects blue and one that selects green (their selectors
// never change), with weights that add up to 100. shift edits those two
// weight lines; promote flips the live Service and, in the same commit,
// gives the new live color's backend 100 — whichever the agent applies
// first, no request goes to a color the commit does not mean.

// routeRule is one rule of the route that splits between the colors: its
// index in spec.rules, and the index in its backendRefs of each color's.
type routeRule struct {
	rule int
	refs map[spec.Color]int
}

// perColorServices are the folder's Services that select the app's pods of
// one color for good: every Service of the app but the live and the
// preview one, whose selectors promote flips.
func (p *plain) perColorServices(objs []*manifest) map[string]spec.Color {
	out := map[string]spec.Color{}
	for _, o := range objs {
		if o.kind != "Service" || o == p.service || o == p.preview || !p.selectsApp(o) {
			continue
		}
		c, _ := colorOf(yamledit.Scalar(o.node(), "spec", "selector", p.colorLabel))
		out[o.name] = c
	}
	return out
}

// serviceRef returns the Service a backendRef names, "" when it names
// another kind, or a Service in another namespace than the route's.
func serviceRef(route, ref *yaml.Node) string {
	kind, group := nullable(yamledit.Scalar(ref, "kind")), nullable(yamledit.Scalar(ref, "group"))
	if (kind != "" && kind != "Service") || group != "" {
		return ""
	}
	if ns := nullable(yamledit.Scalar(ref, "namespace")); ns != "" && ns != yamledit.Scalar(route, "metadata", "namespace") {
		return ""
	}
	return yamledit.Scalar(ref, "name")
}

// nullable reads YAML's null as empty.
func nullable(s string) string {
	if s == "null" || s == "~" {
		return ""
	}
	return s
}

// splitRules returns the route's rules that send to exactly two backends,
// the per-color Services of blue and green.
func splitRules(route *yaml.Node, services map[string]spec.Color) []routeRule {
	list := yamledit.Lookup(route, "spec", "rules")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	var out []routeRule
	for i, r := range list.Content {
		refs := yamledit.Lookup(r, "backendRefs")
		if refs == nil || refs.Kind != yaml.SequenceNode || len(refs.Content) != 2 {
			continue
		}
		rr := routeRule{rule: i, refs: map[spec.Color]int{}}
		for j, ref := range refs.Content {
			if c, ok := services[serviceRef(route, ref)]; ok && c.Valid() {
				rr.refs[c] = j
			}
		}
		if len(rr.refs) == 2 {
			out = append(out, rr)
		}
	}
	return out
}

// ref is the backendRef node of color c in rule rr of the route, as the
// file holds it now (nodes are stale after an edit).
func (p *plain) ref(rr routeRule, c spec.Color) *yaml.Node {
	rule := yamledit.Lookup(p.route.node(), "spec", "rules").Content[rr.rule]
	return yamledit.Lookup(rule, "backendRefs").Content[rr.refs[c]]
}

// readRoute finds the app's weighted HTTPRoute, when the folder has one
// (and no canary Ingress).
func (p *plain) readRoute(objs []*manifest) (err error) {
	defer func() {
		if err != nil { // a route bgrender cannot read is not edited
			p.route, p.routeRules = nil, nil
		}
	}()
	services := p.perColorServices(objs)
	var found []*manifest
	var rules [][]routeRule
	for _, o := range objs {
		if o.kind != "HTTPRoute" {
			continue
		}
		if rs := splitRules(o.node(), services); len(rs) > 0 {
			found = append(found, o)
			rules = append(rules, rs)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
	default:
		return exitcode.Invalidf("several HTTPRoutes split %s's traffic between the colors: %s; keep one per app", p.service.name, listed(found))
	}
	p.route, p.routeRules = found[0], rules[0]
	r := p.route
	idle := p.st.Active.Other()
	var share int32 = -1
	for i, rr := range p.routeRules {
		wi, err := refWeight(r, p.ref(rr, idle))
		if err != nil {
			return err
		}
		wa, err := refWeight(r, p.ref(rr, p.st.Active))
		if err != nil {
			return err
		}
		if wi+wa != 100 {
			return exitcode.Invalidf("%s: rule %d: the weights of its backends add up to %d, not 100: bgrender's weights are percentages; make them so (e.g. %d and %d)", r.where(), i+1, wi+wa, 100-min(wi, 100), min(wi, 100))
		}
		if share >= 0 && wi != share {
			return exitcode.Invalidf("%s: its rules send %d%% and %d%% to %s: make them agree before shifting", r.where(), share, wi, idle)
		}
		share = wi
	}
	p.st.Weight, p.st.Shifted = &share, idle
	p.st.RouteName = r.name
	p.st.RouteServices = map[spec.Color]string{}
	for _, c := range spec.Colors {
		p.st.RouteServices[c] = yamledit.Scalar(p.ref(p.routeRules[0], c), "name")
	}
	return nil
}

// refWeight is a backendRef's weight (the Gateway API's default 1 when it
// has none).
func refWeight(r *manifest, ref *yaml.Node) (int32, error) {
	s := yamledit.Scalar(ref, "weight")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 || n > 1000000 {
		return 0, exitcode.Invalidf("%s: backendRef %s: weight %q is not a number from 0 to 1000000", r.where(), yamledit.Scalar(ref, "name"), s)
	}
	return int32(n), nil
}

// setRouteWeights writes the route's weights as the commit leaves the app:
// n% to the color that is idle after it, the rest to the live one.
func (p *plain) setRouteWeights(n int32) error {
	live := p.st.Active
	if p.newActive != "" {
		live = p.newActive
	}
	f := p.route.file
	for _, rr := range p.routeRules {
		for _, c := range spec.Colors {
			w := n
			if c == live {
				w = 100 - n
			}
			if _, err := f.y.SetNodeInt(p.ref(rr, c), []string{"weight"}, int64(w)); err != nil {
				return exitcode.Invalidf("%s: %v", p.route.where(), err)
			}
		}
	}
	f.changed = true
	return nil
}

// routeBackends names the Services that the folder's HTTPRoutes send to.
func routeBackends(objs []*manifest) map[string]bool {
	out := map[string]bool{}
	for _, o := range objs {
		if o.kind == "HTTPRoute" {
			for _, name := range httpRouteBackends(o) {
				out[name] = true
			}
		}
	}
	return out
}
