package promote

import (
	"fmt"
	"strconv"
	"strings"

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

// routeRule is one rule of the route that splits between the colors:
// the backendRef node of each color.
type routeRule struct {
	refs map[spec.Color]*yaml.Node
}

// readRoute finds the app's weighted HTTPRoute, when the folder has one
// (and no canary Ingress).
func (p *plain) readRoute(objs []*manifest) error {
	services := map[string]spec.Color{}
	for _, o := range objs {
		if o.kind == "Service" && p.selectsApp(o) {
			c, _ := colorOf(yamledit.Scalar(o.node(), "spec", "selector", p.colorLabel))
			services[o.name] = c
		}
	}
	var found []*manifest
	var rules [][]routeRule
	for _, o := range objs {
		if o.kind != "HTTPRoute" {
			continue
		}
		var rs []routeRule
		list := yamledit.Lookup(o.node(), "spec", "rules")
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, r := range list.Content {
			refs := yamledit.Lookup(r, "backendRefs")
			if refs == nil || refs.Kind != yaml.SequenceNode || len(refs.Content) != 2 {
				continue
			}
			rr := routeRule{refs: map[spec.Color]*yaml.Node{}}
			for _, ref := range refs.Content {
				kind, group := yamledit.Scalar(ref, "kind"), yamledit.Scalar(ref, "group")
				if c, ok := services[yamledit.Scalar(ref, "name")]; ok && (kind == "" || kind == "Service") && group == "" {
					rr.refs[c] = ref
				}
			}
			if len(rr.refs) == 2 && p.selectsOneColor(services, rr) {
				rs = append(rs, rr)
			}
		}
		if len(rs) > 0 {
			found = append(found, o)
			rules = append(rules, rs)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
	default:
		var names []string
		for _, r := range found {
			names = append(names, r.name+" ("+r.file.name+")")
		}
		return exitcode.Invalidf("several HTTPRoutes split %s's traffic between the colors: %s; keep one per app", p.service.name, strings.Join(names, ", "))
	}
	r := found[0]
	idle := p.st.Active.Other()
	var share int32 = -1
	for i, rr := range rules[0] {
		wi, err := refWeight(r, rr.refs[idle])
		if err != nil {
			return err
		}
		wa, err := refWeight(r, rr.refs[p.st.Active])
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
	p.route, p.routeRules = r, rules[0]
	p.st.Weight, p.st.Shifted = &share, idle
	p.st.RouteName = r.name
	p.st.RouteServices = map[spec.Color]string{}
	for c, ref := range rules[0][0].refs {
		p.st.RouteServices[c] = yamledit.Scalar(ref, "name")
	}
	return nil
}

// selectsOneColor: the rule's two Services are each another color's.
func (p *plain) selectsOneColor(services map[string]spec.Color, rr routeRule) bool {
	return services[yamledit.Scalar(rr.refs[spec.Blue], "name")] == spec.Blue && services[yamledit.Scalar(rr.refs[spec.Green], "name")] == spec.Green
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
	for i := range p.routeRules {
		for _, c := range spec.Colors {
			w := n
			if c == live {
				w = 100 - n
			}
			// Nodes are stale after an edit: find the rules again.
			if err := p.rereadRoute(); err != nil {
				return err
			}
			if _, err := f.y.SetNodeInt(p.routeRules[i].refs[c], []string{"weight"}, int64(w)); err != nil {
				return exitcode.Invalidf("%s: %v", p.route.where(), err)
			}
		}
	}
	f.changed = true
	return nil
}

// rereadRoute finds the route's rules again in the edited file.
func (p *plain) rereadRoute() error {
	r := p.route
	list := yamledit.Lookup(r.node(), "spec", "rules")
	var rules []routeRule
	for _, rule := range list.Content {
		refs := yamledit.Lookup(rule, "backendRefs")
		if refs == nil || refs.Kind != yaml.SequenceNode || len(refs.Content) != 2 {
			continue
		}
		rr := routeRule{refs: map[spec.Color]*yaml.Node{}}
		for _, ref := range refs.Content {
			for c, name := range p.st.RouteServices {
				if yamledit.Scalar(ref, "name") == name {
					rr.refs[c] = ref
				}
			}
		}
		if len(rr.refs) == 2 {
			rules = append(rules, rr)
		}
	}
	if len(rules) != len(p.routeRules) {
		return fmt.Errorf("%s: the route's rules changed while being edited", r.where())
	}
	p.routeRules = rules
	return nil
}

// routeBackends names the Services that the folder's HTTPRoutes send to.
func routeBackends(objs []*manifest) map[string]bool {
	out := map[string]bool{}
	for _, o := range objs {
		if o.kind != "HTTPRoute" {
			continue
		}
		rules := yamledit.Lookup(o.node(), "spec", "rules")
		if rules == nil || rules.Kind != yaml.SequenceNode {
			continue
		}
		for _, r := range rules.Content {
			if refs := yamledit.Lookup(r, "backendRefs"); refs != nil && refs.Kind == yaml.SequenceNode {
				for _, ref := range refs.Content {
					out[yamledit.Scalar(ref, "name")] = true
				}
			}
		}
	}
	return out
}
