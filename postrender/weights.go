package postrender

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

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
//
// This file has the checkWeights step and the per-color Services; the
// routes filter (routes.go) rewrites the rules.

// checkWeights refuses what --weight cannot split, and notes the Services
// that get per-color copies.
func checkWeights(_ context.Context, r *run) error {
	if r.opts.Weight == nil {
		return nil
	}
	if w := *r.opts.Weight; w < 0 || w > 100 {
		return fmt.Errorf("--weight %d: want a percentage, 0 to 100", w)
	}
	r.weighted = map[string]bool{}
	routes := 0
	for _, o := range r.chart.objects() {
		var err error
		switch {
		case o.hook:
		case routeKinds[o.kind]:
			var n int
			n, err = r.checkWeightedRoute(o)
			routes += n
		case otherRouteKinds[o.kind]:
			err = r.checkOtherRoute(o)
		case o.kind == "Ingress":
			err = r.checkIngress(o)
		}
		if err != nil {
			return err
		}
	}
	if routes == 0 {
		return fmt.Errorf("--weight %d: no HTTPRoute or GRPCRoute of the chart has a rule whose only backend is a Service that bgrender routes to the active color, so there is nothing to split", *r.opts.Weight)
	}
	return r.checkColorServiceNames()
}

// checkWeightedRoute refuses a rule that sends to a transformed Service
// beside other backends, notes the Services of the rules that it splits,
// and returns how many rules those are.
func (r *run) checkWeightedRoute(o *object) (int, error) {
	for i, refs := range o.routeRules {
		for _, ref := range refs {
			if len(refs) == 1 || r.refService(o, ref) == nil || ref.off {
				continue
			}
			return 0, fmt.Errorf("%s: rule %d sends to Service %s beside other backends: --weight splits a rule whose only backend is a transformed Service; give %s a rule of its own, or leave out --weight", o, i+1, ref.name, ref.name)
		}
	}
	rules := r.weightedRules(o)
	for _, i := range rules {
		svc := r.refService(o, o.routeRules[i][0])
		r.weighted[r.namespaceOf(svc)+"/"+svc.name] = true
	}
	return len(rules), nil
}

// checkOtherRoute refuses a TCP, TLS or UDP route to a transformed
// Service.
func (r *run) checkOtherRoute(o *object) error {
	for _, refs := range o.routeRules {
		for _, ref := range refs {
			if r.refService(o, ref) != nil {
				return fmt.Errorf("%s: sends to Service %s, which bgrender routes to the active color: --weight splits HTTPRoutes and GRPCRoutes, not a %s; leave out --weight", o, ref.name, o.kind)
			}
		}
	}
	return nil
}

// checkIngress refuses an Ingress to a transformed Service.
func (r *run) checkIngress(o *object) error {
	for _, name := range o.backends {
		if r.transformedService(r.namespaceOf(o), name) != nil {
			return fmt.Errorf("%s: sends to Service %s, which bgrender routes to the active color: an Ingress cannot carry --weight (ingress-nginx's canary Ingresses are spec.traffic.nginx's, in a bgrender-managed folder); route it with a Gateway API HTTPRoute, or leave out --weight", o, name)
		}
	}
	return nil
}

// checkColorServiceNames refuses per-color Services whose names are too
// long or taken, the first by namespace/name.
func (r *run) checkColorServiceNames() error {
	for _, key := range slices.Sorted(maps.Keys(r.weighted)) {
		ns, name, _ := strings.Cut(key, "/")
		for _, c := range spec.Colors {
			n := colorName(name, c)
			if len(n) > maxServiceName {
				return fmt.Errorf("Service %s: the per-color Service %s would have %d characters, more than %d; shorten the Service's name", name, n, len(n), maxServiceName)
			}
			if other, ok := r.taken("Service", ns, n); ok {
				return fmt.Errorf("Service %s: bgrender would add Service %s for --weight, but the chart has one of that name (%s); rename one of them", name, n, other)
			}
		}
	}
	return nil
}

// colorServices returns S-blue and S-green: copies of the active Service
// main (already routed to the active color), each selecting one color.
func (r *run) colorServices(o *object, main *kyaml.RNode) ([]*kyaml.RNode, error) {
	var out []*kyaml.RNode
	for _, c := range spec.Colors {
		svc := main.Copy()
		if err := setStringMapField(svc, "name", colorName(o.name, c), "metadata"); err != nil {
			return nil, err
		}
		if err := r.routeService(svc, c); err != nil {
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
