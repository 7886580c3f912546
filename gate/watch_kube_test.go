package gate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestRolloutWatchOutlivesRequestTimeout gives the rollout gate a list
// client with a 1s per-request timeout and a watch client made with
// cluster.ForWatch: the watch runs past that second, and the gate passes
// on an event that comes 3s later, with one list and one watch.
func TestRolloutWatchOutlivesRequestTimeout(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupApp(t, ctx, srv, "rollout-request-timeout")
	cfg := srv.RESTConfig()
	cfg.Timeout = time.Second
	list, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	watch, log := countingClient(t, cluster.ForWatch(cfg))

	progress, done := startGate(ctx, gate.RolloutGate{Client: list, WatchClient: watch, Namespace: ns, Deployment: "web-green", Timeout: 30 * time.Second})
	waitFor(t, progress, done, "waiting for the controller to observe generation 1")
	time.Sleep(3 * time.Second)
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gate: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gate did not pass after the rollout")
	}
	want := []string{"WATCH /apis/apps/v1/namespaces/" + ns + "/deployments"}
	if got := log.list(); !slices.Equal(got, want) {
		t.Errorf("requests of the watch client: %q, want one watch %q", got, want)
	}
}
