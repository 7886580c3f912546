package main

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

// TestGuardSafety: guard moves traffic only for a real breach of the color
// Git routes to. Pods still starting after a scale-up are no breach; a
// query that never returns data is a failure (nothing was watched), not a
// pass; and when Git already routes to the other color (a promotion not
// yet applied), a breach commits nothing.
func TestGuardSafety(t *testing.T) {
	srv := apiServer(t)
	prom := promtest.Start(t, promtest.NewExporter())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-guard-safety")
	guard := func(query, window string) []string {
		return []string{"guard", "my-application", "--kubeconfig", kubeconfig, "-n", ns, "--prometheus-url", prom.URL,
			"--max-error-rate", "5", "--query", query, "--for", window, "--interval", "300ms"}
	}
	const zero, none = "0 * vector(1)", "sum(bgrender_no_such_metric)"

	// blue scales from 1 to 5: 3 available, minimum availability kept.
	ri := srv.Dynamic().Resource(cluster.Deployments).Namespace(ns)
	u, err := ri.Get(ctx, "my-application-blue", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, int64(5), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if _, err := ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", func(d *appsv1.Deployment) {
		apptest.RolledOut(d)
		d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 3, 3, 2
	}); err != nil {
		t.Fatal(err)
	}
	r := newGitopsRepoIn(t, "managed", ns)
	before := r.commits(t)
	expectRun(t, "guard during a scale-up", r.run(t, guard(zero, "1500ms")...), 0, "held for 1.5s")

	// No data for the whole window: exit 1, nothing committed.
	res := r.run(t, guard(none, "1s")...)
	expectRun(t, "guard without data", res, exitcode.Failure, "", "returned no data during the whole 1s")

	// Minimum availability lost: a breach.
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", func(d *appsv1.Deployment) {
		apptest.RolledOut(d)
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1
		d.Status.Conditions[0].Status = corev1.ConditionFalse
	}); err != nil {
		t.Fatal(err)
	}
	// Git already routes to green (promoted, not yet applied): the breach
	// of blue commits nothing.
	r.mustRun(t, "promote")
	promoted := r.commits(t)
	res = r.run(t, guard(zero, "5s")...)
	expectRun(t, "guard when Git routes elsewhere", res, exitcode.Refused, "",
		"has lost its minimum availability: 1 of 5 replicas available", "not rolled back: Git already routes my-application to green, not blue")
	if n := r.commits(t); n != promoted || n != before+1 {
		t.Fatalf("%d commits, want %d: guard must not roll back onto the breached color", n, promoted)
	}
}
