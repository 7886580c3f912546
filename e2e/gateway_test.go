package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// The Gateway API whose standard-channel CRDs the tests install: the
// version of go.mod, downloaded into the Go module cache by
// hack/install-tools.sh gateway-api-crds.
const (
	gatewayAPIModule  = "sigs.k8s.io/gateway-api"
	gatewayAPIVersion = "v1.6.3"
	gatewayCRDFolder  = "config/crd/standard"
)

var (
	crdGVR       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	httpRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

var gatewayCRDs struct {
	sync.Mutex
	installed bool
}

// requireGatewayAPI installs the Gateway API's standard-channel CRDs in the
// test API server once per test binary and waits until they are
// established. When the module is not in the Go module cache the test
// fails; it is skipped only under go test -short, and never when CI=true.
func requireGatewayAPI(t *testing.T, srv *kubetest.Server) {
	t.Helper()
	gatewayCRDs.Lock()
	defer gatewayCRDs.Unlock()
	if gatewayCRDs.installed {
		return
	}
	files, err := gatewayCRDFiles()
	if err != nil {
		msg := fmt.Sprintf("%v: run hack/install-tools.sh gateway-api-crds (make tools)", err)
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip(msg + "; skipped under -short")
		}
		t.Fatal(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var crds []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if err == io.EOF {
					break
				}
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			if len(m) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetKind() != "CustomResourceDefinition" {
				continue // the safe-upgrades ValidatingAdmissionPolicy is not a CRD
			}
			crds = append(crds, u)
		}
	}
	if len(crds) == 0 {
		t.Fatalf("no CRDs in %s", gatewayCRDFolder)
	}
	for _, crd := range crds {
		data, err := crd.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.Dynamic().Resource(crdGVR).Patch(ctx, crd.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			FieldManager:    kubetest.FieldManager,
			Force:           ptr.To(true),
			FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			t.Fatalf("installing CRD %s: %v", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		waitEstablished(t, ctx, srv, crd.GetName())
	}
	srv.RESTMapper().Reset()
	gatewayCRDs.installed = true
}

// gatewayCRDFiles lists the standard-channel CRD files of the Gateway API
// in the Go module cache.
func gatewayCRDFiles() ([]string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("Gateway API CRDs (go env GOMODCACHE: %v)", err)
	}
	// The module path has no upper-case letters: the cache's case
	// encoding leaves it as it is.
	dir := filepath.Join(strings.TrimSpace(string(out)), gatewayAPIModule+"@"+gatewayAPIVersion, gatewayCRDFolder)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		return nil, fmt.Errorf("Gateway API CRDs: no %s/*.yaml of %s@%s in the Go module cache", gatewayCRDFolder, gatewayAPIModule, gatewayAPIVersion)
	}
	return files, nil
}

