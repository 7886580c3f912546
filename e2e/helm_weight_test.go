package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestHelmWeightedRoute: a chart with a Gateway API HTTPRoute to its
// Service, through bgrender's post-renderer with --weight 20 under the real
// Helm 3 and Helm 4 (golden): the route's rule sends to per-color Services
// <svc>-blue (80) and <svc>-green (20) with group, kind and weight written
// out; every object passes the real API server's strict server-side apply
// with the Gateway API CRDs installed, without a warning, and the route
// reads back without drift. A chart whose Ingress sends to the Service is
// refused with --weight, and a chart with nothing to split too.
func TestHelmWeightedRoute(t *testing.T) {
	srv := kubetest.Require(t)
	requireGatewayAPI(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, major := range []int{3, 4} {
		h, flags := helmWithBgrender(t, major)
		t.Run(fmt.Sprintf("helm%d", major), func(t *testing.T) {
			out, stderr, err := h.Run(ctx, append([]string{"template", "demo", "../examples/charts/gateway", "--namespace", "shop"}, args(flags, "--weight", "20", "--network-policy")...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			golden(t, fmt.Sprintf("helm/gateway-weight-helm%d.yaml", major), []byte(out))
			ns := srv.NewNamespace(t, ctx, fmt.Sprintf("helm%d-weight", major), nil)
			objs := decodeAll(t, out, ns)
			warnings, err := srv.ApplyDryRun(ctx, objs)
			if err != nil {
				t.Fatalf("the API server rejected the post-rendered chart: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("the API server warned:\n%s", strings.Join(warnings, "\n"))
			}
			var route *unstructured.Unstructured
			services := map[string]bool{}
			for _, o := range objs {
				switch o.GetKind() {
				case "HTTPRoute":
					route = o
				case "Service":
					services[o.GetName()] = true
				}
			}
			if route == nil || !services["demo-blue"] || !services["demo-green"] {
				t.Fatalf("the route or the per-color Services are missing: %v", services)
			}
			rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
			refs, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
			got := map[string]int64{}
			for _, r := range refs {
				m := r.(map[string]any)
				var w int64
				switch v := m["weight"].(type) {
				case int64:
					w = v
				case float64:
					w = int64(v)
				}
				got[m["name"].(string)] = w
			}
			if len(got) != 2 || got["demo-blue"] != 80 || got["demo-green"] != 20 {
				t.Errorf("backendRefs: %v", refs)
			}
			data, err := route.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			ri := srv.Dynamic().Resource(httpRouteGVR).Namespace(ns)
			if _, err := ri.Patch(ctx, route.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
				FieldManager: kubetest.FieldManager, Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict,
			}); err != nil {
				t.Fatal(err)
			}
			live, err := ri.Get(ctx, route.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diffs := drift("spec", route.Object["spec"], plainJSON(t, live.Object)["spec"]); len(diffs) > 0 {
				t.Errorf("the stored HTTPRoute differs from the post-rendered one:\n%s", strings.Join(diffs, "\n"))
			}

			// Nothing to split: the web chart has no route. (Helm 4 does not
			// pass a post-renderer plugin's standard error on.)
			if _, stderr, err := h.Run(ctx, append([]string{"template", "demo", "../examples/charts/web"}, args(flags, "--weight", "20")...)...); err == nil || (major == 3 && !strings.Contains(stderr, "nothing to split")) {
				t.Errorf("--weight on a chart without a route: %v\n%s", err, stderr)
			}
		})
	}
}

// decodeAll decodes a manifest stream into objects in namespace ns.
func decodeAll(t *testing.T, stream, ns string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(stream)), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetNamespace(ns)
		out = append(out, u)
	}
}
