package loop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// cpuAutoscaling makes the article's spec autoscaled on CPU: 2 to 8 pods
// per color at 50% of the 250m request (blue held to 6 at most, so that
// the load's figure is what it runs), a short scale-down window so that the
// story sees the autoscaler take over; the quota's limits.cpu holds both
// colors at their most.
const cpuAutoscaling = `  autoscaling:
    minReplicas: 2
    maxReplicas: 8
    metrics:
      - type: Resource
        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
    behavior:
      scaleDown: {stabilizationWindowSeconds: 30}
`

// TestMatchCapacityOnMetrics is the capacity story with the whole metrics
// chain (loop.Metrics): kwok simulates the pods' CPU, metrics-server serves
// it through the aggregation layer, the real HPA controller scales each
// color. The load on blue grows it to 6 while green stays at 2; promote is
// refused with both figures; promote --match-capacity on the bgrender.yaml
// folder raises green (spec.green.autoscaling.matchedMinReplicas), waits
// for its 6 pods, flips with never fewer than 6 ready endpoints behind the
// Service, waits until green's HPA reads the load that moved with the
// traffic, and restores green's floor; then the autoscaler holds green at 6
// by the load and scales blue down to 2, and Flux reports no drift.
// Nothing writes an HPA's or a Deployment's status.
func TestMatchCapacityOnMetrics(t *testing.T) {
	t.Parallel() // it mostly waits; see main_test.go
	bed := loop.Require(t, loop.Flux, loop.Metrics)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "metrics-capacity", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "")
	specPath := filepath.Join(work, filepath.FromSlash(appPath), "bgrender.yaml")
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "\n  replicas: 3\n", "\n"+cpuAutoscaling, 1)
	text = strings.Replace(text, `limits.cpu: "12"`, `limits.cpu: "20"`, 1)
	// The seed's quota holds both colors at their maxReplicas with a
	// surge of 25%, not of a whole color.
	text = strings.Replace(text, "\n  maxSurge: 100%", "\n  maxSurge: 25%", 1)
	text = strings.Replace(text, "  blue:\n    image: myapp:v1.2.3\n", "  blue:\n    image: myapp:v1.2.3\n    autoscaling: {maxReplicas: 6}\n", 1)
	if err := os.WriteFile(specPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(ctx, 0, "render", specPath, "--output-dir", filepath.Dir(specPath))

	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name, svc = "metrics-capacity", "my-application"
	s.fluxSync(ctx, url, name)
	hpa := func(c string) (current, desired int32) {
		h, err := bed.Clientset().AutoscalingV2().HorizontalPodAutoscalers(s.ns).Get(ctx, "my-application-"+c, metav1.GetOptions{})
		if err != nil {
			return -1, -1
		}
		return h.Status.CurrentReplicas, h.Status.DesiredReplicas
	}
	waitReady := func(c string, n int32) {
		t.Helper()
		if err := loop.WaitFor(ctx, fmt.Sprintf("my-application-%s with %d ready pods", c, n), func(ctx context.Context) (bool, error) {
			d, err := bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, "my-application-"+c, metav1.GetOptions{})
			return err == nil && d.Status.ReadyReplicas == n && d.Status.Replicas == n, nil
		}); err != nil {
			cur, des := hpa(c)
			t.Fatalf("%v (HPA current %d, desired %d)", err, cur, des)
		}
	}
	waitReady("blue", 2)
	waitReady("green", 2)

	// The load: blue's pods use 375m (150% of their request); the HPA
	// controller grows blue to its maxReplicas, 6.
	began := time.Now()
	if err := bed.SetUsage(ctx, s.ns, "version", map[string]string{"blue": "375m"}); err != nil {
		t.Fatal(err)
	}
	waitReady("blue", 6)
	t.Logf("the load grew blue to 6 in %s", loop.Since(began))
	s.waitServes(ctx, svc, "blue", 6)
	if _, g := hpa("green"); g != 2 {
		t.Errorf("green's HPA wants %d pods, want 2", g)
	}

	repo := []string{"--repo", url, "--path", appPath}
	live := []string{"--reconcile", "kustomization/flux-system/" + name, "--wait-live"}
	before := git.CommitCount(t, "gitops", "main")
	_, errOut := s.must(ctx, 3, append([]string{"promote"}, repo...)...)
	if !strings.Contains(errOut, "Deployment my-application-green has 2 ready pods; taking 100% of the traffic from my-application-blue, which runs 6 (desired replicas of HorizontalPodAutoscaler my-application-blue), needs 6") {
		t.Errorf("promote onto 2 pods of 6:\n%s", errOut)
	}
	if n := git.CommitCount(t, "gitops", "main"); n != before {
		t.Errorf("a refused promote committed: %d commits, want %d", n, before)
	}

	// The load follows the traffic: once the Service selects green, green's
	// pods carry it (125m each on 6 pods: their target) and blue's idle.
	go func() {
		for ctx.Err() == nil {
			s, err := bed.Clientset().CoreV1().Services(s.ns).Get(ctx, svc, metav1.GetOptions{})
			if err == nil && s.Spec.Selector["version"] == "green" {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := bed.SetUsage(ctx, s.ns, "version", map[string]string{"green": "125m"}); err != nil {
			t.Error(err)
		}
	}()
	w := s.watchServiceEndpoints(ctx, svc)
	w.arm(6)
	began = time.Now()
	out, errOut := s.must(ctx, 0, append(append([]string{"promote", "--match-capacity"}, repo...), live...)...)
	t.Logf("promote --match-capacity took %s", loop.Since(began))
	for _, want := range []string{
		"raise green's minReplicas from 2 to 6 to match the live color (HorizontalPodAutoscaler my-application-green)",
		"match-capacity: my-application-green has 6 ready pods",
		"serves green, 6 ready endpoints",
		"settle-floor: my-application-green: ",
		"restore green's minReplicas to 2",
	} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("promote --match-capacity: output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if n := git.CommitCount(t, "gitops", "main"); n != before+3 {
		t.Errorf("promote --match-capacity: %d commits, want %d (raise, flip, restore)", n, before+3)
	}
	if h, err := bed.Clientset().AutoscalingV2().HorizontalPodAutoscalers(s.ns).Get(ctx, "my-application-green", metav1.GetOptions{}); err == nil {
		for _, c := range h.Status.Conditions {
			t.Logf("green's HPA after the promote: %s=%s %s at %s (%s)", c.Type, c.Status, c.Reason, c.LastTransitionTime.UTC().Format(time.TimeOnly), c.Message)
		}
		for _, m := range h.Status.CurrentMetrics {
			if m.Resource != nil {
				t.Logf("green's HPA reads %s: %v%% (%s)", m.Resource.Name, ptrValue(m.Resource.Current.AverageUtilization), m.Resource.Current.AverageValue)
			}
		}
	}
	if min, _ := w.result(); min < 6 {
		t.Errorf("the Service had %d ready endpoints at one moment; want at least 6", min)
	}
	if got := gittest.Git(t, git.RepoDir("gitops"), "show", "main:"+appPath+"/bgrender.yaml") + "\n"; got != strings.Replace(text, "active: blue", "active: green", 1) {
		t.Errorf("after the restore, bgrender.yaml is not as written but for spec.active:\n%s", got)
	}

	// The autoscaler has both colors: green held at 6 by its load, blue
	// down to its floor once its scale-down window passed; Flux applied the
	// last commit and reports no drift.
	s.reconcileNow(ctx, name)
	s.waitKustomization(ctx, name, "True", "main@sha1:"+git.Head(t, "gitops", "main"))
	began = time.Now()
	waitReady("blue", 2)
	t.Logf("blue scaled down to 2 %s after the restore", loop.Since(began))
	waitReady("green", 6)
	if cur, des := hpa("green"); cur != 6 || des != 6 {
		t.Errorf("green's HPA: current %d, desired %d; want 6 by its load", cur, des)
	}
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}
