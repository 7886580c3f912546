package status

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// HTTPRoutes is the resource of the routes that spec.traffic renders.
var HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Traffic is how the app's HTTPRoute splits requests between the colors.
type Traffic struct {
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
	t := &Traffic{Route: r.Name, Weights: map[string]int32{}}
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
				if ref.Name == app+"-"+string(c) {
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
	return fmt.Sprintf("HTTPRoute %s: blue %d%%, green %d%% (%s)", t.Route, t.Weights["blue"], t.Weights["green"], parents)
}
