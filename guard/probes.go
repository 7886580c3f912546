package guard

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
)

// ErrorRate breaches when the query's value is at or above g.Max. No data
// (no traffic) is no breach. A failed query is an error (retried by the
// Watch), so g.Attempts is best 1.
func ErrorRate(g gate.ErrorRate) Probe {
	return Probe{Name: "error rate", Check: func(ctx context.Context) (string, error) {
		v, err := g.Measure(ctx)
		switch {
		case errors.Is(err, gate.ErrNoData):
			return "", nil
		case err != nil:
			return "", err
		case v >= g.Max:
			return fmt.Sprintf("error rate %s%% is not under the maximum %s%%", gate.FormatPercent(v), gate.FormatPercent(g.Max)), nil
		}
		return "", nil
	}}
}

// Ready breaches when the Deployment is missing, past its progress
// deadline, or has fewer available replicas than it wants. It lists (the
// permission status has) rather than gets.
func Ready(client dynamic.Interface, namespace, deployment string) Probe {
	return Probe{Name: "readiness", Check: func(ctx context.Context) (string, error) {
		l, err := client.Resource(cluster.Deployments).Namespace(namespace).List(ctx,
			metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", deployment).String()})
		if err != nil {
			return "", fmt.Errorf("list deployment %s/%s: %w", namespace, deployment, err)
		}
		if len(l.Items) == 0 {
			return fmt.Sprintf("deployment %s/%s does not exist", namespace, deployment), nil
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
		switch {
		case state == gate.RolloutFailed:
			return fmt.Sprintf("deployment %s/%s %s", namespace, deployment, msg), nil
		case d.Status.AvailableReplicas < want:
			return fmt.Sprintf("deployment %s/%s has %d of %d replicas available", namespace, deployment, d.Status.AvailableReplicas, want), nil
		}
		return "", nil
	}}
}
