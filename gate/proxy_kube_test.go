package gate_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/netnstest"
	"github.com/bgrender/bgrender/spec"
)

// previewPod is the test's stand-in for the preview color's pod: an HTTP
// server whose /health fails a given number of times before it succeeds.
type previewPod struct {
	mu          sync.Mutex
	healthFails int
	hits        map[string]int
}

func (p *previewPod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hits[r.URL.RequestURI()]++
	switch r.URL.Path {
	case "/health":
		if p.healthFails > 0 {
			p.healthFails--
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	case "/broken":
		http.Error(w, "database unreachable", http.StatusInternalServerError)
	default:
		w.Write([]byte("warm"))
	}
}

func (p *previewPod) count(uri string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[uri]
}

// TestHealthAndWarmThroughServiceProxy sends the health and warm-up gates'
// requests through the real API server's service proxy to the preview
// Service web-preview, whose only endpoint is a pod-like server in a
// network namespace — authenticated as a ServiceAccount that has only the
// documented role (examples/rbac/role.yaml).
func TestHealthAndWarmThroughServiceProxy(t *testing.T) {
	srv := kubetest.Require(t)
	pod := &previewPod{healthFails: 2, hits: map[string]int{}}
	server := netnstest.Start(t, 8080, pod)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ns := srv.NewNamespace(t, ctx, "health-proxy", nil)
	app, err := apptest.Spec("web", ns, 1) // blue active: the preview Service selects green
	if err != nil {
		t.Fatal(err)
	}
	if err := apptest.Create(ctx, srv, app); err != nil {
		t.Fatal(err)
	}
	if err := apptest.CreateEndpoints(ctx, srv.Dynamic(), app, "web-preview", spec.Green, int32(server.Port),
		apptest.Endpoint{Pod: "web-green-7c9d-x2x4q", IP: server.IP, Ready: true}); err != nil {
		t.Fatal(err)
	}
	cfg, err := apptest.ServiceAccountConfig(ctx, srv, ns, "deployer", "../examples/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	preview, err := gate.ServiceProxy(cfg, ns, "web-preview", "http", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := preview.URL("/health"), srv.Host()+"/api/v1/namespaces/"+ns+"/services/web-preview:http/proxy/health"; got != want {
		t.Errorf("URL %s, want %s", got, want)
	}

	t.Run("health passes after failures", func(t *testing.T) {
		// Attempts to spare: the API server learns of the new EndpointSlice
		// through its own watch, so the first tries may find none.
		var progress []string
		h := gate.Health{Target: preview, Path: "/health", Attempts: 10, Backoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			Progress: func(m string) { progress = append(progress, m) }}
		if err := h.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pod.count("/health"); n != 3 {
			t.Errorf("the pod saw %d health requests, want 3 (two 503s, then 200)", n)
		}
		t.Logf("failed attempts: %q", progress)
	})

	t.Run("warm-up reaches the pod", func(t *testing.T) {
		w := gate.Warm{Target: preview, Paths: []string{"/", "/products?page=1"}, Requests: 3}
		if err := w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if a, b := pod.count("/"), pod.count("/products?page=1"); a != 3 || b != 3 {
			t.Errorf("pod saw / %d times and /products?page=1 %d times, want 3 each", a, b)
		}
	})

	t.Run("health refuses an unhealthy pod", func(t *testing.T) {
		err := gate.Health{Target: preview, Path: "/broken", Attempts: 3, Backoff: 10 * time.Millisecond}.Run(ctx)
		assertRefused(t, err, "health", "services/web-preview:http/proxy/broken failed 3 times", "HTTP 500", "database unreachable")
		err = gate.Warm{Target: preview, Paths: []string{"/broken"}}.Run(ctx)
		assertRefused(t, err, "warm-up", "HTTP 500")
	})

	t.Run("health refuses a Service without endpoints", func(t *testing.T) {
		active, err := gate.ServiceProxy(cfg, ns, "web", "http", "")
		if err != nil {
			t.Fatal(err)
		}
		err = gate.Health{Target: active, Path: "/health", Attempts: 2, Backoff: 10 * time.Millisecond}.Run(ctx)
		assertRefused(t, err, "health", "HTTP 503", `no endpoints available for service \"web\"`)
	})

	t.Run("without services/proxy the API server denies", func(t *testing.T) {
		bare, err := apptest.ServiceAccountConfig(ctx, srv, ns, "nobody", "")
		if err != nil {
			t.Fatal(err)
		}
		target, err := gate.ServiceProxy(bare, ns, "web-preview", "http", "")
		if err != nil {
			t.Fatal(err)
		}
		err = gate.Health{Target: target, Path: "/health", Attempts: 3}.Run(ctx)
		var refused *gate.Refused
		if err == nil || errors.As(err, &refused) || exitcode.Of(err) != exitcode.Failure {
			t.Fatalf("got %v, want a runtime failure (exit 1), not a refusal", err)
		}
		for _, want := range []string{"denied the service proxy", `User "system:serviceaccount:` + ns + `:nobody" cannot get resource "services/proxy"`, "needs get on services/proxy"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
}
