package loop_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// TestHPARaisesARenderedColorToItsFloor applies the autoscaling example
// as a GitOps agent does (server-side, forcing) on a cluster whose
// kube-controller-manager runs the HPA controller, and shows what the
// README says of the first apply: each Deployment, created without
// replicas, starts at 1; the real HPA controller raises it to its HPA's
// minReplicas (blue, live, 3; green, idle, 2) without waiting for
// metrics; and applying the same manifests again leaves the counts to the
// HPAs, since the applier never owned the field.
func TestHPARaisesARenderedColorToItsFloor(t *testing.T) {
	bed := loop.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := bed.NewNamespace(t, ctx, "hpa-floor", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(root + "/examples/autoscaling/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load("app.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	apps[0].Metadata.Namespace = ns
	apps[0].Spec.Tolerations = append(apps[0].Spec.Tolerations, loop.Toleration)
	var objs []*unstructured.Unstructured
	for _, o := range render.Render(apps) {
		m, err := render.Manifest(o)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}

	applied := time.Now()
	if err := bed.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	floors := map[string]int32{"catalog-blue": 3, "catalog-green": 2}
	for name, floor := range floors {
		d, err := bed.Clientset().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := *d.Spec.Replicas; got != 1 && got != floor {
			t.Errorf("%s right after the apply: %d replicas, want the API default 1 (or the HPA's %d already)", name, got, floor)
		}
		if err := loop.WaitFor(ctx, name+" raised to its HPA's minReplicas", func(ctx context.Context) (bool, error) {
			d, err := bed.Clientset().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && *d.Spec.Replicas == floor, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("both colors at their HPA's minReplicas %s after the apply", loop.Since(applied))

	if err := bed.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	for name, floor := range floors {
		d, err := bed.Clientset().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != floor {
			t.Errorf("re-applying the manifests set %s to %d replicas, want the HPA's %d", name, *d.Spec.Replicas, floor)
		}
		// The applier never wrote replicas, so it does not own them: the
		// HPA's scale update does not claim a field that nobody owned
		// (the API server's scale handler only moves existing ownership),
		// and the field stays with no owner, which no apply resets.
		if owner := replicasOwner(d); owner == kubetest.FieldManager {
			t.Errorf("%s: spec.replicas is owned by the applier %s", name, owner)
		} else {
			t.Logf("%s: spec.replicas owned by %q", name, owner)
		}
	}
}

// replicasOwner names the field manager (and subresource) that owns a
// Deployment's spec.replicas.
func replicasOwner(d *appsv1.Deployment) string {
	for _, mf := range d.ManagedFields {
		if mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), `"f:replicas"`) && strings.Contains(string(mf.FieldsV1.Raw), `"f:spec"`) {
			if mf.Subresource != "" {
				return mf.Manager + " (" + mf.Subresource + ")"
			}
			return mf.Manager
		}
	}
	return ""
}
