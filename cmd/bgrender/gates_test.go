package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// clusterAppForGitops creates my-application (blue live, green preview, one
// replica each) in a new namespace of the test API server and returns a
// kubeconfig for it.
func clusterAppForGitops(t *testing.T, ctx context.Context, srv *kubetest.Server, base string) (kubeconfig, ns string) {
	t.Helper()
	ns = srv.NewNamespace(t, ctx, base, nil)
	app, err := apptest.Spec("my-application", ns, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := apptest.Create(ctx, srv, app); err != nil {
		t.Fatal(err)
	}
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, ns
}

func expectRun(t *testing.T, what string, r result, code int, stdout string, stderr ...string) {
	t.Helper()
	ok := r.code == code && strings.Contains(r.stdout, stdout)
	for _, s := range stderr {
		ok = ok && strings.Contains(r.stderr, s)
	}
	if !ok {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nwant: %q\nstderr: %s\nwant: %q", what, r.code, code, r.stdout, stdout, r.stderr, stderr)
	}
}

// TestPromoteGates runs promote with the rollout gate against a real API
// server and a real Git server: a Deployment that is not rolled out
// refuses (exit 3) and nothing reaches the branch; once its status says
// rolled out, the flip is committed.
func TestPromoteGates(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-promote-gates")
	r := newGitopsRepoIn(t, "managed", ns)
	before := r.commits(t)
	cl := []string{"--kubeconfig", kubeconfig, "-n", ns}

	res := r.run(t, append([]string{"promote", "--require-rollout", "--rollout-timeout", "1s"}, cl...)...)
	expectRun(t, "promote to a color not rolled out", res, exitcode.Refused, "",
		"bgrender promote: my-application green: rollout gate refused: deployment "+ns+"/my-application-green not rolled out after 1s: waiting for the controller to observe generation 1",
		"; nothing committed")
	if res.stdout != "" {
		t.Errorf("a refused promote wrote to stdout: %q", res.stdout)
	}
	if n := r.commits(t); n != before {
		t.Fatalf("a refused promote changed main: %d commits, want %d", n, before)
	}
	if p := r.srv.Pushes(); p != 0 {
		t.Fatalf("a refused promote pushed %d times", p)
	}

	expectRun(t, "gate usage", r.run(t, append([]string{"promote", "--prometheus-url", "http://127.0.0.1:1"}, cl...)...), exitcode.Invalid, "", "needs --max-error-rate")

	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	res = r.run(t, append([]string{"promote", "--require-rollout", "--rollout-timeout", "10s"}, cl...)...)
	expectRun(t, "promote to a rolled-out color", res, 0, "promote my-application: switch traffic from blue to green; committed",
		"bgrender promote: my-application green passed rollout")
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits after a passing promote, want %d", n, before+1)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "promote", "Bgrender-From": "blue", "Bgrender-To": "green"})
}

// applyImage plays Argo CD or Flux and the deployment controller: once
// the Git server's main has more than commits commits, it sets the image
// on the Deployment's pod template (the generation moves on) and then
// writes a complete rollout to its status.
func applyImage(ctx context.Context, srv *kubetest.Server, bare, ns, name, image string, commits int) error {
	for {
		out, err := exec.CommandContext(ctx, "git", "--git-dir", bare, "rev-list", "--count", "refs/heads/main").Output()
		if err != nil {
			return fmt.Errorf("git rev-list: %w", err)
		}
		var n int
		fmt.Sscan(strings.TrimSpace(string(out)), &n) //nolint:errcheck
		if n > commits {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	ri := srv.Dynamic().Resource(cluster.Deployments).Namespace(ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = image
	if err := unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		return err
	}
	if _, err := ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		return err
	}
	// First the new ReplicaSet starts, then it is complete.
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, name, func(d *appsv1.Deployment) {
		apptest.RolledOut(d)
		d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0, 0
	}); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return apptest.SetStatus(ctx, srv.Dynamic(), ns, name, apptest.RolledOut)
}

// TestDeployWait runs deploy --wait against a real Git server and API
// server: when nothing applies the commit, the wait ends in a refusal
// (exit 3) that keeps the commit; when the test applies the image and
// writes the rollout as the controllers would, it exits 0.
func TestDeployWait(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-deploy-wait")
	for _, c := range []string{"blue", "green"} {
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-"+c, apptest.RolledOut); err != nil {
			t.Fatal(err)
		}
	}
	r := newGitopsRepoIn(t, "managed", ns)
	before := r.commits(t)
	deploy := func(image string, extra ...string) result {
		t.Helper()
		args := []string{"deploy", "--image", image, "--color", "green", "--kubeconfig", kubeconfig, "-n", ns}
		return r.run(t, append(args, extra...)...)
	}

	expectRun(t, "gates without --wait", deploy("myapp:v2", "--require-rollout"), exitcode.Invalid, "", "add --wait")
	expectRun(t, "--wait --dry-run", deploy("myapp:v2", "--wait", "--dry-run"), exitcode.Invalid, "", "exclude each other")
	expectRun(t, "--wait --pull-request", deploy("myapp:v2", "--wait", "--pull-request"), exitcode.Invalid, "", "needs --wait-merge")

	// Nobody applies the commit: the Deployment keeps its old image, rolled out.
	res := deploy("myapp:v2", "--wait", "--rollout-timeout", "2s")
	expectRun(t, "deploy that is never applied", res, exitcode.Refused, "deploy my-application: run myapp:v2 on green; committed",
		"bgrender deploy: my-application green: rollout gate refused: deployment "+ns+"/my-application-green not rolled out after 2s: waiting for image myapp:v2 (the pod template runs registry.example/my-application:2)",
		"; the deploy stays (commit ")
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits after the refused wait, want %d (the commit stays)", n, before+1)
	}

	applied := make(chan error, 1)
	go func() {
		applied <- applyImage(ctx, srv, r.srv.RepoDir(r.name), ns, "my-application-green", "myapp:v3", before+1)
	}()
	res = deploy("myapp:v3", "--wait", "--rollout-timeout", "30s")
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	expectRun(t, "deploy that is applied", res, 0, "deploy my-application: run myapp:v3 on green; committed",
		"bgrender deploy: my-application green passed rollout")
	if n := r.commits(t); n != before+2 {
		t.Fatalf("%d commits, want %d", n, before+2)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "deploy", "Bgrender-To": "green", "Bgrender-Image": "myapp:v3"})
}
