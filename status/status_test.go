package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/spec"
	"github.com/bgrender/bgrender/status"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

// counter records the paths of the requests a client sends.
type counter struct {
	mu   sync.Mutex
	reqs []string
}

// reader returns a status reader whose requests c records.
func (c *counter) reader(t testing.TB, cfg *rest.Config, ns string) *status.Reader {
	t.Helper()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			c.mu.Lock()
			c.reqs = append(c.reqs, r.Method+" "+r.URL.RequestURI())
			c.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	return newReader(t, cfg, ns)
}

func newReader(t testing.TB, cfg *rest.Config, ns string) *status.Reader {
	t.Helper()
	r, err := status.NewReader(cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustSpec(t testing.TB, name, ns string, replicas int, extra ...string) *spec.BlueGreenApp {
	t.Helper()
	app, err := apptest.Spec(name, ns, replicas, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// shop is live on green (version label "version", as in the article); blue
// is mid-rollout, green complete with two endpoints, one not ready.
func setupShop(t *testing.T, ctx context.Context, srv *kubetest.Server, base string) (ns string) {
	t.Helper()
	ns = srv.NewNamespace(t, ctx, base, nil)
	shop := mustSpec(t, "shop", ns, 3, "  active: green", "  colorLabel: version")
	if err := apptest.Create(ctx, srv, shop); err != nil {
		t.Fatal(err)
	}
	dyn := srv.Dynamic()
	if err := apptest.SetStatus(ctx, dyn, ns, "shop-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	if err := apptest.SetStatus(ctx, dyn, ns, "shop-blue", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	}); err != nil {
		t.Fatal(err)
	}
	if err := apptest.CreateEndpoints(ctx, dyn, shop, "shop", spec.Green, 8080,
		apptest.Endpoint{Pod: "shop-green-a", IP: "10.244.0.11", Ready: true},
		apptest.Endpoint{Pod: "shop-green-b", IP: "10.244.0.12", Ready: false},
	); err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestGetOneApp reads one app: the live color from the Service selector
// (a custom color label), both colors' rollout, images and endpoints; the
// table and the JSON say the same.
func TestGetOneApp(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupShop(t, ctx, srv, "status-one")
	// Another app in the namespace must not show up.
	if err := apptest.Create(ctx, srv, mustSpec(t, "other", ns, 1)); err != nil {
		t.Fatal(err)
	}

	var c counter
	r := c.reader(t, srv.RESTConfig(), ns)
	app, err := r.Get(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if reqs := c.take(); len(reqs) != 7 {
		t.Errorf("%d requests, want 7 (one list per kind, HTTPRoutes, Ingresses, HPAs and migration Jobs too): %q", len(reqs), reqs)
	} else {
		for _, req := range reqs {
			if !strings.Contains(req, "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dbgrender%2Capp.kubernetes.io%2Fname%3Dshop") {
				t.Errorf("request without the app's label selector: %s", req)
			}
		}
	}
	if app.Live != "green" || app.ColorLabel != "version" {
		t.Errorf("live %q by label %q, want green by version", app.Live, app.ColorLabel)
	}
	blue, green := app.Colors[0], app.Colors[1]
	if blue.Live || blue.Rollout != "progressing" || blue.Message != "2 of 3 replicas updated" || blue.Available != 1 || blue.Images[0] != "registry.example/shop:1" {
		t.Errorf("blue: %+v", blue)
	}
	if !green.Live || green.Rollout != "complete" || green.Desired != 3 || green.Ready != 3 || green.Images[0] != "registry.example/shop:2" {
		t.Errorf("green: %+v", green)
	}
	active, preview := app.Services[0], app.Services[1]
	if active.Name != "shop" || active.Selects != "green" || len(active.Endpoints) != 2 || active.ReadyEndpoints() != 1 || active.Endpoints[0].Pod != "shop-green-a" {
		t.Errorf("active service: %+v", active)
	}
	if preview.Name != "shop-preview" || preview.Selects != "blue" || len(preview.Endpoints) != 0 {
		t.Errorf("preview service: %+v", preview)
	}

	var table bytes.Buffer
	if err := status.WriteApp(&table, app); err != nil {
		t.Fatal(err)
	}
	want := `app shop in namespace ` + ns + `: live color green (label version)

COLOR         DEPLOYMENT  DESIRED  UPDATED  READY  AVAILABLE  ROLLOUT                               IMAGES
blue          shop-blue   3        2        1      1          progressing: 2 of 3 replicas updated  registry.example/shop:1
green (live)  shop-green  3        3        3      3          complete                              registry.example/shop:2

SERVICE       ROLE     SELECTS  READY  ENDPOINTS
shop          active   green    1/2    10.244.0.11:8080, 10.244.0.12:8080 (not ready)
shop-preview  preview  blue     0/0    <none>

capacity: blue could not take all the traffic now: 1 ready pods, 3 needed (promote would be refused; promote --match-capacity raises it first)
`
	if table.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), want)
	}
	var js bytes.Buffer
	if err := status.WriteJSON(&js, app); err != nil {
		t.Fatal(err)
	}
	var back status.App
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Live != "green" || back.Colors[1].Rollout != "complete" {
		t.Errorf("JSON round trip: %v %+v\n%s", err, back, js.String())
	}

	_, err = r.Get(ctx, "absent")
	if _, ok := err.(*status.NotFoundError); !ok {
		t.Errorf("Get(absent) = %v, want a NotFoundError", err)
	}
}

// TestListApps lists every bgrender app with exactly three requests, each
// selecting app.kubernetes.io/managed-by=bgrender; objects bgrender does
// not manage are not listed.
func TestListApps(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupShop(t, ctx, srv, "status-list")
	if err := apptest.Create(ctx, srv, mustSpec(t, "api", ns, 2)); err != nil {
		t.Fatal(err)
	}
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "db", "namespace": ns, "labels": map[string]any{"app.kubernetes.io/name": "db"}},
		"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(5432)}}},
	}}
	if _, err := srv.Dynamic().Resource(cluster.Services).Namespace(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var c counter
	apps, err := c.reader(t, srv.RESTConfig(), ns).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reqs := c.take(); len(reqs) != 7 {
		t.Errorf("%d requests, want 7: %q", len(reqs), reqs)
	}
	var table bytes.Buffer
	if err := status.WriteTable(&table, apps); err != nil {
		t.Fatal(err)
	}
	got := table.String()
	for _, line := range []string{"APP", "api   blue", "shop  green", "3/3 complete", "1/2 ready"} {
		if !strings.Contains(got, line) {
			t.Errorf("table lacks %q:\n%s", line, got)
		}
	}
	if len(apps) != 2 || apps[0].Name != "api" || apps[1].Name != "shop" {
		t.Errorf("apps %v, want api and shop", names(apps))
	}
}

func names(apps []status.App) []string {
	var n []string
	for _, a := range apps {
		n = append(n, a.Name)
	}
	return n
}

// TestDocumentedRoleIsEnough runs status and the rollout gate with a token
// of a ServiceAccount bound to examples/rbac/role.yaml — the permissions
// the README documents — and shows that an account without them is told
// what it lacks.
func TestDocumentedRoleIsEnough(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupShop(t, ctx, srv, "status-rbac")

	cfg, err := apptest.ServiceAccountConfig(ctx, srv, ns, "deployer", "../examples/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := newReader(t, cfg, ns)
	if _, err := r.Get(ctx, "shop"); err != nil {
		t.Errorf("status with the documented role: %v", err)
	}
	if _, err := r.List(ctx); err != nil {
		t.Errorf("status (all apps) with the documented role: %v", err)
	}
	if err := (gate.RolloutGate{Client: dyn, Namespace: ns, Deployment: "shop-green", Timeout: 5 * time.Second}).Run(ctx); err != nil {
		t.Errorf("rollout gate with the documented role: %v", err)
	}

	bare, err := apptest.ServiceAccountConfig(ctx, srv, ns, "nobody", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = newReader(t, bare, ns).Get(ctx, "shop")
	if err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "needs list on services") {
		t.Errorf("status without permissions: %v, want forbidden with a hint", err)
	}
}

// TestListManyApps creates 200 apps in one namespace and reports how long
// status takes to read them all (the figure the README quotes; the
// requirement is under a second).
func TestListManyApps(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 200
	ns := srv.NewNamespace(t, ctx, "status-many", nil)
	var apps []*spec.BlueGreenApp
	for i := range n {
		apps = append(apps, mustSpec(t, fmt.Sprintf("app-%03d", i), ns, 2))
	}
	began := time.Now()
	if err := apptest.Create(ctx, srv, apps...); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d apps in %s", n, time.Since(began).Round(time.Millisecond))
	for i := 0; i < n; i += 2 {
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, apps[i].Metadata.Name+"-blue", apptest.RolledOut); err != nil {
			t.Fatal(err)
		}
	}
	var c counter
	r := c.reader(t, srv.RESTConfig(), ns)
	var best time.Duration
	for run := range 5 {
		began := time.Now()
		got, err := r.List(ctx)
		took := time.Since(began)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("listed %d apps, want %d", len(got), n)
		}
		var buf bytes.Buffer
		if err := status.WriteTable(&buf, got); err != nil {
			t.Fatal(err)
		}
		if run == 0 || took < best {
			best = took
		}
		t.Logf("run %d: %d apps in %s", run+1, len(got), took.Round(time.Millisecond))
	}
	if reqs := c.take(); len(reqs) != 35 {
		t.Errorf("%d requests for 5 runs, want 35 (7 lists each)", len(reqs))
	}
	t.Logf("status of %d apps: best %s", n, best.Round(time.Millisecond))
}

