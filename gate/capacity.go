package gate

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
)

// HPAs is the autoscaling/v2 HorizontalPodAutoscaler resource.
var HPAs = cluster.HPAs

// Capacity refuses to send a share of the traffic to a color that has
// fewer ready pods than that share of what the live color runs now: with
// autoscalers on both colors the idle one sits at its minimum while the
// live one has grown with the load, and a flip would send all of it to a
// fraction of the pods.
//
// What the live color runs now is its HorizontalPodAutoscaler's desired
// replicas (or current, when more) when one targets its Deployment, else
// the Deployment's ready replicas. The color to take the traffic needs
// ceil(that × Share / 100) ready pods.
type Capacity struct {
	Client    dynamic.Interface
	Namespace string
	// Live and To are the Deployments of the live color and of the color
	// about to take Share percent of the traffic (100: a flip).
	Live, To string
	Share    int32
}

// Reading is what the capacity gate read.
type Reading struct {
	// LiveRuns is what the live color runs now; From says where it was
	// read (an HPA's desired replicas, or the Deployment's ready ones).
	LiveRuns int32
	From     string
	// Ready is the ready pods of the color to take the traffic; Need is
	// how many its share needs.
	Ready, Need int32
}

func (r Reading) String() string {
	return fmt.Sprintf("%d ready, %d needed for its share of the %d the live color runs (%s)", r.Ready, r.Need, r.LiveRuns, r.From)
}

// Run reads both colors and refuses (exit 3) when the color to take the
// traffic has fewer ready pods than its share needs, or has no Deployment
// in the cluster. A live color with no Deployment runs nothing to match.
func (c Capacity) Run(ctx context.Context) (Reading, error) {
	var r Reading
	to, err := c.deployment(ctx, c.To)
	switch {
	case err != nil:
		return r, err
	case to == nil:
		return r, refuse("capacity", "Deployment %s/%s is not in the cluster: its share of the traffic would go to no pods", c.Namespace, c.To)
	}
	r.Ready = int32(nested(to, "status", "readyReplicas"))
	live, err := c.deployment(ctx, c.Live)
	switch {
	case err != nil:
		return r, err
	case live == nil:
		r.From = "Deployment " + c.Live + " is not in the cluster"
		return r, nil
	}
	r.LiveRuns, r.From = int32(nested(live, "status", "readyReplicas")), "ready replicas of Deployment "+c.Live
	hpa, err := c.autoscaler(ctx, c.Live)
	if err != nil {
		return r, err
	}
	if hpa != nil {
		desired := max(nested(hpa, "status", "desiredReplicas"), nested(hpa, "status", "currentReplicas"))
		r.LiveRuns, r.From = int32(desired), "desired replicas of HorizontalPodAutoscaler "+hpa.GetName()
	}
	share := int64(min(max(c.Share, 0), 100))
	r.Need = int32((int64(r.LiveRuns)*share + 99) / 100)
	if r.Ready < r.Need {
		return r, refuse("capacity", "Deployment %s has %d ready pods; taking %d%% of the traffic from %s, which runs %d (%s), needs %d: scale it up first (with an autoscaler: raise its minReplicas)",
			c.To, r.Ready, share, c.Live, r.LiveRuns, r.From, r.Need)
	}
	return r, nil
}

// deployment gets Deployment name; nil when it is not found.
func (c Capacity) deployment(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	d, err := c.Client.Resource(cluster.Deployments).Namespace(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capacity gate: get Deployment %s/%s: %w", c.Namespace, name, err)
	}
	return d, nil
}

// autoscaler returns the HorizontalPodAutoscaler that scales Deployment
// name, or nil. Several are an error: Kubernetes itself refuses to scale
// a target that two autoscalers claim (AmbiguousSelector).
func (c Capacity) autoscaler(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	list, err := c.Client.Resource(HPAs).Namespace(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("capacity gate: list HorizontalPodAutoscalers in %s: %w", c.Namespace, err)
	}
	var found *unstructured.Unstructured
	for i := range list.Items {
		h := &list.Items[i]
		kind, _, _ := unstructured.NestedString(h.Object, "spec", "scaleTargetRef", "kind")
		target, _, _ := unstructured.NestedString(h.Object, "spec", "scaleTargetRef", "name")
		if kind != "Deployment" || target != name {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("capacity gate: HorizontalPodAutoscalers %s and %s both scale Deployment %s/%s; keep one", found.GetName(), h.GetName(), c.Namespace, name)
		}
		found = h
	}
	return found, nil
}

// nested returns the integer at path in u, 0 when it is missing.
func nested(u *unstructured.Unstructured, path ...string) int64 {
	n, _, _ := unstructured.NestedInt64(u.Object, path...)
	return n
}
