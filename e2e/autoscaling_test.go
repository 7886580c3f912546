package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	hpasGVR        = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
)

// gitopsManager applies as a GitOps agent does (Flux's kustomize-controller
// applies server-side, forcing conflicts).
const gitopsManager = "gitops-agent"

// TestAutoscaledAppOnTheAPIServer creates the autoscaling example's
// Deployments and HPAs for real, with server-side apply, and pins what the
// README says of the replica count:
//   - a Deployment created without replicas starts at 1 (until the HPA
//     raises it to minReplicas);
//   - once the HPA controller has scaled it (an update of the scale
//     subresource, as the controller does), re-applying the manifests
//     leaves the count alone: the applier does not own the field;
//   - an app that gains autoscaling: applying the manifests without
//     replicas over a Deployment whose replicas the applier set resets it
//     to 1, unless the HPA has changed the count since, or the count was
//     first handed over (the Kubernetes docs' "Transferring ownership":
//     apply replicas alone with another field manager first).
func TestAutoscaledAppOnTheAPIServer(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "autoscaling", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	objs := renderExample(t, "../examples/autoscaling/app.yaml")
	dyn := srv.Dynamic()

	applyAll(t, ctx, dyn, ns, objs)
	for _, c := range spec.Colors {
		name := "catalog-" + string(c)
		if got := replicas(t, ctx, dyn, ns, name); got != 1 {
			t.Errorf("%s created without replicas: %d, want the API default 1", name, got)
		}
		hpa, err := dyn.Resource(hpasGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if target, _, _ := unstructured.NestedString(hpa.Object, "spec", "scaleTargetRef", "name"); target != name {
			t.Errorf("HPA %s scales %q", name, target)
		}
	}

	// The HPA controller raises blue to its minReplicas (3); the next
	// apply of the same manifests leaves it there.
	scale(t, ctx, dyn, ns, "catalog-blue", 3, "kube-controller-manager")
	applyAll(t, ctx, dyn, ns, objs)
	if got := replicas(t, ctx, dyn, ns, "catalog-blue"); got != 3 {
		t.Errorf("re-applying the manifests set catalog-blue to %d, want the autoscaler's 3", got)
	}

	// An app that had fixed replicas gains autoscaling.
	fixed := fixedReplicas(objs, 4)
	ns2 := srv.NewNamespace(t, ctx, "autoscaling-adopt", nil)
	applyAll(t, ctx, dyn, ns2, fixed)
	applyAll(t, ctx, dyn, ns2, objs)
	if got := replicas(t, ctx, dyn, ns2, "catalog-green"); got != 1 {
		t.Errorf("dropping replicas that the applier owned: %d, want the reset to 1 the README warns of", got)
	}
	// ... unless the HPA changed the count since the applier set it: its
	// scale update took the field over.
	ns4 := srv.NewNamespace(t, ctx, "autoscaling-scaled", nil)
	applyAll(t, ctx, dyn, ns4, fixed)
	scale(t, ctx, dyn, ns4, "catalog-green", 6, "kube-controller-manager")
	applyAll(t, ctx, dyn, ns4, objs)
	if got := replicas(t, ctx, dyn, ns4, "catalog-green"); got != 6 {
		t.Errorf("dropping replicas after the HPA scaled to 6: %d, want 6 kept", got)
	}
	ns3 := srv.NewNamespace(t, ctx, "autoscaling-handover", nil)
	applyAll(t, ctx, dyn, ns3, fixed)
	handover := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "catalog-green", "namespace": ns3},
		"spec":     map[string]any{"replicas": int64(4)},
	}}
	apply(t, ctx, dyn, handover, "handover-to-hpa")
	applyAll(t, ctx, dyn, ns3, objs)
	if got := replicas(t, ctx, dyn, ns3, "catalog-green"); got != 4 {
		t.Errorf("after the hand-over: %d replicas, want 4 kept", got)
	}
}

// applyAll server-side applies the Deployments and HPAs of objs in ns.
func applyAll(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns string, objs []render.Object) {
	t.Helper()
	for _, o := range objs {
		if k := o.GetObjectKind().GroupVersionKind().Kind; k != "Deployment" && k != "HorizontalPodAutoscaler" {
			continue
		}
		m, err := render.Manifest(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetNamespace(ns)
		apply(t, ctx, dyn, u, gitopsManager)
	}
}

func apply(t *testing.T, ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured, manager string) {
	t.Helper()
	gvr := deploymentsGVR
	if u.GetKind() == "HorizontalPodAutoscaler" {
		gvr = hpasGVR
	}
	data, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	force := true
	if _, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: manager, Force: &force, FieldValidation: metav1.FieldValidationStrict}); err != nil {
		t.Fatalf("apply %s %s as %s: %v", u.GetKind(), u.GetName(), manager, err)
	}
}

// scale sets a Deployment's replicas through its scale subresource, as
// the HPA controller does.
func scale(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns, name string, n int64, manager string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
	if _, err := dyn.Resource(deploymentsGVR).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: manager}, "scale"); err != nil {
		t.Fatalf("scale %s: %v", name, err)
	}
}

func replicas(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns, name string) int64 {
	t.Helper()
	d, err := dyn.Resource(deploymentsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, found, err := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if err != nil || !found {
		t.Fatalf("%s: spec.replicas %v %v", name, found, err)
	}
	return n
}

// fixedReplicas is objs as bgrender rendered them before spec.autoscaling:
// Deployments with n replicas, no HPAs.
func fixedReplicas(objs []render.Object, n int32) []render.Object {
	var out []render.Object
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			d := o.DeepCopy()
			d.Spec.Replicas = &n
			out = append(out, d)
		case *autoscalingv2.HorizontalPodAutoscaler:
		default:
			out = append(out, o)
		}
	}
	return out
}
