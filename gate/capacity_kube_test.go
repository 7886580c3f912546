package gate_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestCapacityGate runs the capacity gate against a real API server: the
// Deployments' and HorizontalPodAutoscalers' status are written through
// their status subresource, as the controllers would (the loop bed's
// story has the controllers write them).
func TestCapacityGate(t *testing.T) {
	srv := kubetest.Require(t)
	ctx := context.Background()
	ns := srv.NewNamespace(t, ctx, "capacity", nil)
	dyn := srv.Dynamic()
	create := func(doc string, status map[string]any) {
		t.Helper()
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		gvr := cluster.Deployments
		if u.GetKind() == "HorizontalPodAutoscaler" {
			gvr = gate.HPAs
		}
		got, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Object["status"] = status
		if _, err := dyn.Resource(gvr).Namespace(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deployment := func(name string, ready int64) {
		create(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"`+name+`"},"spec":{"selector":{"matchLabels":{"app":"`+name+`"}},
			"template":{"metadata":{"labels":{"app":"`+name+`"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`,
			map[string]any{"replicas": ready, "readyReplicas": ready})
	}
	deployment("web-blue", 4)
	deployment("web-green", 2)

	g := gate.Capacity{Client: dyn, Namespace: ns, Live: "web-blue", To: "web-green", Share: 100}
	r, err := g.Run(ctx)
	if exitcode.Of(err) != exitcode.Refused || !strings.Contains(err.Error(), "Deployment web-green has 2 ready pods; taking 100% of the traffic from web-blue, which runs 4 (ready replicas of Deployment web-blue), needs 4") {
		t.Errorf("a flip to 2 ready pods from 4: %v", err)
	}
	if r.Ready != 2 || r.Need != 4 || r.LiveRuns != 4 {
		t.Errorf("reading %+v", r)
	}
	// A share: 50% of 4 needs 2.
	g.Share = 50
	if r, err := g.Run(ctx); err != nil || r.Need != 2 {
		t.Errorf("50%% of 4 on 2 ready pods: %v (%+v)", err, r)
	}
	// 60% of 4 needs ceil(2.4) = 3.
	g.Share = 60
	if r, err := g.Run(ctx); exitcode.Of(err) != exitcode.Refused || r.Need != 3 {
		t.Errorf("60%% of 4 on 2 ready pods: %v (%+v)", err, r)
	}

	// An autoscaler on the live color: what it wants counts, not what is
	// ready now.
	create(`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web-blue"},
		"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web-blue"},"minReplicas":2,"maxReplicas":10}}`,
		map[string]any{"currentReplicas": int64(4), "desiredReplicas": int64(6)})
	g.Share = 100
	if _, err := g.Run(ctx); err == nil || !strings.Contains(err.Error(), "which runs 6 (desired replicas of HorizontalPodAutoscaler web-blue), needs 6") {
		t.Errorf("an HPA that wants 6: %v", err)
	}
	g.Live, g.To = "web-green", "web-blue" // the other way: 4 ready for 2
	if r, err := g.Run(ctx); err != nil || r.Need != 2 {
		t.Errorf("to the bigger color: %v (%+v)", err, r)
	}

	// A color with no Deployment in the cluster takes nothing; a live
	// color with none runs nothing to match.
	g.To = "web-nope"
	if _, err := g.Run(ctx); exitcode.Of(err) != exitcode.Refused || !strings.Contains(err.Error(), "is not in the cluster") {
		t.Errorf("missing target: %v", err)
	}
	g.Live, g.To = "web-gone", "web-green"
	if r, err := g.Run(ctx); err != nil || r.Need != 0 {
		t.Errorf("missing live Deployment: %v (%+v)", err, r)
	}
}
