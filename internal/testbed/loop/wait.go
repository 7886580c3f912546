package loop

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WaitDeploymentAvailable waits until the deployment controller reports
// the Deployment ns/name fully rolled out: it has observed the latest
// generation, and every one of spec.replicas is updated and available, with
// no old replica left. It returns the Deployment as last read.
func (c *Cluster) WaitDeploymentAvailable(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := poll(ctx, func() (bool, error) {
		var err error
		d, err = c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return DeploymentRolledOut(d), nil
	}, func(err error) error {
		if d == nil {
			return fmt.Errorf("loop: Deployment %s/%s: %w", ns, name, err)
		}
		st := d.Status
		return fmt.Errorf("loop: Deployment %s/%s not rolled out: %w (generation %d, observed %d; replicas %d: updated %d, ready %d, available %d, total %d)",
			ns, name, err, d.Generation, st.ObservedGeneration, replicasOf(d), st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.Replicas)
	})
	return d, err
}

// DeploymentRolledOut reports whether d's status says its rollout is
// complete (as `kubectl rollout status` decides).
func DeploymentRolledOut(d *appsv1.Deployment) bool {
	st := d.Status
	want := replicasOf(d)
	return st.ObservedGeneration >= d.Generation &&
		st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// ReadyEndpoints returns the names of the pods that the EndpointSlices of
// Service ns/name list as ready.
func (c *Cluster) ReadyEndpoints(ctx context.Context, ns, name string) ([]string, error) {
	list, err := c.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return nil, err
	}
	var pods []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				pods = append(pods, ep.TargetRef.Name)
			}
		}
	}
	return pods, nil
}

// WaitFor calls cond every 50 ms until it returns true (nil error) or ctx
// ends; errors are retried, and the last one is in the returned error.
func WaitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	return poll(ctx, func() (bool, error) { return cond(ctx) }, func(err error) error {
		return fmt.Errorf("loop: waiting for %s: %w", what, err)
	})
}

// Since is time.Since rounded to the millisecond, for logs.
func Since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
