package gate_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// requestLog counts the API requests a client sends, by method and
// whether they watch.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		kind := r.Method
		if r.URL.Query().Get("watch") == "true" {
			kind = "WATCH"
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, kind+" "+r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func countingClient(t *testing.T, cfg *rest.Config) (dynamic.Interface, *requestLog) {
	t.Helper()
	log := &requestLog{}
	cfg.Wrap(log.wrap)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, log
}

// startGate runs a rollout gate in the background; its progress messages
// arrive on the returned channel, its result on the other.
func startGate(ctx context.Context, g gate.RolloutGate) (<-chan string, <-chan error) {
	progress := make(chan string, 100)
	done := make(chan error, 1)
	g.Progress = func(m string) { progress <- m }
	go func() { done <- g.Run(ctx) }()
	return progress, done
}

// waitFor reads progress messages until one contains want.
func waitFor(t *testing.T, progress <-chan string, done <-chan error, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-progress:
			if strings.Contains(m, want) {
				return
			}
		case err := <-done:
			t.Fatalf("gate ended with %v before reporting %q", err, want)
		case <-timeout:
			t.Fatalf("no progress message containing %q", want)
		}
	}
}

func setupApp(t *testing.T, ctx context.Context, srv *kubetest.Server, base string) (ns string) {
	t.Helper()
	ns = srv.NewNamespace(t, ctx, base, nil)
	app, err := apptest.Spec("web", ns, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := apptest.Create(ctx, srv, app); err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestRolloutGateWatchesProgressToSuccess creates a rendered app, starts
// the gate on web-green, then writes the status subresource step by step
// as the deployment controller would. The gate reports each step, passes
// once every replica is updated, ready and available, and did it with one
// list and one watch: no polling.
func TestRolloutGateWatchesProgressToSuccess(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-progress")
	dyn, log := countingClient(t, srv.RESTConfig())

	progress, done := startGate(ctx, gate.RolloutGate{Client: dyn, Namespace: ns, Deployment: "web-green", Timeout: 30 * time.Second})
	waitFor(t, progress, done, "waiting for the controller to observe generation 1")

	steps := []struct {
		status appsv1.DeploymentStatus
		want   string
	}{
		{appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1}, "1 of 3 replicas updated"},
		{appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}, "2 of 3 replicas ready"},
	}
	for _, s := range steps {
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", func(d *appsv1.Deployment) { d.Status = s.status }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, progress, done, s.want)
	}
	began := time.Now()
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gate refused a complete rollout: %v", err)
		}
		t.Logf("gate passed %s after the final status write", time.Since(began).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("gate did not pass after the rollout completed")
	}
	var lists, watches, others int
	for _, r := range log.list() {
		switch {
		case strings.HasPrefix(r, "GET "):
			lists++
		case strings.HasPrefix(r, "WATCH "):
			watches++
		default:
			others++
		}
	}
	if lists != 1 || watches != 1 || others != 0 {
		t.Errorf("requests %q; want one list and one watch", log.list())
	}
}

// TestRolloutGateDeadlineExceeded: a Progressing condition with reason
// ProgressDeadlineExceeded refuses at once (exit 3), naming the deadline.
func TestRolloutGateDeadlineExceeded(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-deadline")

	progress, done := startGate(ctx, gate.RolloutGate{Client: srv.Dynamic(), Namespace: ns, Deployment: "web-green", Timeout: 30 * time.Second})
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: gate.ReasonDeadlineExceeded,
			Message: `ReplicaSet "web-green-5d8c7f9b6" has timed out progressing.`,
		}}}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		assertRefused(t, err, "rollout", "deployment "+ns+"/web-green exceeded its progress deadline of 600s", "has timed out progressing")
	case <-time.After(20 * time.Second):
		t.Fatal("gate did not refuse a rollout past its deadline")
	}
	_ = progress
}

// TestRolloutGateTimeout: a rollout that stalls refuses when the timeout
// ends, with the last state it saw; a missing Deployment is waited for.
func TestRolloutGateTimeout(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-timeout")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 1}
	}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err := gate.RolloutGate{Client: srv.Dynamic(), Namespace: ns, Deployment: "web-green", Timeout: time.Second}.Run(ctx)
	assertRefused(t, err, "rollout", "not rolled out after 1s: 1 of 3 replicas available")
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("gate took %s with a 1s timeout", took)
	}

	err = gate.RolloutGate{Client: srv.Dynamic(), Namespace: ns, Deployment: "web-purple", Timeout: 500 * time.Millisecond}.Run(ctx)
	assertRefused(t, err, "rollout", "web-purple not rolled out after 500ms: deployment not found")
}

// TestRolloutGateRewatches: when the server ends a watch (here after 1s),
// the gate lists and watches again and still sees the rollout complete.
func TestRolloutGateRewatches(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-rewatch")
	dyn, log := countingClient(t, srv.RESTConfig())

	progress, done := startGate(ctx, gate.RolloutGate{Client: dyn, Namespace: ns, Deployment: "web-blue", Timeout: 30 * time.Second, WatchTimeout: time.Second})
	waitFor(t, progress, done, "observe generation 1")
	time.Sleep(2500 * time.Millisecond) // at least two watches end
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gate did not pass")
	}
	var lists, watches int
	for _, r := range log.list() {
		if strings.HasPrefix(r, "WATCH ") {
			watches++
		} else {
			lists++
		}
	}
	if lists < 2 || watches < 2 {
		t.Errorf("%d lists and %d watches, want at least 2 each (the server ended the watches)", lists, watches)
	}
	t.Logf("%d lists, %d watches", lists, watches)
}

// TestRolloutGateWaitsForImage: with Image set, a Deployment that is
// rolled out on another image is still progressing; once its pod template
// gets the image (as Argo CD or Flux would apply it), the gate waits for
// the controller to observe the new generation and roll it out.
func TestRolloutGateWaitsForImage(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-image")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	const image = "registry.example/web:3"
	progress, done := startGate(ctx, gate.RolloutGate{Client: srv.Dynamic(), Namespace: ns, Deployment: "web-green", Timeout: 30 * time.Second, Image: image})
	waitFor(t, progress, done, "waiting for image registry.example/web:3 (the pod template runs registry.example/web:2)")

	ri := srv.Dynamic().Resource(cluster.Deployments).Namespace(ns)
	u, err := ri.Get(ctx, "web-green", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = image
	if err := unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	if _, err := ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, progress, done, "waiting for the controller to observe generation 2 (observed 1)")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gate refused the rolled-out image: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gate did not pass after the new image rolled out")
	}
}
