package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
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

// commitFile writes content to name in the app folder on main, as a
// person editing the GitOps repository would.
func (r *gitopsRepo) commitFile(t *testing.T, name, content string) {
	t.Helper()
	dir := r.srv.Clone(t, r.name)
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(appPath), name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, r.srv.RepoDir(r.name), dir, "edit "+name)
}

// setSpecGates puts gates (the lines under spec.gates, indented by four)
// at the end of the app folder's bgrender.yaml, replacing earlier ones.
func (r *gitopsRepo) setSpecGates(t *testing.T, gates string) {
	t.Helper()
	doc, _, _ := strings.Cut(r.file(t, promote.SpecFile), "\n  gates:\n")
	r.commitFile(t, promote.SpecFile, strings.TrimRight(doc, "\n")+"\n  gates:\n"+gates)
}

// TestPromoteSpecGates runs promote and deploy --wait with the gates of
// the app folder, against a real API server, a real Prometheus and a real
// Git server: spec.gates run with no gate flag; a flag overrides one
// setting (the flag wins, and --dry-run -o json shows where every setting
// came from); --no-spec-gates leaves them out; a plain folder's
// bgrender.gates is read the same way.
func TestPromoteSpecGates(t *testing.T) {
	srv := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="green",code="%s"}`
	exp.SetRate(strings.Replace(series, "%s", "200", 1), 99.5)
	exp.SetRate(strings.Replace(series, "%s", "500", 1), 0.5) // 0.5% errors
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-spec-gates")
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()
	cl := []string{"--kubeconfig", kubeconfig, "-n", ns}
	r := newGitopsRepoIn(t, "managed", ns)
	r.setSpecGates(t, "    rollout:\n      timeout: 1s\n")
	before := r.commits(t)

	// No gate flag: the spec's rollout gate runs, with the spec's timeout.
	res := r.run(t, append([]string{"promote"}, cl...)...)
	expectRun(t, "promote with the spec's rollout gate", res, exitcode.Refused, "",
		"bgrender promote: gates rollout (from bgrender.yaml spec.gates)",
		"rollout gate refused: deployment "+ns+"/my-application-green not rolled out after 1s", "; nothing committed")
	// --no-spec-gates: nothing runs, the dry run shows the flip.
	res = r.run(t, append([]string{"promote", "--no-spec-gates", "--dry-run"}, cl...)...)
	expectRun(t, "promote --no-spec-gates", res, 0, "-  active: blue", "dry run: nothing pushed")
	if strings.Contains(res.stderr, "gate") {
		t.Errorf("--no-spec-gates ran gates: %s", res.stderr)
	}
	// A flag turns the one gate off.
	expectRun(t, "--require-rollout=false", r.run(t, append([]string{"promote", "--require-rollout=false", "--dry-run"}, cl...)...), 0, "+  active: green")

	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	r.setSpecGates(t, fmt.Sprintf(`    rollout:
      timeout: 5s
    errorRate:
      prometheusURL: %s
      maxPercent: 0.2
      window: 5s
      count: 2
      interval: 500ms
