package loop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// expandSpec is the seed's spec.migrations: an expand Job run with each
// new image.
const expandSpec = "  migrations:\n    expand:\n      command: [/app/migrate, up]\n"

// TestExpandMigration: a managed folder with spec.migrations.expand,
// applied by Flux; kwok runs the Jobs' pods and the real Job controller
// marks them done. deploy --wait of v2 commits the image and its expand
// Job together, waits for the Job to succeed and then for the rollout;
// promote passes its migration gate. A deploy whose migration fails is
// exit 1 with the Job's conditions; promote then refuses (exit 3, naming
// the Job) and nothing flips. The fix, a release of v3, runs its own Job
// and promotes; Flux prunes the failed Job with the image it ran.
func TestExpandMigration(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "migrations", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, expandSpec)
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name = "migrations"
	s.fluxSync(ctx, url, name, app+"-blue", app+"-green")
	s.waitServes(ctx, app, "blue", 3)
	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + name}
	commits := func() int { return git.CommitCount(t, "gitops", "main") }

	// deploy --wait: the Job of v2 succeeds, then green rolls out.
	_, errOut := s.must(ctx, 0, append(append([]string{"deploy", "--image", "myapp:v2", "--wait", "--rollout-timeout", "2m"}, repo...), reconcile...)...)
	v2 := s.expandJob(ctx, "myapp:v2")
	if v2 == nil || !jobDone(v2, batchv1.JobComplete) {
		t.Fatalf("when deploy --wait returned, the expand Job of myapp:v2 had not completed: %+v", v2)
	}
	migrated, rolled := strings.Index(errOut, "migration: the expand Job "+v2.Name+" succeeded"), strings.Index(errOut, "rollout:")
	if migrated < 0 || rolled < migrated {
		t.Errorf("deploy --wait: want the Job's success (at %d) before the rollout (at %d):\n%s", migrated, rolled, errOut)
	}
	tree := gittest.Git(t, git.RepoDir("gitops"), "ls-tree", "--name-only", "main", appPath+"/")
	if !strings.Contains(tree, "job-"+v2.Name+".yaml") {
		t.Errorf("the deploy's commit lacks the Job %s:\n%s", v2.Name, tree)
	}

	// promote passes its migration gate.
	_, errOut = s.must(ctx, 0, append(append([]string{"promote"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "migration: green: the expand Job "+v2.Name+" succeeded") {
		t.Errorf("promote: no migration gate on green:\n%s", errOut)
	}
	s.waitServes(ctx, app, "green", 3)

	// A migration that fails: deploy --wait is exit 1 with the Job's
	// conditions and its pod's log, read through the API server (kwok
	// serves no log: the error says why there is none); the deploy stays
	// in Git.
	before := commits()
	_, errOut = s.must(ctx, 1, append(append([]string{"deploy", "--image", "myapp:failing-migration", "--wait", "--rollout-timeout", "2m"}, repo...), reconcile...)...)
	broken := s.expandJob(ctx, "myapp:failing-migration")
	if broken == nil || !jobDone(broken, batchv1.JobFailed) {
		t.Fatalf("the expand Job of myapp:failing-migration did not fail: %+v", broken)
	}
	for _, want := range []string{"Job " + s.ns + "/" + broken.Name + " failed: ", "Failed=True: BackoffLimitExceeded", "log of pod " + broken.Name + "-", "the deploy stays"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("deploy of a failing migration: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := commits(); n != before+1 {
		t.Errorf("%d commits after the failed deploy, want %d (the deploy stays)", n, before+1)
	}

	// promote refuses blue: its image's expand Job failed. Nothing flips.
	before = commits()
	_, errOut = s.must(ctx, 3, append([]string{"promote"}, repo...)...)
	if !strings.Contains(errOut, "migration gate refused: the expand Job "+s.ns+"/"+broken.Name+" of blue's image failed") || !strings.Contains(errOut, "nothing committed") {
		t.Errorf("promote onto a failed migration:\n%s", errOut)
	}
	if n := commits(); n != before {
		t.Errorf("a refused promote committed: %d commits, want %d", n, before)
	}
	s.waitServes(ctx, app, "green", 3)

	// The fix is a new image: release deploys it, waits for its expand
	// Job, rolls it out and promotes it. The failed Job's image is no
	// color's any more: it left the folder, and Flux prunes it.
	_, errOut = s.must(ctx, 0, append(append([]string{"release", "--image", "myapp:v3", "--rollout-timeout", "2m"}, repo...), reconcile...)...)
	v3 := s.expandJob(ctx, "myapp:v3")
	if v3 == nil || !jobDone(v3, batchv1.JobComplete) || !strings.Contains(errOut, "migration: the expand Job "+v3.Name+" succeeded") {
		t.Fatalf("release of myapp:v3: its expand Job %+v\n%s", v3, errOut)
	}
	s.waitServes(ctx, app, "blue", 3)
	if err := loop.WaitFor(ctx, "Flux to prune the failed Job "+broken.Name, func(ctx context.Context) (bool, error) {
		return s.expandJob(ctx, "myapp:failing-migration") == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// expandJob returns the expand Job rendered for image, once the cluster
// has it.
func (s *story) expandJob(ctx context.Context, image string) *batchv1.Job {
	s.t.Helper()
	list, err := s.bed.Clientset().BatchV1().Jobs(s.ns).List(ctx, metav1.ListOptions{LabelSelector: "bgrender.io/migration=expand"})
	if err != nil {
		s.t.Fatal(err)
	}
	for i, j := range list.Items {
		if j.Annotations["bgrender.io/image"] == image {
			return &list.Items[i]
		}
	}
	return nil
}

func jobDone(j *batchv1.Job, kind batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == kind && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
