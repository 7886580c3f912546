package loop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/spec"
)

// gatesFile is the article's folder's gates, as a team would write them.
const gatesFile = `# The gates of this folder, read by bgrender promote, deploy --wait, check
# and guard (the fields of a BlueGreenApp's spec.gates). Flux and Argo CD do
# not apply this file: its name does not end in .yaml, .yml or .json.
rollout:
  timeout: 1m
errorRate:
  prometheusURL: %s
  maxPercent: 1
  window: 5s
  count: 2
  interval: 1s
`

// TestPlainGatesFile proves, with the real kustomize-controller, that the
// article's plain folder (no kustomization.yaml: Flux generates one from
// every .yaml and .yml file) still reconciles Ready with bgrender.gates
// beside the manifests, applies nothing of it, and that promote runs the
// gates it declares: rollout and a real Prometheus's error rate, which
// passes for green and refuses a later promotion to blue; nothing is
// committed on a refusal. As a control, the same content in a .yaml file
// makes the Kustomization fail, which is why the gates file is not one.
func TestPlainGatesFile(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	exp := promtest.NewExporter()
	series := func(color, code string) string {
		return fmt.Sprintf(`http_requests_total{app_kubernetes_io_name="application-service",version=%q,code=%q}`, color, code)
	}
	for _, c := range []string{"blue", "green"} {
		exp.SetRate(series(c, "200"), 99.5)
		exp.SetRate(series(c, "500"), 0.5)
	}
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "gates-file", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	folder := filepath.Join(work, filepath.FromSlash(appPath))
	gates := fmt.Sprintf(gatesFile, prom.URL)
	if err := os.WriteFile(filepath.Join(folder, spec.GatesFile), []byte(gates), 0o644); err != nil {
		t.Fatal(err)
	}
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name = "gates-file"
	s.fluxSync(ctx, url, name)
	head := func() string { return "main@sha1:" + git.Head(t, "gitops", "main") }
	k := s.waitKustomization(ctx, name, "True", head())
	if inv := inventory(k); !slices.Equal(inv, []string{
		s.ns + "_application-blue_apps_Deployment", s.ns + "_application-green_apps_Deployment", s.ns + "_application-service__Service",
	}) {
		t.Errorf("the Kustomization applied %v; want the Service and the two Deployments, nothing of %s", inv, spec.GatesFile)
	}
	for _, c := range []string{"blue", "green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, "application-"+c); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="application-service"}[5s])`)
	waitCancel()

	// promote with no gate flag: the folder's gates run, then the flip.
	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + name, "--wait-live"}
	_, errOut := s.must(ctx, 0, append(append([]string{"promote", "--to", "green"}, repo...), reconcile...)...)
	for _, want := range []string{
		"bgrender promote: gates rollout, capacity, error-rate (from bgrender.gates)",
		"error-rate: measurement 2 of 2: 0.5% (maximum 1%)",
		"application-service green passed rollout, capacity, error-rate",
		"live: Service " + s.ns + "/application-service serves green, 3 ready endpoints",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("promote: stderr lacks %q:\n%s", want, errOut)
		}
	}
	s.waitKustomization(ctx, name, "True", head())

	// Blue's error rate rises: the next promotion, to blue, is refused.
	exp.SetRate(series("blue", "500"), 10)
	waitCtx, waitCancel = context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	if err := loop.WaitFor(waitCtx, "blue's error rate over 1%", func(ctx context.Context) (bool, error) {
		time.Sleep(500 * time.Millisecond) // a scrape is a second apart
		code, _, _ := s.run(ctx, "check", "application-service", "-n", s.ns, "--color", "blue", "--prometheus-url", prom.URL, "--max-error-rate", "1", "--window", "5s")
		return code == 3, nil
	}); err != nil {
		t.Fatal(err)
	}
	before := git.CommitCount(t, "gitops", "main")
	_, errOut = s.must(ctx, 3, append([]string{"promote", "--to", "blue"}, repo...)...)
	if !strings.Contains(errOut, "error-rate gate refused: measurement 1 of 2: error rate") || !strings.Contains(errOut, "nothing committed") {
		t.Errorf("promote to blue: %s", errOut)
	}
	if n := git.CommitCount(t, "gitops", "main"); n != before {
		t.Errorf("a refused promote committed: %d commits, want %d", n, before)
	}

	// The control: the same gates in a .yaml file break Flux's generated
	// kustomization, as kustomize-controller decodes every .yaml file.
	clone := git.Clone(t, "gitops")
	if err := os.WriteFile(filepath.Join(clone, filepath.FromSlash(appPath), "gates.yaml"), []byte(gates), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, git.RepoDir("gitops"), clone, "gates as YAML")
	s.reconcileNow(ctx, name)
	k = s.waitKustomization(ctx, name, "False", "")
	if msg := readyMessage(k); !strings.Contains(msg, "failed to decode Kubernetes YAML") || !strings.Contains(msg, "gates.yaml") {
		t.Errorf("with gates.yaml, the Kustomization says %q; want kustomize-controller's decode failure", msg)
	}
	if err := os.Remove(filepath.Join(clone, filepath.FromSlash(appPath), "gates.yaml")); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, git.RepoDir("gitops"), clone, "gates as bgrender.gates only")
	s.reconcileNow(ctx, name)
	s.waitKustomization(ctx, name, "True", head())
}

