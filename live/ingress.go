package live

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Ingresses is the resource of the NGINX canary Ingress.
var Ingresses = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}

// CanaryWeight is the ingress-nginx annotation that carries the canary's
// percent.
const CanaryWeight = "nginx.ingress.kubernetes.io/canary-weight"

// Canary is a weighted state of an NGINX canary Ingress to wait for: Name
// carries Weight and sends it to Service.
type Canary struct {
	Client dynamic.Interface
	// WatchClient watches the Ingress (default: Client; see Target).
	WatchClient dynamic.Interface
	Namespace   string
	Name        string
	Weight      int32
	Service     string
	Timeout     time.Duration
}

// WaitCanary reads the canary Ingress until it carries the weight and
// routes to the Service, or the timeout (default 5 minutes) passes.
// ingress-nginx reports no per-Ingress status to wait for beyond that.
func WaitCanary(ctx context.Context, c *Canary) (string, error) {
	last := "the canary Ingress is missing"
	watched := []source{{resource: Ingresses, namespace: c.Namespace, fields: fields.OneTermEqualSelector("metadata.name", c.Name).String()}}
	err := until(ctx, watchClient(c.WatchClient, c.Client), c.Timeout, watched, func(ctx context.Context) (bool, error) {
		u, err := c.Client.Resource(Ingresses).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("get Ingress %s/%s: %w", c.Namespace, c.Name, err)
		}
		w, svc := u.GetAnnotations()[CanaryWeight], backend(u)
		last = fmt.Sprintf("canary-weight %q to Service %q", w, svc)
		return w == fmt.Sprint(c.Weight) && svc == c.Service, nil
	})
	if err != nil {
		return last, fmt.Errorf("Ingress %s/%s does not carry the step: %w: %s", c.Namespace, c.Name, err, last)
	}
	return last, nil
}

// backend returns the Service of the Ingress's first rule's first path.
func backend(u *unstructured.Unstructured) string {
	if name, _, _ := unstructured.NestedString(u.Object, "spec", "defaultBackend", "service", "name"); name != "" {
		return name
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, r := range rules {
		paths, _, _ := unstructured.NestedSlice(r.(map[string]any), "http", "paths")
		for _, p := range paths {
			name, _, _ := unstructured.NestedString(p.(map[string]any), "backend", "service", "name")
			return name
		}
	}
	return ""
}
