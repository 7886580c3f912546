package loop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestPlainMigration: the article's plain folder with a Job marked
// bgrender.io/migration: expand, applied by Flux; kwok runs its pod and
// the real Job controller completes it. deploy --wait of v2 renames the
// Job for v2 in the same commit, waits for it to succeed and then for the
// rollout; Flux prunes the Job of the old image; promote passes its
// migration gate.
func TestPlainMigration(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "plain-migration", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain-migration", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml", "job-migrate.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name, svc = "plain-migration", "application-service"
	s.fluxSync(ctx, url, name, "application-blue", "application-green")
	s.waitServes(ctx, svc, "blue", 3)
	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + name}

	_, errOut := s.must(ctx, 0, append(append([]string{"deploy", "--image", "myapp:v2", "--wait", "--rollout-timeout", "2m"}, repo...), reconcile...)...)
	v2 := s.migrationJob(ctx, "", "myapp:v2")
	if v2 == nil || !jobDone(v2, batchv1.JobComplete) || !strings.HasPrefix(v2.Name, "application-migrate-expand-") {
		t.Fatalf("when deploy --wait returned, the expand Job of myapp:v2 had not completed: %+v", v2)
	}
	migrated, rolled := strings.Index(errOut, "migration: the expand Job "+v2.Name+" succeeded"), strings.Index(errOut, "rollout:")
	if migrated < 0 || rolled < migrated {
		t.Errorf("deploy --wait: want the Job's success (at %d) before the rollout (at %d):\n%s", migrated, rolled, errOut)
	}
	if err := loop.WaitFor(ctx, "Flux to prune the Job application-migrate", func(ctx context.Context) (bool, error) {
		_, err := bed.Clientset().BatchV1().Jobs(s.ns).Get(ctx, "application-migrate", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Fatal(err)
	}

	_, errOut = s.must(ctx, 0, append(append([]string{"promote"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "migration: green: the expand Job "+v2.Name+" succeeded") {
		t.Errorf("promote: no migration gate on green:\n%s", errOut)
	}
	s.waitServes(ctx, svc, "green", 3)
	s.reconcileNow(ctx, name)
	s.waitKustomization(ctx, name, "True", "main@sha1:"+git.Head(t, "gitops", "main"))
}
