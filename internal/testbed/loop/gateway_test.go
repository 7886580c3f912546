package loop_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

var gatewaysGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// TestGatewayRoutes: Traefik, the bed's Gateway, programs the Gateway
// (status address NodeIP) and routes an HTTPRoute with weights 70/30
// between two colors' Services: over 1,000 requests the split is exact
// within a point (Traefik's weighted round robin is deterministic), the
// header rule sends everything to one color, and a request for a hostname
// no route has gets Traefik's 404. Nothing listens on the host's side.
func TestGatewayRoutes(t *testing.T) {
	bed := loop.Require(t, loop.Gateway)
	gw := bed.Traefik()
	dp := bed.DataPlane()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := bed.Clientset()
	ns := bed.NewNamespace(t, ctx, "gateway", nil)

	u, err := bed.Dynamic().Resource(gatewaysGVR).Namespace(loop.GatewayNamespace).Get(ctx, loop.GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if addrs, _, _ := unstructured.NestedSlice(u.Object, "status", "addresses"); len(addrs) != 1 || addrs[0].(map[string]any)["value"] != loop.NodeIP {
		t.Errorf("the Gateway's status addresses: %v", addrs)
	}
	for _, color := range []string{"blue", "green"} {
		name := "web-" + color
		if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web", "version": color},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := webDeployment(ns, "registry.example/web:"+color)
		d.Name = name
		d.Spec.Selector.MatchLabels["version"] = color
		d.Spec.Template.Labels["version"] = color
		*d.Spec.Replicas = 2
		spec := &d.Spec.Template.Spec
		spec.Tolerations = append(spec.Tolerations, loop.DataPlaneToleration)
		spec.NodeSelector = loop.DataPlaneNodeSelector
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, color := range []string{"blue", "green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, ns, "web-"+color); err != nil {
			t.Fatalf("%v; data plane errors: %v", err, dp.Errors())
		}
	}
	route := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: %s}
spec:
  parentRefs: [{name: %s, namespace: %s}]
  hostnames: [web.example.com]
  rules:
    - matches: [{headers: [{name: x-color, value: green}]}]
      backendRefs: [{name: web-green, port: 80}]
    - backendRefs:
        - {name: web-blue, port: 80, weight: 70}
        - {name: web-green, port: 80, weight: 30}
`, ns, loop.GatewayName, loop.GatewayNamespace)
	began := time.Now()
	if err := bed.ApplyYAML(ctx, []byte(route)); err != nil {
		t.Fatal(err)
	}
	var splits []loop.Split
	if err := loop.WaitFor(ctx, "Traefik to run the route", func(ctx context.Context) (bool, error) {
		splits, err = gw.RouteSplits(ctx, ns, "web")
		w := weighted(splits)
		return len(splits) == 2 && w["web-blue"] == 70 && w["web-green"] == 30, err
	}); err != nil {
		t.Fatalf("%v: %+v; traefik.log:\n%s", err, splits, gw.LogTail(20))
	}
	t.Logf("Traefik runs the route %s after it was applied: %+v", loop.Since(began), splits)

	cfg := load.Config{URL: gw.URL(), Host: "web.example.com", Clients: 4, Count: 1000, Duration: time.Minute, Pause: time.Millisecond, Dial: dp.DialFrom}
	run, err := load.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := load.Summarize(run.Wait(), time.Time{}, time.Time{})
	t.Logf("weighted: %s", w)
	green := colorShare(t, run.Records(), "green")
	if w.Requests != 1000 || w.Failed != 0 || math.Abs(green-30) > 1 {
		t.Errorf("weights 70/30: %d requests, %d failed %v, green %.1f%%", w.Requests, w.Failed, w.Errors, green)
	}

	cfg.Header, cfg.Count = http.Header{"X-Color": {"green"}}, 200
	if run, err = load.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if w := load.Summarize(run.Wait(), time.Time{}, time.Time{}); w.Requests != 200 || w.Failed != 0 || colorShare(t, run.Records(), "green") != 100 {
		t.Errorf("the header rule: %s", w)
	}

	client := dp.HTTPClient(2 * time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.URL(), nil)
	req.Host = "other.example.com"
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a hostname no route has: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if out, err := exec.Command("ss", "-Htln", "sport = :80").CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "" {
		t.Errorf("something listens on port 80 in the host's namespace:\n%s", out)
	}
}

// weighted returns the weights of the split whose rule matches no header.
func weighted(splits []loop.Split) map[string]int {
	for _, s := range splits {
		if !strings.Contains(s.Rule, "Header") {
			return s.Weights
		}
	}
	return nil
}

// colorShare is the percentage of served requests that color served.
func colorShare(t *testing.T, recs []load.Record, color string) float64 {
	t.Helper()
	served, n := 0, 0
	for _, r := range recs {
		if r.Failed() {
			continue
		}
		served++
		if r.Color == color {
			n++
		}
	}
	if served == 0 {
		return math.NaN()
	}
	return 100 * float64(n) / float64(served)
}
