package loop_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestTargetNamespaceLayout: a common Flux layout, where the app folder's
// objects name no namespace and the Kustomization puts them in one
// (spec.targetNamespace). With --reconcile naming that Kustomization and
// no -n, bgrender reads the cluster where Flux applied the objects, not
// in the kubeconfig's namespace: promote and rollback --wait-live see
// their flips go live.
func TestTargetNamespaceLayout(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "target", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	folder := filepath.Join(work, filepath.FromSlash(appPath))
	for _, f := range []string{"service.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
		data, err := os.ReadFile(filepath.Join(folder, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, f), []byte(strings.ReplaceAll(string(data), "  namespace: "+s.ns+"\n", "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name = "target"
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
		"  name: gitops\n", "  name: "+name+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: "+name+"\n",
		"    name: gitops\n", "    name: "+name+"\n", "  prune: true\n", "  prune: true\n  targetNamespace: "+s.ns+"\n")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"application-blue", "application-green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, d); err != nil {
			t.Fatal(err)
		}
	}
	const svc = "application-service"
	s.waitServes(ctx, svc, "blue", 3)

	repo := []string{"--repo", url, "--path", appPath}
	live := []string{"--reconcile", "kustomization/flux-system/" + name, "--wait-live"}
	_, errOut := s.must(ctx, 0, append(append([]string{"promote"}, repo...), live...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+svc+" serves green, 3 ready endpoints") {
		t.Errorf("promote --wait-live:\n%s", errOut)
	}
	_, errOut = s.must(ctx, 0, append(append([]string{"rollback"}, repo...), live...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+svc+" serves blue, 3 ready endpoints") {
		t.Errorf("rollback --wait-live:\n%s", errOut)
	}
}
