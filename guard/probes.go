package guard

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
)

// ErrorRate breaches when the query's value is at or above g.Max. No data
// (no traffic) is no breach; seen, if not nil, is set once a value is
// measured, so that a window without any can be told from one that held.
// A failed query is an error (retried by the Watch), so g.Attempts is
// best 1.
func ErrorRate(g gate.ErrorRate, seen *bool) Probe {
	return Probe{Name: "error rate", Check: func(ctx context.Context) (string, error) {
		v, err := g.Measure(ctx)
		switch {
		case errors.Is(err, gate.ErrNoData):
			return "", nil
		case err != nil:
			return "", err
		}
		if seen != nil {
			*seen = true
		}
		if v >= g.Max {
			return fmt.Sprintf("error rate %s%% is not under the maximum %s%%", gate.FormatPercent(v), gate.FormatPercent(g.Max)), nil
		}
		return "", nil
	}}
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
