package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

// rolloutSpec is an app rendered for Argo Rollouts; the idle color's image
// is the Rollout's template.
const rolloutSpec = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: shop, namespace: %s}
spec:
  active: blue
  selectorLabels: {app: shop}
  blue: {image: example/shop:1.0.0}
  green: {image: %s}
  replicas: 2
  ports: [{name: http, containerPort: 8080, servicePort: 80}]
  healthCheck: {path: /health}
  tolerations:
    - {key: ` + loop.TaintKey + `, operator: Exists, effect: NoSchedule}
`

// TestRolloutsController runs the real Argo Rollouts controller (v1.10.2)
// on the loop bed against what render --format argo-rollouts writes: the
// Rollout becomes Healthy with both Services on its ReplicaSet; a new
// image on the idle color (the Rollout's template) starts a second
// ReplicaSet that the preview Service selects while the active Service
// stays, and the Rollout waits, paused, for a promotion; a promotion as
// `kubectl argo rollouts promote` makes it (the same two patches) flips
// the active Service to the new ReplicaSet.
func TestRolloutsController(t *testing.T) {
	bed := loop.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ar := bed.StartArgoRollouts(t, ctx)
	t.Logf("Argo Rollouts controller ready in %s", ar.Startup.Round(time.Millisecond))
	ns := bed.NewNamespace(t, ctx, "argo-rollouts-bridge", nil)
	defer func() {
		if t.Failed() {
			t.Logf("rollouts-controller log:\n%s", ar.LogTail(40))
		}
	}()

	// apply applies the rendered objects; withServices false leaves the
	// Services out, as a GitOps tool must after the first sync: the
	// controller owns their selectors' rollouts-pod-template-hash, and a
	// server-side apply that owns spec.selector (an atomic map) takes it
	// away, upon which the controller promotes the newest ReplicaSet at
	// once (step 4 below shows it).
	apply := func(image string, withServices bool) {
		t.Helper()
		apps, err := spec.Load("shop.yaml", fmt.Appendf(nil, rolloutSpec, ns, image))
		if err != nil {
			t.Fatal(err)
		}
		var objs []render.Object
		for _, o := range rollouts.Render(apps) {
			if withServices || o.GetObjectKind().GroupVersionKind().Kind != "Service" {
				objs = append(objs, o)
			}
		}
		var buf bytes.Buffer
		if err := render.WriteYAML(&buf, objs); err != nil {
			t.Fatal(err)
		}
		if err := bed.ApplyYAML(ctx, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	rollout := func() *unstructured.Unstructured {
		t.Helper()
		ro, err := bed.Dynamic().Resource(loop.RolloutGVR).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ro
	}
	status := func(ro *unstructured.Unstructured, field string) string {
		v, _, _ := unstructured.NestedString(ro.Object, "status", field)
		return v
	}
	selected := func(svc string) string {
		s, err := bed.Clientset().CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return s.Spec.Selector[rollouts.HashLabel]
	}
	// endpointsOf waits until the Service's ready endpoints are exactly n
	// pods of the ReplicaSet with hash.
	endpointsOf := func(svc, hash string, n int) {
		t.Helper()
		if err := loop.WaitFor(ctx, fmt.Sprintf("%d pods of %s behind %s", n, hash, svc), func(ctx context.Context) (bool, error) {
			pods, err := bed.ReadyEndpoints(ctx, ns, svc)
			if err != nil || len(pods) != n {
				return false, err
			}
			for _, p := range pods {
				if !strings.HasPrefix(p, "shop-"+hash+"-") {
					return false, fmt.Errorf("%s lists %s", svc, p)
				}
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase := func(phase string) *unstructured.Unstructured {
		t.Helper()
		var ro *unstructured.Unstructured
		if err := loop.WaitFor(ctx, "Rollout phase "+phase, func(context.Context) (bool, error) {
			ro = rollout()
			return status(ro, "phase") == phase && status(ro, "observedGeneration") == fmt.Sprint(ro.GetGeneration()), nil
		}); err != nil {
			t.Fatalf("%v (phase %q, message %q)", err, status(ro, "phase"), status(ro, "message"))
		}
		return ro
	}

	// 1. The first revision becomes Healthy; both Services select it.
	start := time.Now()
	apply("example/shop:1.0.0", true)
	ro := waitPhase("Healthy")
	stable := status(ro, "stableRS")
	t.Logf("Healthy after %s, stable ReplicaSet hash %s", loop.Since(start), stable)
	if stable == "" || selected("shop") != stable || selected("shop-preview") != stable {
		t.Fatalf("stable %q, active Service selects %q, preview %q", stable, selected("shop"), selected("shop-preview"))
	}
	endpointsOf("shop", stable, 2)

	// 2. A new image on the idle color: a second ReplicaSet behind the
	// preview Service; the active Service stays; the Rollout waits.
	start = time.Now()
	apply("example/shop:1.1.0", false)
	ro = waitPhase("Paused")
	next := status(ro, "currentPodHash")
	if next == stable {
		t.Fatalf("the new image did not make a new ReplicaSet (hash %s)", next)
	}
	if err := loop.WaitFor(ctx, "the preview Service on the new ReplicaSet", func(context.Context) (bool, error) {
		return selected("shop-preview") == next, nil
	}); err != nil {
		t.Fatal(err)
	}
	endpointsOf("shop-preview", next, 2)
	if got := selected("shop"); got != stable {
		t.Fatalf("before the promotion the active Service selects %q, want the stable %q", got, stable)
	}
	endpointsOf("shop", stable, 2)
	t.Logf("preview Service on %s after %s; active still on %s", next, loop.Since(start), stable)

	// 3. Promote as the kubectl plugin does: clear the pause conditions
	// (status subresource), then unpause the spec if it is paused.
	start = time.Now()
	if conds, _, _ := unstructured.NestedSlice(ro.Object, "status", "pauseConditions"); len(conds) == 0 {
		t.Fatalf("a paused Rollout without pauseConditions: %v", ro.Object["status"])
	}
	rc := bed.Dynamic().Resource(loop.RolloutGVR).Namespace(ns)
	if _, err := rc.Patch(ctx, "shop", types.MergePatchType, []byte(`{"status":{"pauseConditions":null}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	if paused, _, _ := unstructured.NestedBool(rollout().Object, "spec", "paused"); paused {
		if _, err := rc.Patch(ctx, "shop", types.MergePatchType, []byte(`{"spec":{"paused":false}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := loop.WaitFor(ctx, "the active Service on the new ReplicaSet", func(context.Context) (bool, error) {
		return selected("shop") == next, nil
	}); err != nil {
		t.Fatal(err)
	}
	endpointsOf("shop", next, 2)
	ro = waitPhase("Healthy")
	if got := status(ro, "stableRS"); got != next {
		t.Errorf("after the promotion the stable ReplicaSet is %q, want %q", got, next)
	}
	t.Logf("active Service flipped to %s %s after the promotion", next, loop.Since(start))

	// 4. Why a sync must leave the Services' selectors to the controller:
	// a new image applied together with the Services takes the hash out of
	// the active Service's selector, and the controller promotes the new
	// ReplicaSet without waiting for anyone.
	apply("example/shop:1.2.0", true)
	if err := loop.WaitFor(ctx, "the controller to act on 1.2.0", func(context.Context) (bool, error) {
		ro := rollout()
		h := status(ro, "currentPodHash")
		return h != next && h != stable && h != "" && status(ro, "stableRS") == h && selected("shop") == h, nil
	}); err != nil {
		t.Fatalf("applying the Services with a new image did not promote at once: %v", err)
	}
}
