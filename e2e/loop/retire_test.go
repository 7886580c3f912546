package loop_test

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestRetiringAColor: right after a promote, scale-idle --replicas 0
// retires the old color while keep-alive clients still hold connections
// to its pods (a flip moves new connections only). With the rendered
// defaults (the preStop sleep and the grace period of the article's spec,
// which sets neither) no request fails: the old pods answer through their
// preStop sleep, then close their connections as they shut down, and the
// clients reconnect to the new color.
func TestRetiringAColor(t *testing.T) {
	bed := loop.Require(t, loop.Flux, loop.DataPlane)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "retire", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, dataPlaneSpec)
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "retire", app+"-blue", app+"-green")
	s.waitServes(ctx, app, "blue", 3)
	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/retire"}
	s.must(ctx, 0, append(append([]string{"deploy", "--image", "myapp:v2", "--wait"}, repo...), reconcile...)...)

	tr := startTraffic(t, ctx, bed, s.ns, app, 3*time.Minute)
	// Besides, keep-alive clients that POST: Go's client does not retry a
	// POST on a new connection when a kept-alive one turns out closed, so
	// they show what a client that never retries would see (logged only).
	post, err := load.Start(context.Background(), load.Config{URL: tr.keep.URL(), Clients: 2, Method: "POST", Duration: 3 * time.Minute,
		Pause: 20 * time.Millisecond, Dial: bed.DataPlane().DialFrom, ClientOffset: keepClients + freshClients})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { post.Stop() })
	tr.waitServed(ctx, 20)
	if got := colorsOf(tr.keep.Records()); !slices.Equal(got, []string{"blue"}) {
		t.Fatalf("before the promote, keep-alive clients were served by %v", got)
	}
	promoteStart := time.Now()
	s.must(ctx, 0, append(append(append([]string{"promote"}, repo...), reconcile...), "--wait-live")...)
	promoted := time.Now()
	time.Sleep(500 * time.Millisecond)
	held := load.Summarize(tr.keep.Records(), promoted, time.Time{})
	t.Logf("keep-alive clients after the promote: %s", held)

	retireStart := time.Now()
	s.must(ctx, 0, append([]string{"scale-idle", "--replicas", "0"}, repo...)...)
	if err := bed.RequestReconcile(ctx, loop.GitRepositoryGVR, loop.FluxNamespace, "retire"); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "blue's pods to be gone", func(ctx context.Context) (bool, error) {
		list, err := bed.Clientset().CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: label + "=blue"})
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	// Every keep-alive client moves to green once blue's pods close their
	// connections (at the end of their preStop sleep).
	var moved time.Time
	if err := loop.WaitFor(ctx, "every keep-alive client to be served by green", func(context.Context) (bool, error) {
		last := map[int]string{}
		for _, r := range tr.keep.Records() {
			if !r.Failed() {
				last[r.Client] = r.Color
			}
		}
		for c := range keepClients {
			if last[c] != "green" {
				return false, nil
			}
		}
		moved = time.Now()
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	end := time.Now()
	keep, fresh := tr.stop()
	t.Logf("keep-alive POST clients (not retried by the client), whole test: %s", load.Summarize(post.Stop(), time.Time{}, time.Time{}))
	logPhases(t, keep, fresh, []phase{
		{"promote --wait-live", promoteStart, promoted, "blue", "green"},
		{"scale-idle --replicas 0", retireStart, gone, "blue", "green"},
	}, end)
	k := load.Summarize(keep, retireStart, time.Time{})
	t.Logf("keep-alive clients from scale-idle's start: last request on blue %s after it, every client on green %s after it",
		k.Last["blue"].Sub(retireStart).Round(time.Millisecond), moved.Sub(retireStart).Round(time.Millisecond))
	for _, c := range []struct {
		name string
		recs []load.Record
	}{{"keep-alive", keep}, {"new-connection", fresh}} {
		all := load.Summarize(c.recs, time.Time{}, time.Time{})
		t.Logf("%s clients, whole test: %s", c.name, all)
		if all.Failed != 0 {
			t.Errorf("%s clients: %d of %d requests failed: %v; first ones: %+v", c.name, all.Failed, all.Requests, all.Errors, all.Samples)
		}
		if got := colorsOf(load.Split(c.recs, func(r load.Record) bool { return r.Start.After(moved) })); !slices.Equal(got, []string{"green"}) {
			t.Errorf("%s clients: once every keep-alive client had moved, served by %v", c.name, got)
		}
	}
	if held.Requests > 0 && held.First["blue"].IsZero() {
		t.Logf("note: no keep-alive client was still on blue after the promote")
	}
}
