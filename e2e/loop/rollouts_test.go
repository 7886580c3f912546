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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

// rolloutSpec is an app rendered for Argo Rollouts; the idle color's image
// (green's) is the Rollout's template. The last %s is more of spec.
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
%s`

var analysisRunGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}

// argoApp is the app of rolloutSpec in one namespace of the bed, under
// Argo Rollouts' controller.
type argoApp struct {
	t     *testing.T
	ctx   context.Context
	bed   *loop.Cluster
	ns    string
	extra string // more of the spec (gates)
}

// apply renders the app with green on image and applies it; withServices
// false leaves the Services out, as a GitOps tool must after the first
// sync: the controller owns their selectors' rollouts-pod-template-hash,
// and a server-side apply that owns spec.selector (an atomic map) takes it
// away, upon which the controller promotes the newest ReplicaSet at once
// (TestRolloutsController shows it).
func (a *argoApp) apply(image string, withServices bool) {
	a.t.Helper()
	apps, err := spec.Load("shop.yaml", fmt.Appendf(nil, rolloutSpec, a.ns, image, a.extra))
	if err != nil {
		a.t.Fatal(err)
	}
	var objs []render.Object
	for _, o := range rollouts.Render(apps) {
		if withServices || o.GetObjectKind().GroupVersionKind().Kind != "Service" {
			objs = append(objs, o)
		}
	}
	var buf bytes.Buffer
	if err := render.WriteYAML(&buf, objs); err != nil {
		a.t.Fatal(err)
	}
	if err := a.bed.ApplyYAML(a.ctx, buf.Bytes()); err != nil {
		a.t.Fatal(err)
	}
}

func (a *argoApp) rollout() *unstructured.Unstructured {
	a.t.Helper()
	ro, err := a.bed.Dynamic().Resource(loop.RolloutGVR).Namespace(a.ns).Get(a.ctx, "shop", metav1.GetOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	return ro
}

func status(o *unstructured.Unstructured, field string) string {
	v, _, _ := unstructured.NestedString(o.Object, "status", field)
	return v
}

// selected is the ReplicaSet hash that Service svc selects.
func (a *argoApp) selected(svc string) string {
	s, err := a.bed.Clientset().CoreV1().Services(a.ns).Get(a.ctx, svc, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return s.Spec.Selector[rollouts.HashLabel]
}

// endpointsOf waits until the Service's ready endpoints are exactly n pods
// of the ReplicaSet with hash.
func (a *argoApp) endpointsOf(svc, hash string, n int) {
	a.t.Helper()
	if err := loop.WaitFor(a.ctx, fmt.Sprintf("%d pods of %s behind %s", n, hash, svc), func(ctx context.Context) (bool, error) {
		pods, err := a.bed.ReadyEndpoints(ctx, a.ns, svc)
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
		a.t.Fatal(err)
	}
}

func (a *argoApp) waitPhase(phase string) *unstructured.Unstructured {
	a.t.Helper()
	var ro *unstructured.Unstructured
	if err := loop.WaitFor(a.ctx, "Rollout phase "+phase, func(context.Context) (bool, error) {
		ro = a.rollout()
		return status(ro, "phase") == phase && status(ro, "observedGeneration") == fmt.Sprint(ro.GetGeneration()), nil
	}); err != nil {
		a.t.Fatalf("%v (phase %q, message %q)", err, status(ro, "phase"), status(ro, "message"))
	}
	return ro
}

// analysisRun waits until the namespace's one AnalysisRun ends in phase.
func (a *argoApp) analysisRun(phase string) {
	a.t.Helper()
	var got string
	if err := loop.WaitFor(a.ctx, "an AnalysisRun "+phase, func(ctx context.Context) (bool, error) {
		list, err := a.bed.Dynamic().Resource(analysisRunGVR).Namespace(a.ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			return false, err
		}
		got = status(&list.Items[0], "phase") + " " + status(&list.Items[0], "message")
		return status(&list.Items[0], "phase") == phase, nil
	}); err != nil {
		a.t.Fatalf("%v (last: %q)", err, got)
	}
}

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
	defer func() {
		if t.Failed() {
			t.Logf("rollouts-controller log:\n%s", ar.LogTail(40))
		}
	}()
	a := &argoApp{t: t, ctx: ctx, bed: bed, ns: bed.NewNamespace(t, ctx, "argo-rollouts-bridge", nil)}

	// 1. The first revision becomes Healthy; both Services select it.
	start := time.Now()
	a.apply("example/shop:1.0.0", true)
	ro := a.waitPhase("Healthy")
	stable := status(ro, "stableRS")
	t.Logf("Healthy after %s, stable ReplicaSet hash %s", loop.Since(start), stable)
	if stable == "" || a.selected("shop") != stable || a.selected("shop-preview") != stable {
		t.Fatalf("stable %q, active Service selects %q, preview %q", stable, a.selected("shop"), a.selected("shop-preview"))
	}
	a.endpointsOf("shop", stable, 2)

	// 2. A new image on the idle color: a second ReplicaSet behind the
	// preview Service; the active Service stays; the Rollout waits.
	start = time.Now()
	a.apply("example/shop:1.1.0", false)
	ro = a.waitPhase("Paused")
	next := status(ro, "currentPodHash")
	if next == stable {
		t.Fatalf("the new image did not make a new ReplicaSet (hash %s)", next)
	}
	if err := loop.WaitFor(ctx, "the preview Service on the new ReplicaSet", func(context.Context) (bool, error) {
		return a.selected("shop-preview") == next, nil
	}); err != nil {
		t.Fatal(err)
	}
	a.endpointsOf("shop-preview", next, 2)
	if got := a.selected("shop"); got != stable {
		t.Fatalf("before the promotion the active Service selects %q, want the stable %q", got, stable)
	}
	a.endpointsOf("shop", stable, 2)
	t.Logf("preview Service on %s after %s; active still on %s", next, loop.Since(start), stable)

	// 3. Promote as the kubectl plugin does: clear the pause conditions
	// (status subresource), then unpause the spec if it is paused.
	start = time.Now()
	promote(t, a)
	if err := loop.WaitFor(ctx, "the active Service on the new ReplicaSet", func(context.Context) (bool, error) {
		return a.selected("shop") == next, nil
	}); err != nil {
		t.Fatal(err)
	}
	a.endpointsOf("shop", next, 2)
	ro = a.waitPhase("Healthy")
	if got := status(ro, "stableRS"); got != next {
		t.Errorf("after the promotion the stable ReplicaSet is %q, want %q", got, next)
	}
	t.Logf("active Service flipped to %s %s after the promotion", next, loop.Since(start))

	// 4. Why a sync must leave the Services' selectors to the controller:
	// a new image applied together with the Services takes the hash out of
	// the active Service's selector, and the controller promotes the new
	// ReplicaSet without waiting for anyone.
	a.apply("example/shop:1.2.0", true)
	if err := loop.WaitFor(ctx, "the controller to act on 1.2.0", func(context.Context) (bool, error) {
		ro := a.rollout()
		h := status(ro, "currentPodHash")
		return h != next && h != stable && h != "" && status(ro, "stableRS") == h && a.selected("shop") == h, nil
	}); err != nil {
		t.Fatalf("applying the Services with a new image did not promote at once: %v", err)
	}
}

// promote does what `kubectl argo rollouts promote` does to a paused
// blueGreen Rollout: a merge patch of the status subresource that clears
// the pause conditions, then one of the spec that unpauses it if paused.
func promote(t *testing.T, a *argoApp) {
	t.Helper()
	ro := a.rollout()
	if conds, _, _ := unstructured.NestedSlice(ro.Object, "status", "pauseConditions"); len(conds) == 0 {
		t.Fatalf("a paused Rollout without pauseConditions: %v", ro.Object["status"])
	}
	rc := a.bed.Dynamic().Resource(loop.RolloutGVR).Namespace(a.ns)
	if _, err := rc.Patch(a.ctx, "shop", types.MergePatchType, []byte(`{"status":{"pauseConditions":null}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	if paused, _, _ := unstructured.NestedBool(a.rollout().Object, "spec", "paused"); paused {
		if _, err := rc.Patch(a.ctx, "shop", types.MergePatchType, []byte(`{"spec":{"paused":false}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRolloutsAnalysis runs the AnalysisTemplate that spec.gates.errorRate
// renders, with the real controller querying a real Prometheus: without
// data the pre-promotion analysis is Inconclusive and the active Service
// stays (inconclusive blocks); with 0% errors on the new ReplicaSet it is
// Successful and still waits for a promotion; with 50% it Fails and the
// Rollout is aborted, the active Service never moved. The ReplicaSet's
// hash depends on the pod template only, so each case runs the same
// release in a namespace of its own, and the exporter serves the series
// of the hash the first case revealed.
func TestRolloutsAnalysis(t *testing.T) {
	bed := loop.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exp := promtest.NewExporter()
	prom := promtest.Start(t, exp)
	ar := bed.StartArgoRollouts(t, ctx)
	defer func() {
		if t.Failed() {
			t.Logf("rollouts-controller log:\n%s", ar.LogTail(40))
		}
	}()
	gates := "  gates:\n    errorRate: {prometheusURL: \"" + prom.URL + "\", maxPercent: 5, window: 10s}\n"
	release := func(base string) (*argoApp, string) {
		t.Helper()
		a := &argoApp{t: t, ctx: ctx, bed: bed, ns: bed.NewNamespace(t, ctx, base, nil), extra: gates}
		a.apply("example/shop:1.0.0", true)
		stable := status(a.waitPhase("Healthy"), "stableRS")
		a.apply("example/shop:1.1.0", false)
		if err := loop.WaitFor(ctx, "the new ReplicaSet", func(context.Context) (bool, error) {
			h := status(a.rollout(), "currentPodHash")
			return h != "" && h != stable, nil
		}); err != nil {
			t.Fatal(err)
		}
		return a, stable
	}

	// No data: Inconclusive, the Rollout stays paused on the old ReplicaSet.
	a, stable := release("analysis-no-data")
	a.analysisRun("Inconclusive")
	next := status(a.rollout(), "currentPodHash")
	if a.selected("shop") != stable || next == stable {
		t.Fatalf("after an inconclusive analysis the active Service selects %q (stable %q, new %q)", a.selected("shop"), stable, next)
	}

	app := &spec.BlueGreenApp{Metadata: spec.ObjectMeta{Name: "shop"}}
	query := strings.ReplaceAll(rollouts.ExpandQuery(gate.DefaultErrorRateQuery, app, 10*time.Second), "{{args."+rollouts.ArgHash+"}}", next)
	series := func(code string) string {
		return fmt.Sprintf(`http_requests_total{app_kubernetes_io_name="shop",%s=%q,code=%q}`, gate.PromLabel(rollouts.HashLabel), next, code)
	}

	// 0% errors: Successful; no promotion without someone promoting.
	exp.SetRate(series("200"), 20)
	exp.SetRate(series("500"), 0)
	prom.WaitFor(t, ctx, "("+query+") < 5")
	a, _ = release("analysis-good")
	if h := status(a.rollout(), "currentPodHash"); h != next {
		t.Fatalf("the same release has hash %s in another namespace, not %s", h, next)
	}
	a.analysisRun("Successful")
	if ro := a.waitPhase("Paused"); a.selected("shop") == next {
		t.Fatalf("a successful analysis promoted by itself (phase %s)", status(ro, "phase"))
	}

	// 50% errors: Failed, the Rollout aborted, the active Service unmoved.
	exp.SetRate(series("500"), 20)
	prom.WaitFor(t, ctx, "("+query+") >= 40")
	a, stable = release("analysis-bad")
	a.analysisRun("Failed")
	if err := loop.WaitFor(ctx, "the Rollout to abort", func(context.Context) (bool, error) {
		abort, _, _ := unstructured.NestedBool(a.rollout().Object, "status", "abort")
		return abort, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := a.selected("shop"); got != stable {
		t.Fatalf("after a failed analysis the active Service selects %q, want %q", got, stable)
	}
}
