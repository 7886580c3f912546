package live_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/live"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

func obj(s string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(s)); err != nil {
		panic(err)
	}
	return u
}

// TestWait: the wait ends only when the Service selects green and every
// endpoint is a ready green pod; until then, and on timeout, it says what
// the cluster shows. The EndpointSlices are written here as the
// EndpointSlice controller would (the loop bed's e2e test runs the real one).
func TestWait(t *testing.T) {
	srv := kubetest.Require(t)
	ctx := context.Background()
	ns := srv.NewNamespace(t, ctx, "live", nil)
	dyn := srv.Dynamic()
	mustCreate := func(u *unstructured.Unstructured) {
		t.Helper()
		gvr := live.Pods
		switch u.GetKind() {
		case "ServiceAccount":
			gvr = live.Pods.GroupVersion().WithResource("serviceaccounts")
		case "Service":
			gvr = live.Services
		case "EndpointSlice":
			gvr = live.EndpointSlices
		}
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No controller manager here to make the default ServiceAccount.
	mustCreate(obj(`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}`))
	mustCreate(obj(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web","bgrender.io/color":"blue"},"ports":[{"port":80}]}}`))
	for _, p := range []struct{ name, color string }{{"web-blue-1", "blue"}, {"web-green-1", "green"}, {"web-green-2", "green"}} {
		mustCreate(obj(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"labels":{"app":"web","bgrender.io/color":%q}},"spec":{"containers":[{"name":"c","image":"x"}]}}`, p.name, p.color)))
	}
	slice := func(name string, eps ...string) *unstructured.Unstructured {
		var items []string
		for i, ep := range eps {
			pod, ready, _ := strings.Cut(ep, "=")
			items = append(items, fmt.Sprintf(`{"addresses":["10.0.0.%d"],"conditions":{"ready":%s},"targetRef":{"kind":"Pod","name":%q,"namespace":%q}}`, i+1, ready, pod, ns))
		}
		return obj(fmt.Sprintf(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":%q,"labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[%s]}`, name, strings.Join(items, ",")))
	}
	mustCreate(slice("web-1", "web-blue-1=true"))

	target := &live.Target{Client: dyn, Namespace: ns, Service: "web", ColorLabel: "bgrender.io/color", Color: "green", Timeout: 500 * time.Millisecond}
	_, err := live.Wait(ctx, target)
	if !live.IsTimeout(err) || !strings.Contains(err.Error(), "the Service selects blue; endpoints: 1 ready blue") {
		t.Fatalf("want a timeout saying blue is served, got %v", err)
	}

	// Flip the selector; the slice still lists blue, then green not ready,
	// then green ready: only the last is live.
	patch := func(name, body string) {
		t.Helper()
		res := live.Services
		if name == "web-1" {
			res = live.EndpointSlices
		}
		if _, err := dyn.Resource(res).Namespace(ns).Patch(ctx, name, "application/merge-patch+json", []byte(body), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patch("web", `{"spec":{"selector":{"bgrender.io/color":"green"}}}`)
	st, err := live.Read(ctx, target)
	if err != nil || st.Live("green") {
		t.Fatalf("selector flipped but endpoints still blue: live=%t err=%v (%s)", st.Live("green"), err, st)
	}
	patch("web-1", `{"endpoints":[{"addresses":["10.0.0.2"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"web-green-1","namespace":"`+ns+`"}},{"addresses":["10.0.0.3"],"conditions":{"ready":false},"targetRef":{"kind":"Pod","name":"web-green-2","namespace":"`+ns+`"}}]}`)
	if st, _ := live.Read(ctx, target); st.Live("green") {
		t.Fatalf("a green endpoint is not ready, yet live: %s", st)
	}
	done := make(chan error, 1)
	target.Timeout = 10 * time.Second
	go func() { _, err := live.Wait(ctx, target); done <- err }()
	time.Sleep(100 * time.Millisecond)
	patch("web-1", `{"endpoints":[{"addresses":["10.0.0.2"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"web-green-1","namespace":"`+ns+`"}},{"addresses":["10.0.0.3"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"web-green-2","namespace":"`+ns+`"}}]}`)
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
	if st, _ := live.Read(ctx, target); st.Ready["green"] != 2 || st.String() != "the Service selects green; endpoints: 2 ready green" {
		t.Errorf("state %s", st)
	}

	// The documented role is enough to wait.
	cfg, err := apptest.ServiceAccountConfig(ctx, srv, ns, "deployer", "../examples/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	limited, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	asDeployer := *target
	asDeployer.Client = limited
	if _, err := live.Wait(ctx, &asDeployer); err != nil {
		t.Errorf("wait with examples/rbac/role.yaml: %v", err)
	}

	// A role without the watch verb still waits: it polls instead.
	noWatch, err := apptest.ServiceAccountConfig(ctx, srv, ns, "poller", "testdata/role-nowatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	polling, err := dynamic.NewForConfig(noWatch)
	if err != nil {
		t.Fatal(err)
	}
	asPoller := *target
	asPoller.Client = polling
	if _, err := live.Wait(ctx, &asPoller); err != nil {
		t.Errorf("wait without the watch verb: %v", err)
	}

	// A missing Service is waited for, and named on timeout.
	target.Service, target.Timeout = "nope", 200*time.Millisecond
	if _, err := live.Wait(ctx, target); !live.IsTimeout(err) || !strings.Contains(err.Error(), "the Service is missing") {
		t.Errorf("missing Service: %v", err)
	}
}

// TestWaitEdges: a Service that selects only the color finds its pods'
// colors; an endpoint without a ready condition is ready (discovery/v1
// says nil means true); an interrupt is not reported as a timeout.
func TestWaitEdges(t *testing.T) {
	srv := kubetest.Require(t)
	ctx := context.Background()
	ns := srv.NewNamespace(t, ctx, "live-edges", nil)
	dyn := srv.Dynamic()
	create := func(gvr schema.GroupVersionResource, body string) {
		t.Helper()
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, obj(body), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(live.Pods.GroupVersion().WithResource("serviceaccounts"), `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}`)
	create(live.Services, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"version":"green"},"ports":[{"port":80}]}}`)
	create(live.Pods, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-green-1","labels":{"version":"green"}},"spec":{"containers":[{"name":"c","image":"x"}]}}`)
	create(live.EndpointSlices, fmt.Sprintf(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{},"targetRef":{"kind":"Pod","name":"web-green-1","namespace":%q}}]}`, ns))
	target := &live.Target{Client: dyn, Namespace: ns, Service: "web", ColorLabel: "version", Color: "green", Timeout: 5 * time.Second}
	if st, err := live.Wait(ctx, target); err != nil || st.Ready["green"] != 1 {
		t.Errorf("color-only selector, endpoint without a ready condition: %v (%s)", err, st)
	}
	target.Color = "blue"
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // as an interrupt would
	defer cancel()
	_, err := live.Wait(cctx, target)
	if err == nil || live.IsTimeout(err) || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("the caller's context ending is not the wait's timeout: %v", err)
	}
}