func waitEstablished(t *testing.T, ctx context.Context, srv *kubetest.Server, name string) {
	t.Helper()
	for {
		crd, err := srv.Dynamic().Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s not established: %v (last error: %v)", name, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// requireGatewayAPIFor installs the Gateway API's CRDs when objs hold an
// HTTPRoute.
func requireGatewayAPIFor(t *testing.T, srv *kubetest.Server, objs []render.Object) {
	t.Helper()
	for _, o := range objs {
		if o.GetObjectKind().GroupVersionKind().Group == httpRouteGVR.Group {
			requireGatewayAPI(t, srv)
			return
		}
	}
}

// routeCase is one app whose HTTPRoute goes to the API server.
type routeCase struct {
	name string
	app  *spec.BlueGreenApp
}

// routeCases are every example with spec.traffic.gateway, and variants of
// the gateway example that set the fields it leaves out (a parentRef in
// the app's namespace with sectionName and port, several hostnames, a
// deeper path, another header) and the weights at both ends.
func routeCases(t *testing.T) []routeCase {
	t.Helper()
	paths, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []routeCase
	for _, path := range paths {
		for _, app := range loadExample(t, path) {
			if app.Spec.Traffic != nil && app.Spec.Traffic.Gateway != nil {
				cases = append(cases, routeCase{filepath.Base(filepath.Dir(path)), app})
			}
		}
	}
	if len(cases) == 0 {
		t.Fatal("no example sets spec.traffic.gateway")
	}
	variant := func(name string, edit func(*spec.BlueGreenApp)) {
		app := loadExample(t, "../examples/gateway/app.yaml")[0]
		edit(app)
		spec.Default(app)
		if errs := spec.Validate(app); len(errs) > 0 {
			t.Fatalf("variant %s: %v", name, errs)
		}
		cases = append(cases, routeCase{"gateway/" + name, app})
	}
	variant("weight-0", func(a *spec.BlueGreenApp) { a.Spec.Traffic.Weight = ptr.To(int32(0)) })
	variant("weight-100-green-active", func(a *spec.BlueGreenApp) {
		a.Spec.Active = spec.Green
		a.Spec.Traffic.Weight = ptr.To(int32(100))
	})
	variant("every-field", func(a *spec.BlueGreenApp) {
		g := a.Spec.Traffic.Gateway
		g.ParentRefs = []spec.ParentRef{
			{Name: "public", Namespace: "gateway-system", SectionName: "https", Port: ptr.To(int32(443))},
			{Name: "internal"},
		}
		g.Hostnames = []string{"api.example.com", "*.api.example.com"}
		g.Path = "/v1/orders"
		a.Spec.Traffic.Header = "X-Canary-Color"
		a.Spec.Ports = []spec.Port{{Name: "http", ContainerPort: 8080, ServicePort: 8443}, {Name: "metrics", ContainerPort: 9090}}
	})
	return cases
}

func loadExample(t *testing.T, path string) []*spec.BlueGreenApp {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return apps
}

// renderedRoute returns the manifest of the app's HTTPRoute, in namespace ns.
func renderedRoute(t *testing.T, app *spec.BlueGreenApp, ns string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if o.GetObjectKind().GroupVersionKind().Kind != "HTTPRoute" {
			continue
		}
		m, err := render.Manifest(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: plainJSON(t, m)}
		u.SetNamespace(ns)
		return u
	}
	t.Fatal("no HTTPRoute rendered")
	return nil
}

// plainJSON round-trips v through JSON, so that numbers compare equal
// whichever decoder produced them.
func plainJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// drift lists every path at which got differs from want.
func drift(path string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		var out []string
		for _, k := range names {
			w, inW := wm[k]
			g, inG := gm[k]
			switch {
			case !inW:
				out = append(out, fmt.Sprintf("%s.%s: added by the API server: %v", path, k, g))
			case !inG:
				out = append(out, fmt.Sprintf("%s.%s: dropped by the API server (was %v)", path, k, w))
			default:
				out = append(out, drift(path+"."+k, w, g)...)
			}
		}
		return out
	}
	ws, wok := want.([]any)
	gs, gok := got.([]any)
	if wok && gok && len(ws) == len(gs) {
		var out []string
		for i := range ws {
			out = append(out, drift(fmt.Sprintf("%s[%d]", path, i), ws[i], gs[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: rendered %v, stored %v", path, want, got)}
	}
	return nil
}

// TestHTTPRoutesAcceptedWithoutDrift installs the Gateway API's
// standard-channel CRDs (v1.6.3, with their CEL rules) and, for every
// rendered HTTPRoute: server-side applies it with dryRun=All and strict
// field validation (no error, no warning), applies it for real, reads it
// back and wants its spec, labels and annotations exactly as rendered: the
// API server defaulted nothing that bgrender left out, so Argo CD shows no
// drift.
func TestHTTPRoutesAcceptedWithoutDrift(t *testing.T) {
	srv := kubetest.Require(t)
	requireGatewayAPI(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "gateway-routes", nil)
	for _, tc := range routeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			route := renderedRoute(t, tc.app, ns)
			route.SetName(strings.ReplaceAll(tc.name, "/", "-"))
			warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{route})
			if err != nil {
				t.Fatalf("the API server rejected the HTTPRoute: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("the API server warned:\n%s", strings.Join(warnings, "\n"))
			}
			data, err := route.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			ri := srv.Dynamic().Resource(httpRouteGVR).Namespace(ns)
			if _, err := ri.Patch(ctx, route.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
				FieldManager:    kubetest.FieldManager,
				Force:           ptr.To(true),
				FieldValidation: metav1.FieldValidationStrict,
			}); err != nil {
				t.Fatalf("applying the HTTPRoute: %v", err)
			}
			live, err := ri.Get(ctx, route.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			stored := plainJSON(t, live.Object)
			var diffs []string
			diffs = append(diffs, drift("spec", route.Object["spec"], stored["spec"])...)
			if !reflect.DeepEqual(route.GetLabels(), live.GetLabels()) {
				diffs = append(diffs, fmt.Sprintf("metadata.labels: rendered %v, stored %v", route.GetLabels(), live.GetLabels()))
			}
			if !reflect.DeepEqual(route.GetAnnotations(), live.GetAnnotations()) {
				diffs = append(diffs, fmt.Sprintf("metadata.annotations: rendered %v, stored %v", route.GetAnnotations(), live.GetAnnotations()))
			}
			if len(diffs) > 0 {
				t.Errorf("the stored HTTPRoute differs from the rendered one (Argo CD would show drift):\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

// TestHTTPRouteDriftCheckCanFail proves that the comparison above can
// fail: a route that leaves the backendRefs' group, kind and weight and
// the match types to the API server's defaults comes back with them.
func TestHTTPRouteDriftCheckCanFail(t *testing.T) {
	srv := kubetest.Require(t)
	requireGatewayAPI(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "gateway-drift", nil)
	route := renderedRoute(t, loadExample(t, "../examples/gateway/app.yaml")[0], ns)
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, r := range rules {
		rule := r.(map[string]any)
		for _, b := range rule["backendRefs"].([]any) {
			delete(b.(map[string]any), "group")
			delete(b.(map[string]any), "kind")
			delete(b.(map[string]any), "weight")
		}
		for _, m := range rule["matches"].([]any) {
			delete(m.(map[string]any)["path"].(map[string]any), "type")
		}
	}
	if err := unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"); err != nil {
		t.Fatal(err)
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
	diffs := drift("spec", route.Object["spec"], plainJSON(t, live.Object)["spec"])
	// 3 rules: 4 backendRefs × (group, kind, weight) and 3 path types.
	if len(diffs) != 15 {
		t.Errorf("want 15 defaulted fields found, got %d:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}
