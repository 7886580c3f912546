package loop_test

import (
	"context"
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

// TestChartRenderedIntoGit is the rendered-manifests story with Flux: the
// example chart web is rendered into Git by deploy --chart (both colors),
// promoted to green, its next version rendered again (to blue, the idle
// color) and promoted to blue. Flux applies each commit; the live color's
// pods are never restarted by the second render.
func TestChartRenderedIntoGit(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "chart", nil)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig, "BGRENDER_CHART=" + helmtest.BuildChartRenderer(t)}
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(root, "examples", "charts", "web")
	v2 := filepath.Join(t.TempDir(), "web")
	copyChart(t, v1, v2, `tag: "1.25.0"`, `tag: "1.26.0"`)
	values := filepath.Join(t.TempDir(), "values-bed.yaml")
	if err := os.WriteFile(values, []byte("tolerations:\n  - {key: "+loop.TaintKey+", operator: Exists, effect: NoSchedule}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	seed := t.TempDir()
	if err := os.WriteFile(filepath.Join(seed, "README.md"), []byte("# GitOps\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := gittest.NewServer(t).CreateRepo(t, "gitops", seed)
	const path, flux = "apps/web", "kustomization/flux-system/chart"
	repo := []string{"--repo", url, "--path", path, "-n", s.ns}
	deploy := func(chart string, args ...string) {
		t.Helper()
		s.must(ctx, 0, append(append([]string{"deploy", "--chart", chart, "-f", values}, args...), repo...)...)
	}
	// The first render creates the folder; then Flux is pointed at it, and
	// applies it into the story's namespace (helm template writes no
	// namespace unless the chart does).
	deploy(v1)
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
		"  name: gitops\n", "  name: chart\n", "interval: 1m", "interval: 5s")); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: chart\n",
		"    name: gitops\n", "    name: chart\n", "./apps/my-application", "./"+path, "  prune: true\n", "  prune: true\n  targetNamespace: "+s.ns+"\n")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"web-blue", "web-green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, d); err != nil {
			t.Fatal(err)
		}
	}

	s.must(ctx, 0, append([]string{"promote", "--reconcile", flux, "--wait-live"}, repo...)...)
	green := chartPods(t, ctx, s, "green")
	if len(green) != 2 {
		t.Fatalf("green runs %v, want 2 pods", green)
	}

	deploy(v2, "--reconcile", flux)
	waitImage(t, ctx, s, "web-blue", "nginxinc/nginx-unprivileged:1.26.0")
	if got := chartPods(t, ctx, s, "green"); !mapsEqual(got, green) {
		t.Fatalf("the second render restarted the live color's pods: %v, then %v", green, got)
	}
	if img := deploymentImage(t, ctx, s, "web-green"); img != "nginxinc/nginx-unprivileged:1.25.0" {
		t.Fatalf("the live green Deployment runs %s, want 1.25.0 as before", img)
	}

	s.must(ctx, 0, append([]string{"promote", "--reconcile", flux, "--wait-live"}, repo...)...)
	if got := chartPods(t, ctx, s, "green"); !mapsEqual(got, green) {
		t.Fatalf("the promotion restarted green's pods (now the rollback target): %v, then %v", green, got)
	}
}

// copyChart copies a chart, replacing old with new in its values.yaml and
// bumping its version.
func copyChart(t *testing.T, src, dst, old, new string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		switch rel {
		case "values.yaml":
			text = strings.Replace(text, old, new, 1)
		case "Chart.yaml":
			text = strings.Replace(text, "version: 0.1.0", "version: 0.2.0", 1)
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, []byte(text), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// chartPods returns the names and UIDs of the pods of the chart's color.
func chartPods(t *testing.T, ctx context.Context, s *story, color string) map[string]string {
	t.Helper()
	return s.podUIDs(ctx, "app.kubernetes.io/name=web,bgrender.io/color="+color, false)
}

func deploymentImage(t *testing.T, ctx context.Context, s *story, name string) string {
	t.Helper()
	d, err := s.bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// waitImage waits until Flux applied image to the Deployment and it rolled
// out.
func waitImage(t *testing.T, ctx context.Context, s *story, name, image string) {
	t.Helper()
	if err := loop.WaitFor(ctx, "Deployment "+name+" to run "+image, func(ctx context.Context) (bool, error) {
		d, err := s.bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Spec.Template.Spec.Containers[0].Image == image, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.bed.WaitDeploymentAvailable(ctx, s.ns, name); err != nil {
		t.Fatal(err)
	}
}
