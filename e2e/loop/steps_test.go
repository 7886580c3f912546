package loop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// gatewayCRDs applies the Gateway API's standard-channel HTTPRoute CRD
// (sigs.k8s.io/gateway-api v1.6.3, from the Go module cache, where
// hack/install-tools.sh downloads it).
func gatewayCRDs(t *testing.T, ctx context.Context, bed *loop.Cluster) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "sigs.k8s.io", "gateway-api@v1.6.3", "config", "crd", "standard")
	data, err := os.ReadFile(filepath.Join(dir, "gateway.networking.k8s.io_httproutes.yaml"))
	if err != nil {
		t.Fatalf("the Gateway API CRDs are not in the module cache (make tools): %v", err)
	}
	if err := bed.ApplyYAML(ctx, data); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "the HTTPRoute CRD to serve", func(ctx context.Context) (bool, error) {
		_, err := bed.Dynamic().Resource(httpRoutes).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// actAsGateway plays the Gateway controller that cannot run here: every
// generation of every HTTPRoute in ns gets Accepted and ResolvedRefs from
// its parents, as a conformant implementation reports them.
func actAsGateway(ctx context.Context, bed *loop.Cluster, ns string) {
	for ctx.Err() == nil {
		list, err := bed.Dynamic().Resource(httpRoutes).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, r := range list.Items {
				gen := r.GetGeneration()
				parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
				var status []any
				for _, p := range parents {
					cond := func(typ string) map[string]any {
						return map[string]any{"type": typ, "status": "True", "reason": typ, "message": "", "observedGeneration": gen,
							"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
					}
					status = append(status, map[string]any{"parentRef": p, "controllerName": "example.com/test-gateway",
						"conditions": []any{cond("Accepted"), cond("ResolvedRefs")}})
				}
				old, _, _ := unstructured.NestedSlice(r.Object, "status", "parents")
				if fmt.Sprint(old) == fmt.Sprint(status) {
					continue
				}
				if ogen := observed(old); ogen == gen {
					continue
				}
				_ = unstructured.SetNestedSlice(r.Object, status, "status", "parents")
				_, _ = bed.Dynamic().Resource(httpRoutes).Namespace(ns).UpdateStatus(ctx, &r, metav1.UpdateOptions{})
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func observed(parents []any) int64 {
	for _, p := range parents {
		conds, _, _ := unstructured.NestedSlice(p.(map[string]any), "conditions")
		for _, c := range conds {
			if g, ok := c.(map[string]any)["observedGeneration"].(int64); ok {
				return g
			}
		}
	}
	return -1
}

// routeWeights reads the weights of the HTTPRoute's main rule.
func routeWeights(ctx context.Context, bed *loop.Cluster, ns, name string) map[string]int64 {
	out := map[string]int64{}
	u, err := bed.Dynamic().Resource(httpRoutes).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return out
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, r := range rules {
		matches, _, _ := unstructured.NestedSlice(r.(map[string]any), "matches")
		header := false
		for _, m := range matches {
			if h, ok := m.(map[string]any)["headers"]; ok && h != nil {
				header = true
			}
		}
		if header {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
		for _, ref := range refs {
			m := ref.(map[string]any)
			w, _ := m["weight"].(int64)
			out[m["name"].(string)] = w
		}
	}
	return out
}

// TestSteppedPromotion: promote --steps 10,25,50,100 on the loop bed with
// Flux applying each step's commit and the test playing the Gateway
// controller. The first run: green's error rate turns bad while 25% of
// traffic is on it, so the hold of that step refuses, a commit returns the
// weight to 0 naming the step, and exit 3. The second run, with green
// healthy, after a shift to 25% by hand: the re-run resumes at 50%, each
// step's route is applied and accepted in turn, the last flips the
// Services and ends the shift in one commit, and -o json lists the steps;
// status shows the split.
func TestSteppedPromotion(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	gatewayCRDs(t, ctx, bed)
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "steps", nil)
	go actAsGateway(ctx, bed, s.ns)

	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "  traffic:\n    weight: 0\n    gateway:\n      parentRefs: [{name: public, namespace: gateway-system}]\n      hostnames: [api.example.com]\n")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "steps", app+"-blue", app+"-green")

	exp := promtest.NewExporter()
	series := `http_requests_total{app_kubernetes_io_name="` + app + `",version="green",code="%s"}`
	exp.SetRate(fmt.Sprintf(series, "200"), 100)
	exp.SetRate(fmt.Sprintf(series, "500"), 0.1)
	prom := promtest.Start(t, exp)
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="`+app+`"}[5s])`)
	waitCancel()
	// Green turns bad once the route carries 25%.
	bad := make(chan struct{})
	go func() {
		for ctx.Err() == nil {
			if routeWeights(ctx, bed, s.ns, app)[app+"-green"] == 25 {
				exp.SetRate(fmt.Sprintf(series, "500"), 60)
				close(bad)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	steps := []string{"promote", "--steps", "10,25,50,100", "--step-wait", "4s", "--step-interval", "500ms",
		"--prometheus-url", prom.URL, "--max-error-rate", "5", "--window", "3s",
		"--reconcile", "kustomization/flux-system/steps", "--live-timeout", "1m", "--repo", url, "--path", appPath}
	_, errOut := s.must(ctx, 3, steps...)
	<-bad
	if !strings.Contains(errOut, "step 2 (25%)") || !strings.Contains(errOut, "traffic returned to blue") {
		t.Errorf("the refused step:\n%s", errOut)
	}
	log, err := exec.Command("git", "-C", git.RepoDir("gitops"), "log", "-1", "--format=%s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	subject := strings.TrimSpace(string(log))
	if !strings.HasPrefix(subject, "shift my-application: send 0% of traffic to green (blue keeps 100%): step 2 of 4 (25%) refused: ") {
		t.Errorf("the return commit: %q", subject)
	}
	if err := loop.WaitFor(ctx, "the route to return to blue", func(ctx context.Context) (bool, error) {
		w := routeWeights(ctx, bed, s.ns, app)
		return w[app+"-blue"] == 100 && w[app+"-green"] == 0, nil
	}); err != nil {
		t.Fatal(err)
	}

	// Green healthy again, and 25% shifted by hand (or left by an
	// interrupted run): the promotion resumes after 25%.
	exp.SetRate(fmt.Sprintf(series, "500"), 0)
	time.Sleep(4 * time.Second) // the bad samples leave the 3 s window
	s.must(ctx, 0, "shift", "--weight", "25", "--reconcile", "kustomization/flux-system/steps", "--repo", url, "--path", appPath)
	steps[4] = "1s"
	out, errOut := s.must(ctx, 0, append(steps, "-o", "json")...)
	if !strings.Contains(errOut, "resuming: Git already sends 25% to green; next step 50%") {
		t.Errorf("the re-run does not say it resumes:\n%s", errOut)
	}
	var res struct {
		Steps []struct {
			Weight int `json:"weight"`
			Result struct {
				Commit string `json:"commit"`
			} `json:"result"`
			Seconds float64 `json:"seconds"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Steps) != 2 {
		t.Fatalf("-o json: %v\n%s\n%s", err, out, errOut)
	}
	for i, want := range []int{50, 100} {
		if st := res.Steps[i]; st.Weight != want || st.Result.Commit == "" || st.Seconds <= 0 {
			t.Errorf("step %d: %+v", i, st)
		}
	}
	s.waitServes(ctx, app, "green", 3)
	if w := routeWeights(ctx, bed, s.ns, app); w[app+"-green"] != 100 || w[app+"-blue"] != 0 {
		t.Errorf("after the promotion the route says %v", w)
	}

	// status shows the split and the Gateway's verdict, and compares the
	// weights with Git.
	out, _ = s.must(ctx, 0, "status", app, "--repo", url, "--path", appPath, "-o", "json")
	var st struct {
		Traffic *struct {
			Weights map[string]int `json:"weights"`
			Parents []string       `json:"parents"`
		} `json:"traffic"`
		Git struct {
			Drift []string `json:"drift"`
		} `json:"git"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Traffic == nil || st.Traffic.Weights["green"] != 100 || st.Traffic.Weights["blue"] != 0 ||
		len(st.Traffic.Parents) != 1 || st.Traffic.Parents[0] != "public: accepted" || len(st.Git.Drift) != 0 {
		t.Errorf("status: %v\n%s", err, out)
	}
	text, _ := s.must(ctx, 0, "status", app, "-n", s.ns)
	if !strings.Contains(text, "traffic: HTTPRoute my-application: blue 0%, green 100% (public: accepted)") {
		t.Errorf("status:\n%s", text)
	}
}
