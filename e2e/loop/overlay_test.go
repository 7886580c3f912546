package loop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// overlayRepo copies testdata/gitops/overlays (a Flux-style repository:
// apps/base/podinfo shared by the staging and production overlays) into a
// new work tree, with production's namespace set to ns and the base's pods
// tolerating the bed's taint, and returns the work tree.
func overlayRepo(t *testing.T, root, ns string) string {
	t.Helper()
	src := filepath.Join(root, "testdata", "gitops", "overlays")
	work := t.TempDir()
	toleration := "      tolerations:\n        - {key: " + loop.TaintKey + ", operator: Exists, effect: NoSchedule}\n      containers:\n"
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := strings.Replace(string(data), "namespace: podinfo-production\n", "namespace: "+ns+"\n", 1)
		text = strings.Replace(text, "      containers:\n", toleration, 1)
		dst := filepath.Join(work, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, []byte(text), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return work
}

// build runs kustomize build on folder of a clone of the repository, as
// kustomize-controller does.
func build(t *testing.T, git *gittest.Server, folder string) ([]byte, map[string]map[string]any) {
	t.Helper()
	clone := git.Clone(t, "gitops")
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(clone, folder))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		objs[r.GetKind()+"/"+r.GetName()] = obj
	}
	return out, objs
}

// noDrift compares what the cluster runs with production's build at the
// tip: the Services' selectors, each Deployment's image and replicas.
func (s *story) noDrift(ctx context.Context, git *gittest.Server) {
	s.t.Helper()
	_, want := build(s.t, git, "apps/production")
	for _, svc := range []string{"podinfo", "podinfo-preview"} {
		live, err := s.bed.Clientset().CoreV1().Services(s.ns).Get(ctx, svc, metav1.GetOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		sel := want["Service/"+svc]["spec"].(map[string]any)["selector"].(map[string]any)
		if got, w := fmt.Sprint(live.Spec.Selector), fmt.Sprint(sel); got != w {
			s.t.Errorf("drift: Service %s selects %s in the cluster, %s in Git", svc, got, w)
		}
	}
	for _, c := range []string{"blue", "green"} {
		d, err := s.bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, "podinfo-"+c, metav1.GetOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		spec := want["Deployment/podinfo-"+c]["spec"].(map[string]any)
		img := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
		if got := d.Spec.Template.Spec.Containers[0].Image; got != img {
			s.t.Errorf("drift: Deployment podinfo-%s runs %s in the cluster, %v in Git", c, got, img)
		}
		if got := fmt.Sprint(*d.Spec.Replicas); got != fmt.Sprint(spec["replicas"]) {
			s.t.Errorf("drift: Deployment podinfo-%s has %s replicas in the cluster, %v in Git", c, got, spec["replicas"])
		}
	}
}

// waitColor waits until the Service's ready endpoints are n pods of color.
func (s *story) waitColor(ctx context.Context, svc, color string, n int) {
	s.t.Helper()
	if err := loop.WaitFor(ctx, fmt.Sprintf("Service %s to serve %d %s pods", svc, n, color), func(ctx context.Context) (bool, error) {
		names, err := s.bed.ReadyEndpoints(ctx, s.ns, svc)
		if err != nil || len(names) != n {
			return false, err
		}
		for _, name := range names {
			if !strings.HasPrefix(name, "podinfo-"+color+"-") {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		s.t.Fatal(err)
	}
}

// TestOverlayLayout: a kustomize overlay as the app folder, on the loop
// bed with Flux. The repository has the shape of Flux's
// flux2-kustomize-helm-example (apps/base/podinfo with plain blue/green
// manifests, apps/staging and apps/production overlays, production
// patching the image, the replicas and the namespace), and Flux's
// Kustomization applies apps/production. deploy --wait, promote
// --wait-live and rollback --wait-live each commit to the production
// overlay only; Flux applies each commit (Ready at that revision), the
// cluster then matches production's build (no drift), blue's pods are never
// restarted, and staging's build is byte-identical at the end.
func TestOverlayLayout(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "overlay", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", overlayRepo(t, root, s.ns))
	staging, _ := build(t, git, "apps/staging")
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}

	const name = "overlay"
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
		"  name: gitops\n", "  name: "+name+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: "+name+"\n",
		"    name: gitops\n", "    name: "+name+"\n", "path: ./apps/my-application", "path: ./apps/production")); err != nil {
		t.Fatal(err)
	}
	head := func() string { return "main@sha1:" + git.Head(t, "gitops", "main") }
	s.waitKustomization(ctx, name, "True", head())
	for _, c := range []string{"blue", "green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, "podinfo-"+c); err != nil {
			t.Fatal(err)
		}
	}
	s.waitColor(ctx, "podinfo", "blue", 3)
	s.noDrift(ctx, git)
	blue := podsOf(t, ctx, s, "blue")

	repo := []string{"--repo", url, "--path", "apps/production"}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + name}
	s.must(ctx, 0, append(append([]string{"deploy", "--image", "ghcr.io/stefanprodan/podinfo:6.6.0", "--wait"}, repo...), reconcile...)...)
	s.waitKustomization(ctx, name, "True", head())
	s.noDrift(ctx, git)

	_, errOut := s.must(ctx, 0, append(append([]string{"promote", "--wait-live"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/podinfo serves green, 3 ready endpoints") {
		t.Errorf("promote --wait-live:\n%s", errOut)
	}
	s.waitKustomization(ctx, name, "True", head())
	s.waitColor(ctx, "podinfo-preview", "blue", 3)
	s.noDrift(ctx, git)

	_, errOut = s.must(ctx, 0, append(append([]string{"rollback", "--wait-live"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/podinfo serves blue, 3 ready endpoints") {
		t.Errorf("rollback --wait-live:\n%s", errOut)
	}
	s.waitKustomization(ctx, name, "True", head())
	s.noDrift(ctx, git)

	out, _ := s.must(ctx, 0, append([]string{"status", "podinfo", "-n", s.ns, "-o", "json"}, repo...)...)
	var st struct {
		Live string `json:"live"`
		Git  *struct {
			Live  string   `json:"live"`
			Drift []string `json:"drift"`
		} `json:"git"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Live != "blue" || st.Git == nil || st.Git.Live != "blue" || st.Git.Drift == nil || len(st.Git.Drift) != 0 {
		t.Errorf("status --repo: want blue live in the cluster and in Git, no drift; got %v:\n%s", err, out)
	}
	if got := podsOf(t, ctx, s, "blue"); !mapsEqual(got, blue) {
		t.Errorf("blue's pods were restarted: %v, then %v", blue, got)
	}
	if got, _ := build(t, git, "apps/staging"); string(got) != string(staging) {
		t.Errorf("staging's build changed:\n%s", got)
	}
	changed := gittest.Git(t, git.RepoDir("gitops"), "diff", "--name-only", "main~3", "main")
	if changed != "apps/production/bgrender-patch.yaml\napps/production/kustomization.yaml\napps/production/podinfo-patch.yaml" {
		t.Errorf("the three commits changed:\n%s\nwant only files of apps/production", changed)
	}
}

// podsOf returns the names and UIDs of podinfo's pods of a color.
func podsOf(t *testing.T, ctx context.Context, s *story, color string) map[string]string {
	t.Helper()
	return s.podUIDs(ctx, "app=podinfo,version="+color, false)
}
