package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
)

// Autoscaler is a HorizontalPodAutoscaler whose raised minReplicas is
// about to be lowered again (promote --match-capacity's restore).
type Autoscaler struct {
	Client dynamic.Interface
	// WatchClient watches it (default: Client; see Target).
	WatchClient dynamic.Interface
	Namespace   string
	Name        string
	// Since is when its color took the traffic: only a reading from
	// after it says what the traffic asks for.
	Since time.Time
	// Hold is how long to wait at most; by then the autoscaler has read
	// the traffic's metrics for that long.
	Hold time.Duration
}

// WaitSettled waits until lowering a's minReplicas cannot shrink its
// color below what the traffic needs, and says why. The autoscaler keeps
// the metrics' recommendations of its scale-down stabilization window
// (5 minutes by default) and scales to the highest of them; its
// ScalingLimited condition compares that highest recommendation with its
// floor at every sync. While it says TooFewReplicas the window holds only
// recommendations below the floor (an idle color's), so a floor lowered
// then could let it shrink the color at once. Once it says anything else
// for the spec with the raised floor (status.observedGeneration), the
// window holds a recommendation of at least the floor, and the floor can
// be lowered: the autoscaler keeps the color for the window's length and
// then follows the traffic's readings. When the condition left
// TooFewReplicas does not matter (an HPA that reads the traffic as asking
// exactly its floor never transitions again), only that it has now. One
// that cannot scale on metrics now (ScalingActive False) scales nothing
// down. Otherwise the traffic asks for fewer pods than the raised floor,
// and after Hold its window holds readings of the traffic, so a scale-down
// follows them: WaitSettled returns then, not with an error.
func WaitSettled(ctx context.Context, a *Autoscaler) (string, error) {
	var why string
	watched := []source{{resource: cluster.HPAs, namespace: a.Namespace, fields: fields.OneTermEqualSelector("metadata.name", a.Name).String()}}
	err := until(ctx, watchClient(a.WatchClient, a.Client), a.Hold, watched, func(ctx context.Context) (bool, error) {
		u, err := a.Client.Resource(cluster.HPAs).Namespace(a.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			why = "it is not in the cluster"
			return true, nil
		case err != nil:
			return false, fmt.Errorf("get HorizontalPodAutoscaler %s/%s: %w", a.Namespace, a.Name, err)
		}
		why = settled(u, a.Since)
		return why != "", nil
	})
	if errors.Is(err, errGaveUp) {
		return fmt.Sprintf("its metrics ask for fewer pods than its raised floor; after %s of the traffic's readings it scales down by them", a.Hold), nil
	}
	return why, err
}

// settled says why lowering hpa's floor is safe now ("" when it is not
// yet). since only words the answer: a condition that turned before the
// color took the traffic says so.
func settled(hpa *unstructured.Unstructured, since time.Time) string {
	gen := hpa.GetGeneration()
	if observed, ok, _ := unstructured.NestedInt64(hpa.Object, "status", "observedGeneration"); ok && observed < gen {
		return "" // its conditions are of the spec before the raised floor
	}
	conditions, _, _ := unstructured.NestedSlice(hpa.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		kind, _ := m["type"].(string)
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		at, _ := time.Parse(time.RFC3339, fmt.Sprint(m["lastTransitionTime"]))
		switch {
		case kind == "ScalingActive" && status == "False":
			return fmt.Sprintf("it does not scale on metrics now (%s), so it scales nothing down", reason)
		case kind == "ScalingLimited" && reason != "TooFewReplicas" && reason != "":
			when := "since " + at.UTC().Format(time.TimeOnly)
			if at.Before(since.Truncate(time.Second)) {
				when += ", before the flip: its window keeps that recommendation"
			}
			return fmt.Sprintf("its metrics ask for at least its floor (%s %s)", reason, when)
		}
	}
	return ""
}
