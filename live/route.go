package live

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// HTTPRoutes is the Gateway API resource that bgrender's traffic renders.
var HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Route is a weighted state to wait for: the HTTPRoute Name carries
// Weights (percent by backend Service name) in its rule without matches
// on headers, and every parent Gateway reports Accepted and ResolvedRefs
// for the route's current generation.
type Route struct {
	Client dynamic.Interface
	// WatchClient watches the route (default: Client; see Target).
	WatchClient dynamic.Interface
	Namespace   string
	Name        string
	Weights     map[string]int32
	Timeout     time.Duration
}

// RouteState is what the cluster shows of a route.
type RouteState struct {
	Found      bool
	Weights    map[string]int32
	Generation int64
	// Parents says, per parent, the conditions that are not yet true at
	// the current generation ("" when the parent has accepted it).
	Parents []string
}

func (s RouteState) String() string {
	if !s.Found {
		return "the HTTPRoute is missing"
	}
	names := make([]string, 0, len(s.Weights))
	for n := range s.Weights {
		names = append(names, n)
	}
	slices.Sort(names)
	var w []string
	for _, n := range names {
		w = append(w, fmt.Sprintf("%s=%d", n, s.Weights[n]))
	}
	parents := "no parent has reported it"
	if len(s.Parents) > 0 {
		parents = strings.Join(s.Parents, "; ")
	}
	return fmt.Sprintf("weights %s at generation %d; %s", strings.Join(w, " "), s.Generation, parents)
}

// accepted reports whether every parent accepted the current generation.
func (s RouteState) accepted() bool {
	if len(s.Parents) == 0 {
		return false
	}
	for _, p := range s.Parents {
		if !strings.HasSuffix(p, ": accepted") {
			return false
		}
	}
	return true
}

// WaitRoute reads the route until it carries the weights and its parents
// accepted it (again on every change of the route: see until), or the timeout (default 5 minutes) passes.
func WaitRoute(ctx context.Context, r *Route) (RouteState, error) {
	var last RouteState
	watched := []source{{resource: HTTPRoutes, namespace: r.Namespace, fields: fields.OneTermEqualSelector("metadata.name", r.Name).String()}}
	err := until(ctx, watchClient(r.WatchClient, r.Client), r.Timeout, watched, func(ctx context.Context) (bool, error) {
		st, err := ReadRoute(ctx, r)
		if err != nil {
			return false, err
		}
		last = st
		return st.Found && st.accepted() && weightsEqual(st.Weights, r.Weights), nil
	})
	if err != nil {
		return last, fmt.Errorf("HTTPRoute %s/%s does not carry the step: %w: %s", r.Namespace, r.Name, err, last)
	}
	return last, nil
}

func weightsEqual(got, want map[string]int32) bool {
	for name, w := range want {
		if got[name] != w {
			return false
		}
	}
	return true
}

// ReadRoute returns what the cluster shows of the route.
func ReadRoute(ctx context.Context, r *Route) (RouteState, error) {
	st := RouteState{Weights: map[string]int32{}}
	u, err := r.Client.Resource(HTTPRoutes).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("get HTTPRoute %s/%s: %w", r.Namespace, r.Name, err)
	}
	st.Found, st.Generation = true, u.GetGeneration()
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, rule := range rules {
		rm, _ := rule.(map[string]any)
		if headerMatched(rm) {
			continue // the testers' rule
		}
		refs, _, _ := unstructured.NestedSlice(rm, "backendRefs")
		for _, ref := range refs {
			m, _ := ref.(map[string]any)
			name, _ := m["name"].(string)
			w := int64(1) // the API's default weight
			if v, ok := m["weight"].(int64); ok {
				w = v
			}
			st.Weights[name] = int32(w)
		}
	}
	// Every parentRef of the spec must have reported, matched on its
	// namespace, name, sectionName and port.
	key := func(m map[string]any) string {
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = r.Namespace
		}
		name, _ := m["name"].(string)
		section, _ := m["sectionName"].(string)
		port := fmt.Sprint(m["port"])
		return ns + "/" + name + "/" + section + "/" + port
	}
	reported := map[string]bool{}
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	for _, p := range parents {
		pm, _ := p.(map[string]any)
		prm, _ := pm["parentRef"].(map[string]any)
		reported[key(prm)] = true
		ref, _, _ := unstructured.NestedString(pm, "parentRef", "name")
		conds, _, _ := unstructured.NestedSlice(pm, "conditions")
		var missing []string
		for _, want := range []string{"Accepted", "ResolvedRefs"} {
			ok := false
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				gen, _ := cm["observedGeneration"].(int64)
				if cm["type"] == want && cm["status"] == "True" && gen == st.Generation {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			st.Parents = append(st.Parents, ref+": accepted")
		} else {
			st.Parents = append(st.Parents, ref+": not "+strings.Join(missing, ", ")+" at generation "+fmt.Sprint(st.Generation))
		}
	}
	refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		if !reported[key(m)] {
			name, _ := m["name"].(string)
			st.Parents = append(st.Parents, name+": not reported")
		}
	}
	return st, nil
}

// headerMatched reports whether a rule matches on a header.
func headerMatched(rule map[string]any) bool {
	matches, _, _ := unstructured.NestedSlice(rule, "matches")
	for _, m := range matches {
		mm, _ := m.(map[string]any)
		if h, ok := mm["headers"].([]any); ok && len(h) > 0 {
			return true
		}
	}
	return false
}
