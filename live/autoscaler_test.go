package live_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/live"
)

// TestWaitSettled: before a raised floor is restored, the wait ends once
// the autoscaler's ScalingLimited condition left TooFewReplicas after the
// flip, or at once when it cannot scale on metrics; a condition older than
// the flip, or TooFewReplicas, waits out the hold without an error. The
// statuses are written through the status subresource, as the HPA
// controller would (the loop bed's story has the controller write them).
func TestWaitSettled(t *testing.T) {
	srv := kubetest.Require(t)
	ctx := context.Background()
	ns := srv.NewNamespace(t, ctx, "settle", nil)
	hpas := srv.Dynamic().Resource(cluster.HPAs).Namespace(ns)
	hpa, err := hpas.Create(ctx, obj(`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web-green"},
		"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web-green"},"minReplicas":6,"maxReplicas":10}}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flip := time.Now().Add(-time.Minute)
	setCondition := func(kind, status, reason string, at time.Time) {
		t.Helper()
		hpa.Object["status"] = map[string]any{"currentReplicas": int64(6), "desiredReplicas": int64(6), "conditions": []any{
			map[string]any{"type": kind, "status": status, "reason": reason, "lastTransitionTime": at.UTC().Format(time.RFC3339)}}}
		if hpa, err = hpas.UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(name string) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		why, err := live.WaitSettled(ctx, &live.Autoscaler{Client: srv.Dynamic(), Namespace: ns, Name: name, Since: flip, Hold: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return why, time.Since(start)
	}
	for _, c := range []struct {
		name, kind, status, reason string
		at                         time.Time
		want                       string
		held                       bool
	}{
		{"idle readings", "ScalingLimited", "True", "TooFewReplicas", time.Now(), "its metrics ask for fewer pods than its raised floor; after 2s", true},
		// The condition says what the window holds now, whenever it turned:
		// an HPA whose traffic asks exactly its floor never turns again.
		{"a reading before the flip", "ScalingLimited", "False", "DesiredWithinRange", flip.Add(-time.Hour), "its metrics ask for at least its floor (DesiredWithinRange since", false},
		{"the traffic's reading", "ScalingLimited", "False", "DesiredWithinRange", time.Now(), "its metrics ask for at least its floor (DesiredWithinRange since", false},
		{"no metrics", "ScalingActive", "False", "FailedGetResourceMetric", flip.Add(-time.Hour), "it does not scale on metrics now (FailedGetResourceMetric)", false},
	} {
		setCondition(c.kind, c.status, c.reason, c.at)
		why, took := wait("web-green")
		if !strings.Contains(why, c.want) || (took >= 2*time.Second) != c.held {
			t.Errorf("%s: %q after %s; want %q, held %v", c.name, why, took, c.want, c.held)
		}
	}
	setCondition("ScalingLimited", "False", "DesiredWithinRange", flip.Add(-time.Hour))
	if why, _ := wait("web-green"); !strings.Contains(why, "before the flip: its window keeps that recommendation") {
		t.Errorf("a reading before the flip: %q", why)
	}
	// Conditions of the spec before the raised floor say nothing of it.
	hpa.Object["status"] = map[string]any{"observedGeneration": hpa.GetGeneration() - 1, "conditions": []any{
		map[string]any{"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if hpa, err = hpas.UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if why, took := wait("web-green"); took < 2*time.Second || !strings.Contains(why, "after 2s of the traffic's readings") {
		t.Errorf("a status of the spec before: %q after %s; want the hold", why, took)
	}
	if why, _ := wait("web-blue"); why != "it is not in the cluster" {
		t.Errorf("no autoscaler: %q", why)
	}
}