// reconcileNow asks Flux to fetch the repository and apply the folder now.
func (s *story) reconcileNow(ctx context.Context, name string) {
	s.t.Helper()
	if err := s.bed.RequestReconcile(ctx, loop.GitRepositoryGVR, loop.FluxNamespace, name); err != nil {
		s.t.Fatal(err)
	}
	if err := s.bed.RequestReconcile(ctx, loop.KustomizationGVR, loop.FluxNamespace, name); err != nil {
		s.t.Fatal(err)
	}
}

// waitKustomization waits until the Kustomization's Ready condition is
// status (and, when revision is set, its last applied revision is it).
func (s *story) waitKustomization(ctx context.Context, name, status, revision string) *unstructured.Unstructured {
	s.t.Helper()
	var k *unstructured.Unstructured
	start := time.Now()
	err := loop.WaitFor(ctx, fmt.Sprintf("Kustomization %s Ready=%s at %s", name, status, revision), func(ctx context.Context) (bool, error) {
		var err error
		k, err = s.bed.Dynamic().Resource(loop.KustomizationGVR).Namespace(loop.FluxNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		return readyStatus(k) == status && (revision == "" || got == revision), nil
	})
	if err != nil {
		s.t.Fatalf("%v (last seen: %v)", err, k.Object["status"])
	}
	s.t.Logf("Kustomization %s: Ready=%s after %s: %s", name, status, loop.Since(start), readyMessage(k))
	return k
}

func readyCondition(k *unstructured.Unstructured) map[string]any {
	conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			return m
		}
	}
	return nil
}

func readyStatus(k *unstructured.Unstructured) string {
	s, _ := readyCondition(k)["status"].(string)
	return s
}

func readyMessage(k *unstructured.Unstructured) string {
	s, _ := readyCondition(k)["message"].(string)
	return s
}

// inventory lists the IDs of the objects the Kustomization applied.
func inventory(k *unstructured.Unstructured) []string {
	entries, _, _ := unstructured.NestedSlice(k.Object, "status", "inventory", "entries")
	var ids []string
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok {
			id, _ := m["id"].(string)
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestSteppedPromotionSpecGates: promote --steps with the gates of
// bgrender.yaml and a flag over one of them, on the loop bed with Flux
// and a real Prometheus. The hold after the first step reads the error
// rate with the effective gates (the spec's URL, query and window, the
// flag's maximum): green at 3% errors passes the spec's 5% but not the
// flag's 1%, so the hold refuses and the weight returns to 0. The re-run
// with the spec alone promotes in both steps.
func TestSteppedPromotionSpecGates(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	gatewayCRDs(t, ctx, bed)
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "steps-gates", nil)
	go actAsGateway(ctx, bed, s.ns)
	exp := promtest.NewExporter()
	series := `http_requests_total{app_kubernetes_io_name="` + app + `",version="green",code="%s"}`
	exp.SetRate(fmt.Sprintf(series, "200"), 100)
	exp.SetRate(fmt.Sprintf(series, "500"), 0.1)
	prom := promtest.Start(t, exp)

	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "  traffic:\n    weight: 0\n    gateway:\n      parentRefs: [{name: public, namespace: gateway-system}]\n"+
		"  gates:\n    rollout: {timeout: 1m}\n    errorRate:\n      prometheusURL: "+prom.URL+"\n      maxPercent: 5\n      window: 3s\n")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name = "steps-gates"
	s.fluxSync(ctx, url, name, app+"-blue", app+"-green")
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="`+app+`"}[3s])`)
	waitCancel()
	// Green's errors rise to 3% once the route carries 50%.
	risen := make(chan struct{})
	go func() {
		for ctx.Err() == nil {
			if routeWeights(ctx, bed, s.ns, app)[app+"-green"] == 50 {
				exp.SetRate(fmt.Sprintf(series, "200"), 97)
				exp.SetRate(fmt.Sprintf(series, "500"), 3)
				close(risen)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	steps := []string{"promote", "--steps", "50,100", "--step-wait", "6s", "--step-interval", "500ms",
		"--reconcile", "kustomization/flux-system/" + name, "--live-timeout", "1m", "--repo", url, "--path", appPath}
	_, errOut := s.must(ctx, 3, append(steps, "--max-error-rate", "1")...)
	<-risen
	for _, want := range []string{
		"gates rollout, capacity, error-rate (from bgrender.yaml spec.gates; overridden by --max-error-rate)",
		"step 1 (50%)", "is not under the maximum 1%", "traffic returned to blue",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refused hold: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if err := loop.WaitFor(ctx, "the route to return to blue", func(ctx context.Context) (bool, error) {
		w := routeWeights(ctx, bed, s.ns, app)
		return w[app+"-blue"] == 100 && w[app+"-green"] == 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	// The spec alone: 3% is under its 5%, before each step and in the hold.
	_, errOut = s.must(ctx, 0, steps...)
	if !strings.Contains(errOut, "error-rate: 3% (maximum 5%)") {
		t.Errorf("the promotion with the spec's gates:\n%s", errOut)
	}
	s.waitServes(ctx, app, "green", 3)
}
