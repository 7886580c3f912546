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

// autoscalers are the article's colors with an autoscaler each: blue has
// grown (its minimum is 6, as if the load had raised it), green sits at 2.
const autoscalers = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: application-blue
  namespace: production
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: application-blue}
  minReplicas: 6
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: application-green
  namespace: production
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: application-green}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
`

// TestCapacityBeforeFlip: with an autoscaler on each color and the
// Deployments' replicas left to them, the real HPA controller scales
// blue to 6 and green to 2; promote --wait-live reads that and refuses
// (exit 3, both figures, nothing committed) — with no cluster flag, since
// the folder's autoscalers make a flip check capacity; once green's floor is raised
// in Git to 6 and the controller has scaled it, the promotion passes the
// gate and goes live.
func TestCapacityBeforeFlip(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "capacity", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	folder := filepath.Join(work, filepath.FromSlash(appPath))
	for _, c := range []string{"blue", "green"} { // the autoscaler owns replicas
		p := filepath.Join(folder, "deployment-"+c+".yaml")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), "  replicas: 3\n", "", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hpa := strings.ReplaceAll(autoscalers, "namespace: production", "namespace: "+s.ns)
	if err := os.WriteFile(filepath.Join(folder, "hpa.yaml"), []byte(hpa), 0o644); err != nil {
		t.Fatal(err)
	}
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name, svc = "capacity", "application-service"
	s.fluxSync(ctx, url, name)
	waitReady := func(c string, n int32) {
		t.Helper()
		if err := loop.WaitFor(ctx, fmt.Sprintf("application-%s with %d ready pods", c, n), func(ctx context.Context) (bool, error) {
			d, err := bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, "application-"+c, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			return d.Status.ReadyReplicas == n, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitReady("blue", 6)
	waitReady("green", 2)
	s.waitServes(ctx, svc, "blue", 6)

	repo := []string{"--repo", url, "--path", appPath}
	live := []string{"--reconcile", "kustomization/flux-system/" + name, "--wait-live"}
	before := git.CommitCount(t, "gitops", "main")
	// No cluster flag: the folder's autoscalers make promote read the
	// cluster all the same.
	_, errOut := s.must(ctx, 3, append([]string{"promote"}, repo...)...)
	if !strings.Contains(errOut, "capacity gate refused: Deployment application-green has 2 ready pods; taking 100% of the traffic from application-blue, which runs 6 (desired replicas of HorizontalPodAutoscaler application-blue), needs 6") ||
		!strings.Contains(errOut, "nothing committed") {
		t.Errorf("promote onto 2 pods of 6:\n%s", errOut)
	}
	if n := git.CommitCount(t, "gitops", "main"); n != before {
		t.Errorf("a refused promote committed: %d commits, want %d", n, before)
	}
	// --match-capacity raises green's floor to what blue runs, waits for
	// the pods, flips, and gives the floor back to green's autoscaler:
	// three commits, and the Service never has fewer ready endpoints than
	// blue's 6.
	w := s.watchServiceEndpoints(ctx, svc)
	w.arm(6)
	out, errOut := s.must(ctx, 0, append(append([]string{"promote", "--match-capacity"}, repo...), live...)...)
	for _, want := range []string{
		"raise green's minReplicas from 2 to 6 to match the live color (HorizontalPodAutoscaler application-green)",
		"match-capacity: application-green has 6 ready pods",
		"capacity: green: 6 ready, 6 needed",
		"serves green, 6 ready endpoints",
		"restore green's minReplicas to 2",
	} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("promote --match-capacity: output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if n := git.CommitCount(t, "gitops", "main"); n != before+3 {
		t.Errorf("promote --match-capacity: %d commits, want %d (raise, flip, restore)", n, before+3)
	}
	if min, _ := w.result(); min < 6 {
		t.Errorf("the Service had %d ready endpoints at one moment; want at least 6", min)
	}
	hpaNow := gittest.Git(t, git.RepoDir("gitops"), "show", "main:"+appPath+"/hpa.yaml") + "\n"
	if hpaNow != hpa {
		t.Errorf("after the restore, hpa.yaml is not as it was:\n%s", hpaNow)
	}
	// Flux applies the restore with no drift; the autoscaler keeps green
	// (now live) at the 6 it runs, within its 2..10.
	s.reconcileNow(ctx, name)
	s.waitKustomization(ctx, name, "True", "main@sha1:"+git.Head(t, "gitops", "main"))
	waitReady("green", 6)
}