`, prom.URL))
	before = r.commits(t)
	// The spec's maximum, 0.2%, refuses the 0.5% the color has.
	res = r.run(t, append([]string{"promote"}, cl...)...)
	expectRun(t, "promote over the spec's maximum", res, exitcode.Refused, "",
		"bgrender promote: gates rollout, error-rate (from bgrender.yaml spec.gates)",
		"error-rate: 2 measurements, 500ms apart, at most 0 failed",
		"error-rate gate refused: measurement 1 of 2: error rate 0.5% is not under the maximum 0.2%", "; nothing committed")

	// The flag wins over the spec, and the dry run says so, setting by setting.
	res = r.run(t, append([]string{"promote", "--dry-run", "-o", "json", "--max-error-rate", "1", "--rollout-timeout", "7s"}, cl...)...)
	if res.code != 0 {
		t.Fatalf("dry run with a flag over the spec: exit %d\n%s", res.code, res.stderr)
	}
	var out struct {
		DryRun bool           `json:"dryRun"`
		Gates  gate.Effective `json:"gates"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	line := func(field string) string {
		for i, l := range strings.Split(r.file(t, promote.SpecFile), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), field+":") {
				return fmt.Sprintf("bgrender.yaml:%d spec.gates.", i+1)
			}
		}
		t.Fatalf("%s not in bgrender.yaml", field)
		return ""
	}
	want := map[string]gate.Setting{
		"rollout":                 {Value: true, Source: "spec", From: line("rollout") + "rollout"},
		"rollout.timeout":         {Value: "7s", Source: "flag", From: "--rollout-timeout"},
		"errorRate.maxPercent":    {Value: 1.0, Source: "flag", From: "--max-error-rate"},
		"errorRate.prometheusURL": {Value: prom.URL, Source: "spec", From: line("prometheusURL") + "errorRate.prometheusURL"},
		"errorRate.window":        {Value: "5s", Source: "spec", From: line("window") + "errorRate.window"},
		"errorRate.count":         {Value: 2.0, Source: "spec", From: line("count") + "errorRate.count"},
		"errorRate.interval":      {Value: "500ms", Source: "spec", From: line("interval") + "errorRate.interval"},
		"errorRate.failureLimit":  {Value: 0.0, Source: "default", From: "bgrender.yaml spec.gates.errorRate.failureLimit"},
		"errorRate.noData":        {Value: "block", Source: "default", From: "bgrender.yaml spec.gates.errorRate.noData"},
	}
	if !out.DryRun || out.Gates.Spec != "bgrender.yaml spec.gates" || strings.Join(out.Gates.Run, ",") != "rollout,error-rate" || len(out.Gates.Settings) != len(want) {
		t.Errorf("gates: %+v", out.Gates)
	}
	for k, w := range want {
		if got := out.Gates.Settings[k]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %+v, want %+v", k, got, w)
		}
	}
	t.Logf("promote --dry-run -o json --max-error-rate 1 --rollout-timeout 7s:\n%s", res.stdout)

	// For real: the flag's maximum passes, the flip is committed.
	res = r.run(t, append([]string{"promote", "--max-error-rate", "1"}, cl...)...)
	expectRun(t, "promote with the flag's maximum", res, 0, "promote my-application: switch traffic from blue to green; committed",
		"(from bgrender.yaml spec.gates; overridden by --max-error-rate)",
		"error-rate: measurement 2 of 2: 0.5% (maximum 1%)", "my-application green passed rollout, error-rate")
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits, want %d", n, before+1)
	}

	// deploy --wait runs the spec's gates after its commit: the rollout
	// wait is the spec's 5s.
	res = r.run(t, append([]string{"deploy", "--image", "myapp:v9", "--wait"}, cl...)...)
	expectRun(t, "deploy --wait with the spec's gates", res, exitcode.Refused, "deploy my-application: run myapp:v9 on blue; committed",
		"bgrender deploy: gates rollout, error-rate (from bgrender.yaml spec.gates)",
		"rollout gate refused: deployment "+ns+"/my-application-blue not rolled out after 5s: waiting for image myapp:v9", "; the deploy stays")

	// A spec whose gates the flags make contradictory is bad usage.
	expectRun(t, "flag against the spec", r.run(t, append([]string{"promote", "--failure-limit", "2"}, cl...)...), exitcode.Invalid, "",
		"--failure-limit 2 must be less than --measurements (2)", "(with the gates of bgrender.yaml spec.gates); nothing committed")

	t.Run("plain folder", func(t *testing.T) {
		p := newGitopsRepoIn(t, "plain", ns)
		before := p.commits(t)
		p.commitFile(t, spec.GatesFile, "# the gates of this folder\nrollout: {timeout: 1s}\nerrorRate:\n  prometheusURL: "+prom.URL+"\n  maxPercent: 0.2\n  window: 5s\n")
		// green is rolled out; the error rate refuses.
		res := p.run(t, append([]string{"promote", "--app", "my-application", "--to", "green"}, cl...)...)
		expectRun(t, "plain promote with bgrender.gates", res, exitcode.Refused, "",
			"gates rollout, error-rate (from bgrender.gates)", "error-rate gate refused: error rate 0.5% is not under the maximum 0.2%", "; nothing committed")
		res = p.run(t, append([]string{"promote", "--app", "my-application", "--to", "green", "--max-error-rate", "1"}, cl...)...)
		expectRun(t, "plain promote, flag over bgrender.gates", res, 0, "committed", "my-application green passed rollout, error-rate")
		if n := p.commits(t); n != before+2 {
			t.Errorf("%d commits, want %d (the gates file and the flip)", n, before+2)
		}
		p.commitFile(t, spec.GatesFile, "rollout: {timeout: soon}\n")
		expectRun(t, "bad bgrender.gates", p.run(t, append([]string{"promote", "--app", "my-application"}, cl...)...), exitcode.Invalid, "",
			`bgrender.gates:1: rollout.timeout: "soon" is not a duration`)
	})
}
