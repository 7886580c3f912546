package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// newAutoscaledRepo serves a repository whose managed app folder (in
// namespace ns) has an autoscaler per color, 2 to 8 pods (the quota's
// limits.cpu raised to hold both colors at 8 with the surge), rendered;
// it returns the spec as configured.
func newAutoscaledRepo(t *testing.T, ns string) (*gitopsRepo, string) {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	app := filepath.Join(seed, filepath.FromSlash(appPath))
	writeLayoutIn(t, app, "managed", ns)
	data, err := os.ReadFile(filepath.Join(app, promote.SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, "\n  replicas: 3\n") || !strings.Contains(s, `limits.cpu: "12"`) {
		t.Fatalf("the seed spec changed:\n%s", s)
	}
	s = strings.Replace(s, "\n  replicas: 3\n", "\n  autoscaling:\n    minReplicas: 2\n    maxReplicas: 8\n", 1)
	s = strings.Replace(s, `limits.cpu: "12"`, `limits.cpu: "18"`, 1)
	// The seed's quota holds both colors at their maxReplicas with a
	// surge of 25%, not of a whole color.
	s = strings.Replace(s, "\n  maxSurge: 100%", "\n  maxSurge: 25%", 1)
	apps, err := spec.Load(promote.SpecFile, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, promote.SpecFile), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(app, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}, s
}

// TestMatchCapacityManaged: promote --match-capacity on a bgrender.yaml
// folder, against a real API server and a real Git server. Blue runs 6
// ready pods, green 2 (the Deployments' status written as the deployment
// controller would). The dry run shows the three commits (golden): green's
// floor raised in spec.green.autoscaling.matchedMinReplicas, the flip, the
// key removed again. The run commits them in that order, waiting between
// the raise and the flip until green has 6 ready pods, and leaves the spec
// as it was but for spec.active.
func TestMatchCapacityManaged(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-match")
	ready := func(name string, n int32) {
		t.Helper()
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, name, func(d *appsv1.Deployment) {
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		}); err != nil {
			t.Fatal(err)
		}
	}
	ready("my-application-blue", 6)
	ready("my-application-green", 2)
	r, configured := newAutoscaledRepo(t, ns)
	cl := []string{"--kubeconfig", kubeconfig, "-n", ns}
	before := r.commits(t)

	res := r.run(t, append([]string{"promote"}, cl...)...)
	expectRun(t, "promote onto 2 pods of 6", res, exitcode.Refused, "", "Deployment my-application-green has 2 ready pods", "needs 6", "nothing committed")

	res = r.mustRun(t, append([]string{"promote", "--match-capacity", "--dry-run"}, cl...)...)
	for _, want := range []string{
		"1. match-capacity: raise green's floor",
		"3. commit: flip the live Service to the idle color",
		"4. settle-floor: wait until green's autoscaler reads the traffic's metrics",
		"5. commit: restore the floor the match raised",
		"dry run: here the run would wait until HorizontalPodAutoscaler my-application-green reads the traffic's metrics",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the dry run's plan lacks %q:\n%s", want, res.stderr)
		}
	}
	golden(t, "gitops/managed-match-capacity-dry-run.diff", []byte(res.stdout))
	if r.commits(t) != before || r.srv.Pushes() != 0 {
		t.Fatal("--dry-run pushed")
	}
	res = r.mustRun(t, append([]string{"promote", "--match-capacity", "--dry-run", "-o", "json"}, cl...)...)
	var rep struct {
		Commits []struct{ Action, Diff string }
		Plan    []struct{ Kind, Status string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, res.stdout)
	}
	var actions, kinds []string
	for _, c := range rep.Commits {
		actions = append(actions, c.Action)
	}
	for _, p := range rep.Plan {
		kinds = append(kinds, p.Kind)
	}
	if got := strings.Join(actions, ","); got != "match-capacity,promote,restore-floor" || len(rep.Commits) != 3 || !strings.Contains(rep.Commits[0].Diff, "+      matchedMinReplicas: 6") {
		t.Errorf("json commits %s: %+v", got, rep.Commits)
	}
	if got := strings.Join(kinds, ","); got != "match-capacity,gates,commit,settle-floor,commit" {
		t.Errorf("json plan: %s", got)
	}

	// The run: the deployment controller's part, green's 6 ready pods,
	// is played once the raise is on the branch.
	go func() {
		for r.commits(t) == before && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		ready("my-application-green", 6)
	}()
	res = r.mustRun(t, append([]string{"promote", "--match-capacity", "--match-timeout", "1m"}, cl...)...)
	for _, want := range []string{
		"match-capacity: my-application-green has 6 ready pods",
		"settle-floor: my-application-green: it is not in the cluster",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("promote --match-capacity lacks %q:\n%s", want, res.stderr)
		}
	}
	if n := r.commits(t); n != before+3 {
		t.Errorf("%d commits, want %d (raise, flip, restore)\n%s", n, before+3, res.stderr)
	}
	if got, want := r.file(t, promote.SpecFile), strings.Replace(configured, "active: blue", "active: green", 1); got != strings.TrimSuffix(want, "\n") { // git show trims the last newline
		t.Errorf("after the restore, %s is not as configured but for spec.active:\n%s\nwant:\n%s", promote.SpecFile, got, want)
	}
	if hpa := r.file(t, "horizontalpodautoscaler-my-application-green.yaml"); !strings.Contains(hpa, "\n  minReplicas: 2\n") {
		t.Errorf("green's HPA after the restore:\n%s", hpa)
	}
}
