package loop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// contractSpec adds a contract migration to expandSpec.
const contractSpec = expandSpec + "    contract:\n      command: [/app/migrate, contract]\n"

// TestContractMigration: the expand/contract rule end to end, Flux
// applying every commit. v2 is deployed with its expand Job and promoted;
// a contract while blue still runs v1 is refused; scale-idle 0 retires
// blue, and contract --wait commits the contract Job of v2, which the
// real Job controller runs (kwok completes the pod). Blue scaled up again
// still runs v1, which predates the contract: rollback refuses (exit 3,
// naming the contract); with --force it goes.
func TestContractMigration(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "contract", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", s.managedFolder(ctx, root, contractSpec))
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name = "contract"
	s.fluxSync(ctx, url, name, app+"-blue", app+"-green")
	s.waitServes(ctx, app, "blue", 3)
	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + name}
	commits := func() int { return git.CommitCount(t, "gitops", "main") }

	s.must(ctx, 0, append(append([]string{"deploy", "--image", "myapp:v2", "--wait", "--rollout-timeout", "2m"}, repo...), reconcile...)...)
	s.must(ctx, 0, append(append([]string{"promote"}, repo...), reconcile...)...)
	s.waitServes(ctx, app, "green", 3)

	// Blue still runs v1 on 3 replicas: no contract yet.
	before := commits()
	_, errOut := s.must(ctx, 3, append([]string{"contract"}, repo...)...)
	if !strings.Contains(errOut, "blue still runs myapp:v1.2.3 on 3 replicas: a contract for myapp:v2") || commits() != before {
		t.Errorf("contract before blue is retired (%d commits, want %d):\n%s", commits(), before, errOut)
	}

	// Retired in Git: contract --wait has Flux apply it, waits until no
	// blue pod runs, commits; the Job succeeds before it returns, and the
	// live Service records the image.
	s.must(ctx, 0, append([]string{"scale-idle", "--replicas", "0"}, repo...)...)
	_, errOut = s.must(ctx, 0, append(append([]string{"contract", "--wait", "--job-timeout", "2m"}, repo...), reconcile...)...)
	if retired, job := strings.Index(errOut, "contract: no pod of blue runs: retired"), strings.Index(errOut, "migration: waiting for the contract Job"); retired < 0 || job < retired || strings.Count(errOut, "asked kustomization/flux-system/"+name+" to reconcile") != 2 {
		t.Errorf("contract --wait: want Flux asked to apply the branch, blue retired in the cluster (at %d), then the commit applied and its Job (at %d):\n%s", retired, job, errOut)
	}
	job := s.migrationJob(ctx, "contract", "myapp:v2")
	if job == nil || !jobDone(job, batchv1.JobComplete) || !strings.Contains(errOut, "migration: the contract Job "+job.Name+" succeeded") {
		t.Fatalf("contract --wait: the contract Job %+v\n%s", job, errOut)
	}
	svc, err := bed.Clientset().CoreV1().Services(s.ns).Get(ctx, app, metav1.GetOptions{})
	if err != nil || svc.Annotations["bgrender.io/contracted-image"] != "myapp:v2" {
		t.Fatalf("the live Service does not record the contract: %v %v", err, svc.Annotations)
	}
	out, _ := s.must(ctx, 0, "status", app, "-n", s.ns)
	for _, want := range []string{"contracted for myapp:v2", job.Name} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// Blue back up on v1: a rollback would send traffic to code older
	// than the schema.
	s.must(ctx, 0, append([]string{"scale-idle", "--replicas", "3"}, repo...)...)
	s.reconcileNow(ctx, name)
	if err := loop.WaitFor(ctx, "blue's 3 pods to be ready", func(ctx context.Context) (bool, error) {
		d, err := bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, app+"-blue", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 3, err
	}); err != nil {
		t.Fatal(err)
	}
	before = commits()
	_, errOut = s.must(ctx, 3, append([]string{"rollback"}, repo...)...)
	if !strings.Contains(errOut, "blue runs myapp:v1.2.3, which predates the contract of "+app+"'s schema for myapp:v2") || !strings.Contains(errOut, job.Name) || commits() != before {
		t.Errorf("rollback past the contract (%d commits, want %d):\n%s", commits(), before, errOut)
	}
	s.must(ctx, 0, append(append([]string{"rollback", "--force"}, repo...), reconcile...)...)
	s.waitServes(ctx, app, "blue", 3)
	s.reconcileNow(ctx, name)
	s.waitKustomization(ctx, name, "True", "main@sha1:"+git.Head(t, "gitops", "main"))
}

// migrationJob returns the Job of kind (expand or contract; "": any Job)
// rendered for image, once the cluster has it.
func (s *story) migrationJob(ctx context.Context, kind, image string) *batchv1.Job {
	s.t.Helper()
	var opts metav1.ListOptions
	if kind != "" {
		opts.LabelSelector = "bgrender.io/migration=" + kind
	}
	list, err := s.bed.Clientset().BatchV1().Jobs(s.ns).List(ctx, opts)
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
