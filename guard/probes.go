package guard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
)

// ErrorRate breaches when the query's value is at or above g.Max. No data
// (no traffic) is no breach. Each reading, with or without data, goes to
// rec when it is not nil: the readings that led to a breach are what
// guard's rollback shows, and a window without any value can be told
// from one that held. A failed query is an error (retried by the Watch),
// so g.Attempts is best 1.
func ErrorRate(g gate.ErrorRate, rec *Readings) Probe {
	return Probe{Name: "error rate", Check: func(ctx context.Context) (string, error) {
		v, err := g.Measure(ctx)
		switch {
		case errors.Is(err, gate.ErrNoData):
			rec.add(gate.Measurement{NoData: true})
			return "", nil
		case err != nil:
			return "", err
		}
		rec.add(gate.Measurement{Percent: v, Failed: v >= g.Max})
		if v >= g.Max {
			return fmt.Sprintf("error rate %s%% is not under the maximum %s%%", gate.FormatPercent(v), gate.FormatPercent(g.Max)), nil
		}
		return "", nil
	}}
}

// KeepReadings is how many readings a Readings keeps by default: a pull
// request's body and a commit message show them, and a watch of hours
// must not make either grow without bound.
const KeepReadings = 20

// Readings records an error-rate probe's readings: the last Keep of them
// (default KeepReadings), oldest first, each with the time it was read.
type Readings struct {
	Keep int
	Now  func() time.Time // default time.Now
	// List holds the readings kept; Taken counts all of them.
	List  []gate.Measurement
	Taken int
	data  bool
}

// Measured says whether any reading had a value (not only no data).
func (r *Readings) Measured() bool { return r != nil && r.data }

func (r *Readings) add(m gate.Measurement) {
	if r == nil {
		return
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	m.At = now().UTC().Truncate(time.Millisecond)
	keep := r.Keep
	if keep <= 0 {
		keep = KeepReadings
	}
	r.List = append(r.List, m)
	if len(r.List) > keep {
		r.List = slices.Delete(r.List, 0, len(r.List)-keep)
	}
	r.Taken++
	r.data = r.data || !m.NoData
}

// Ready breaches when the Deployment is past its progress deadline, has
// lost its minimum availability (its Available condition is False, as the
// deployment controller sets it from maxUnavailable), or has no available
// replica while it wants some. Pods that are still starting after a
// scale-up are no breach. A Deployment that cannot be found is an error,
// not a breach: it is not a reason to move traffic. It lists (the
// permission status has) rather than gets.
func Ready(client dynamic.Interface, namespace, deployment string) Probe {
	return Probe{Name: "readiness", Check: func(ctx context.Context) (string, error) {
		l, err := client.Resource(cluster.Deployments).Namespace(namespace).List(ctx,
			metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", deployment).String()})
		if err != nil {
			return "", fmt.Errorf("list deployment %s/%s: %w", namespace, deployment, err)
		}
		if len(l.Items) == 0 {
			return "", fmt.Errorf("deployment %s/%s not found", namespace, deployment)
		}
		d, err := gate.DeploymentFrom(&l.Items[0])
		if err != nil {
			return "", err
		}
		state, msg := gate.Rollout(d)
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		available := ""
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable {
				available = string(c.Status)
			}
		}
		switch {
		case state == gate.RolloutFailed:
			return fmt.Sprintf("deployment %s/%s %s", namespace, deployment, msg), nil
		case available == string(corev1.ConditionFalse):
			return fmt.Sprintf("deployment %s/%s has lost its minimum availability: %d of %d replicas available", namespace, deployment, d.Status.AvailableReplicas, want), nil
		case want > 0 && d.Status.AvailableReplicas == 0:
			return fmt.Sprintf("deployment %s/%s has 0 of %d replicas available", namespace, deployment, want), nil
		}
		return "", nil
	}}
}
