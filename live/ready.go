package live

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
)

// Ready is a Deployment to wait for until it has at least Replicas ready
// pods.
type Ready struct {
	Client dynamic.Interface
	// WatchClient watches the Deployment (default: Client; see Target).
	WatchClient dynamic.Interface
	Namespace   string
	Deployment  string
	Replicas    int32
	Timeout     time.Duration
}

// WaitReady reads the Deployment, again on each of its changes (see
// until), until it has r.Replicas ready pods, and returns how many it has.
func WaitReady(ctx context.Context, r *Ready) (int32, error) {
	var ready int64
	watched := []source{{resource: cluster.Deployments, namespace: r.Namespace, fields: fields.OneTermEqualSelector("metadata.name", r.Deployment).String()}}
	err := until(ctx, watchClient(r.WatchClient, r.Client), r.Timeout, watched, func(ctx context.Context) (bool, error) {
		u, err := r.Client.Resource(cluster.Deployments).Namespace(r.Namespace).Get(ctx, r.Deployment, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("get Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
		}
		ready, _, _ = unstructured.NestedInt64(u.Object, "status", "readyReplicas")
		return ready >= int64(r.Replicas), nil
	})
	if err != nil {
		return int32(ready), fmt.Errorf("Deployment %s/%s has %d of %d ready pods: %w", r.Namespace, r.Deployment, ready, r.Replicas, err)
	}
	return int32(ready), nil
}