var benchOnce sync.Once

// BenchmarkList200Apps measures `bgrender status` without an app against
// 200 apps (400 Deployments, 400 Services) in one namespace: three list
// requests, conversion, grouping and the table.
func BenchmarkList200Apps(b *testing.B) {
	srv := kubetest.Require(b)
	const ns = "bench-many"
	ctx := context.Background()
	benchOnce.Do(func() {
		if err := srv.CreateNamespace(ctx, ns, nil); err != nil {
			b.Fatal(err)
		}
		var apps []*spec.BlueGreenApp
		for i := range 200 {
			apps = append(apps, mustSpec(b, fmt.Sprintf("app-%03d", i), ns, 2))
		}
		if err := apptest.Create(ctx, srv, apps...); err != nil {
			b.Fatal(err)
		}
	})
	r := newReader(b, srv.RESTConfig(), ns)
	b.ResetTimer()
	for b.Loop() {
		apps, err := r.List(ctx)
		if err != nil || len(apps) != 200 {
			b.Fatalf("%d apps, %v", len(apps), err)
		}
		var buf bytes.Buffer
		if err := status.WriteTable(&buf, apps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCanaryTraffic reads the NGINX canary mode's split from the canary
// Ingress <name>-canary, and status --repo's drift compares its weight with
// Git's (an HTTPRoute is not looked for).
func TestCanaryTraffic(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "status-canary", nil)
	app := mustSpec(t, "web", ns, 2, "  ingress: {className: nginx, host: web.example.com}", "  traffic: {weight: 20, nginx: {}}")
	if err := apptest.Create(ctx, srv, app); err != nil {
		t.Fatal(err)
	}
	var c counter
	got, err := c.reader(t, srv.RESTConfig(), ns).Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.Traffic == nil || got.Traffic.Kind != "Ingress" || got.Traffic.Route != "web-canary" ||
		got.Traffic.Weights["blue"] != 80 || got.Traffic.Weights["green"] != 20 {
		t.Fatalf("traffic = %+v", got.Traffic)
	}
	if s := got.Traffic.String(); s != "Ingress web-canary (NGINX canary): blue 80%, green 20%" {
		t.Errorf("text: %s", s)
	}
	w20, w30 := int32(20), int32(30)
	same := *got
	same.CompareWith(status.Wanted{Live: "blue", Weight: &w20, Images: map[string]string{}})
	if len(same.Git.Drift) != 0 {
		t.Errorf("drift at the same weight: %q", same.Git.Drift)
	}
	other := *got
	other.CompareWith(status.Wanted{Live: "blue", Weight: &w30, Images: map[string]string{}})
	if want := "Git splits traffic blue 70%, green 30%; the cluster's Ingress web-canary blue 80%, green 20%"; len(other.Git.Drift) != 1 || other.Git.Drift[0] != want {
		t.Errorf("drift = %q, want %q", other.Git.Drift, want)
	}
}
