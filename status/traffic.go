package status

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// HTTPRoutes is the resource of the routes that spec.traffic renders.
var HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Ingresses is the resource of the NGINX canary mode's Ingresses.
var Ingresses = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}

// Traffic is how the app's HTTPRoute, or its NGINX canary Ingress, splits
// requests between the colors.
type Traffic struct {
	// Kind is HTTPRoute or Ingress (the canary <name>-canary).
	Kind  string `json:"kind"`
	Route string `json:"route"`
	// Weights are the percent of requests each color's Service gets (the
	// route's rule without header matches).
	Weights map[string]int32 `json:"weights"`
	// Parents says, per Gateway, whether it accepted the route's current
	// generation.
	Parents []string `json:"parents"`
}

// route is the part of an HTTPRoute that status reads.
type route struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Rules []struct {
			Matches []struct {
				Headers []struct {
					Name string `json:"name"`
				} `json:"headers"`
			} `json:"matches"`
			BackendRefs []struct {
				Name   string `json:"name"`
				Weight *int32 `json:"weight"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
	Status struct {
		Parents []struct {
			ParentRef struct {
				Name string `json:"name"`
			} `json:"parentRef"`
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"parents"`
	} `json:"status"`
}

type routeList struct {
	Items []route `json:"items"`
}

// traffic reads the route of app name.
func (r *route) traffic(app string) *Traffic {
	return r.trafficTo(map[spec.Color]string{spec.Blue: app + "-blue", spec.Green: app + "-green"})
}

// trafficTo reads the route's split between the colors' Services named.
func (r *route) trafficTo(names map[spec.Color]string) *Traffic {
	t := &Traffic{Kind: "HTTPRoute", Route: r.Name, Weights: map[string]int32{}}
	for _, rule := range r.Spec.Rules {
		header := false
		for _, m := range rule.Matches {
			header = header || len(m.Headers) > 0
		}
		if header {
			continue
		}
		for _, ref := range rule.BackendRefs {
			for _, c := range spec.Colors {
				if ref.Name == names[c] {
					w := int32(1)
					if ref.Weight != nil {
						w = *ref.Weight
					}
					t.Weights[string(c)] = w
				}
			}
		}
	}
	for _, p := range r.Status.Parents {
		var missing []string
		for _, want := range []string{"Accepted", "ResolvedRefs"} {
			ok := false
			for _, c := range p.Conditions {
				if c.Type == want && c.Status == metav1.ConditionTrue && c.ObservedGeneration == r.Generation {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			t.Parents = append(t.Parents, p.ParentRef.Name+": accepted")
		} else {
			t.Parents = append(t.Parents, fmt.Sprintf("%s: not %s at generation %d", p.ParentRef.Name, strings.Join(missing, ", "), r.Generation))
		}
	}
	slices.Sort(t.Parents)
	return t
}

// routesByApp indexes the routes by their app label.
func routesByApp(routes []route) map[string]*route {
	out := map[string]*route{}
	for i := range routes {
		if name := routes[i].Labels[render.LabelName]; name != "" && routes[i].Name == name {
			out[name] = &routes[i]
		}
	}
	return out
}

// String is one line for the text output.
func (t *Traffic) String() string {
	parents := "no Gateway has reported it"
	if len(t.Parents) > 0 {
		parents = strings.Join(t.Parents, "; ")
	}
	if t.Kind == "Ingress" {
		return fmt.Sprintf("Ingress %s (NGINX canary): blue %d%%, green %d%%", t.Route, t.Weights["blue"], t.Weights["green"])
	}
	return fmt.Sprintf("HTTPRoute %s: blue %d%%, green %d%% (%s)", t.Route, t.Weights["blue"], t.Weights["green"], parents)
}

// canaryIngress is the part of a canary Ingress that status reads.
type canaryIngress struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Rules []struct {
			HTTP struct {
				Paths []struct {
					Backend struct {
						Service struct {
							Name string `json:"name"`
						} `json:"service"`
					} `json:"backend"`
				} `json:"paths"`
			} `json:"http"`
		} `json:"rules"`
	} `json:"spec"`
}

type canaryIngressList struct {
	Items []canaryIngress `json:"items"`
}

// canariesByApp indexes the canary Ingresses <app>-canary by their app
// label.
func canariesByApp(list []canaryIngress) map[string]*canaryIngress {
	out := map[string]*canaryIngress{}
	for i := range list {
		c := &list[i]
		if name := c.Labels[render.LabelName]; name != "" && c.Name == name+"-canary" && c.Annotations[render.AnnotationCanary] == "true" {
			out[name] = c
		}
	}
	return out
}

// traffic reads the canary's split: canary-weight percent (ingress-nginx's
// default 0) to the color of its backend Service <app>-<color>, the rest
// to the other color through the main Ingress. A canary whose backend is no
// color's Service shows no split.
func (c *canaryIngress) traffic(app string) *Traffic {
	var to spec.Color
	for _, r := range c.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			for _, col := range spec.Colors {
				if p.Backend.Service.Name == app+"-"+string(col) {
					to = col
				}
			}
		}
	}
	if to == "" {
		return nil
	}
	return c.split(to)
}

// split is the canary's canary-weight percent (ingress-nginx's default 0)
// to color to, the rest to the other; nil when the weight is no percentage.
func (c *canaryIngress) split(to spec.Color) *Traffic {
	w := int64(0)
	if s := c.Annotations[render.AnnotationCanaryWeight]; s != "" {
		var err error
		if w, err = strconv.ParseInt(s, 10, 32); err != nil || w < 0 || w > 100 {
			return nil
		}
	}
	return &Traffic{Kind: "Ingress", Route: c.Name, Weights: map[string]int32{string(to): int32(w), string(to.Other()): 100 - int32(w)}}
}

// PlainCanary reads the split of a plain folder's canary Ingress (named in
// Git, not labeled by bgrender): its canary-weight percent to the color
// that its backend Service selects under colorLabel, the rest to the other.
// It returns nil, without an error, when the Ingress or its Service is
// missing or names no color.
func (r *Reader) PlainCanary(ctx context.Context, ingress, colorLabel string) (*Traffic, error) {
	byName := func(name string) url.Values { return url.Values{"fieldSelector": {"metadata.name=" + name}} }
	var ings canaryIngressList
	if err := r.list(ctx, Ingresses, byName(ingress), &ings); err != nil {
		return nil, err
	}
	if len(ings.Items) != 1 {
		return nil, nil
	}
	c := &ings.Items[0]
	var backend string
	for _, rule := range c.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			if backend == "" {
				backend = p.Backend.Service.Name
			}
		}
	}
	var svcs corev1.ServiceList
	if backend == "" {
		return nil, nil
	}
	if err := r.list(ctx, cluster.Services, byName(backend), &svcs); err != nil {
		return nil, err
	}
	if len(svcs.Items) != 1 {
		return nil, nil
	}
	to := spec.Color(svcs.Items[0].Spec.Selector[colorLabel])
	if !to.Valid() {
		return nil, nil
	}
	return c.split(to), nil
}

// PlainRoute reads the split of a plain folder's HTTPRoute (named in Git,
// not labeled by bgrender) between the Services of each color; nil, without
// an error, when it is missing or the Gateway API is not served.
func (r *Reader) PlainRoute(ctx context.Context, name string, services map[spec.Color]string) (*Traffic, error) {
	var l routeList
	if err := r.list(ctx, HTTPRoutes, url.Values{"fieldSelector": {"metadata.name=" + name}}, &l); err != nil || len(l.Items) != 1 {
		return nil, nil
	}
	return l.Items[0].trafficTo(services), nil
}
