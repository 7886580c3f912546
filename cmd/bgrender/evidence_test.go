package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// seedManaged writes a managed app folder for my-application in namespace
// ns under a new seed directory and returns the directory.
func seedManaged(t *testing.T, ns string) string {
	t.Helper()
	seed := t.TempDir()
	app := filepath.Join(seed, filepath.FromSlash(appPath))
	writeManaged(t, app, "my-application")
	setNamespace(t, app, promote.SpecFile, ns)
	data, err := os.ReadFile(filepath.Join(app, promote.SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(app, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	return seed
}

// TestPullRequestEvidenceGitea opens a gated promotion's pull request on a
// real Gitea, with the gates reading a real API server, a real Prometheus
// and a real HTTP health endpoint, and reads the body back through
// Gitea's API: the change in one sentence, both colors as the cluster
// runs them, every gate with its reading and threshold, the gate that did
// not run, the plan and the diff. A re-run with one more gate rewrites the
// same pull request's body and sets its head's commit statuses, read back
// through Gitea's API; -o json carries the same evidence.
func TestPullRequestEvidenceGitea(t *testing.T) {
	kube := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="green",code="%s"}`
	exp.SetRate(fmt.Sprintf(series, "200"), 99.5)
	exp.SetRate(fmt.Sprintf(series, "500"), 0.5) // 0.5% errors
	prom := promtest.Start(t, exp)
	gitea := giteatest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, kube, "cli-evidence")
	for _, c := range []string{"blue", "green"} {
		if err := apptest.SetStatus(ctx, kube.Dynamic(), ns, "my-application-"+c, apptest.RolledOut); err != nil {
			t.Fatal(err)
		}
	}
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	defer health.Close()
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()

	url := gitea.CreateRepo(t, "gitops", seedManaged(t, ns))
	t.Setenv("BGRENDER_GIT_TOKEN", "")
	t.Setenv("GITEA_TOKEN", gitea.Token)
	args := []string{"promote", "--repo", url, "--path", appPath, "--pull-request", "--forge", "gitea", "-o", "json",
		"--kubeconfig", kubeconfig, "-n", ns, "--require-rollout", "--rollout-timeout", "20s", "--health-url", health.URL + "/health",
		"--prometheus-url", prom.URL, "--max-error-rate", "1", "--window", "5s"}
	res := runCLI(t, "", args...)
	if strings.Contains(res.stdout+res.stderr, gitea.Token) {
		t.Fatal("the token was printed")
	}
	first := decodeResult(t, res)
	ev := first.Evidence
	if ev == nil || ev.Action != "promote" || ev.App != "my-application" || ev.Live != "blue" || len(ev.Colors) != 2 || ev.ReadAt.IsZero() {
		t.Fatalf("-o json evidence: %+v\n%s", ev, res.stdout)
	}
	ran := map[string]gate.Result{}
	for _, g := range ev.Gates {
		ran[g.Gate] = g
	}
	for _, name := range []string{"rollout", "capacity", "health", "error-rate"} {
		if g := ran[name]; g.Outcome != gate.Passed || g.Color != "green" || g.Measured == "" {
			t.Errorf("gate %s in -o json: %+v", name, g)
		}
	}
	if rs := ran["error-rate"].Readings; len(rs) != 1 || rs[0].Percent < 0.3 || rs[0].Percent > 0.7 {
		t.Errorf("error-rate readings: %+v", rs)
	}

	var pulls []struct {
		Number int    `json:"number"`
		Body   string `json:"body"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 {
		t.Fatalf("%d pull requests", len(pulls))
	}
	body := pulls[0].Body
	t.Logf("the pull request's body:\n%s", body)
	for _, want := range []string{
		"**promote** of **my-application** (`" + appPath + "`) in namespace `" + ns + "`, opened by bgrender.",
		"Selector blue → green: switch traffic from blue to green.",
		"| blue | **live** | registry.example/my-application:",
		"| green | idle | ",
		"| rollout | green | passed | Deployment my-application-green: ",
		"| capacity | green | passed | ",
		"| health | green | passed | GET " + health.URL + "/health: HTTP 200 after 1 attempt | 2xx or 3xx within 5 attempts |",
		"| error-rate | green | passed | error rate 0.",
		"| under 1% over 5s |",
		"Did not run: warm-up (not asked for",
		"Read at ",
		"<details><summary>Plan: ",
		"commit: flip the live Service to the idle color — *this change*",
		"<details><summary>Diff</summary>",
		"+  active: green",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the body lacks %q", want)
		}
	}

	// A re-run with a warm-up gate rewrites the body of the same pull
	// request, and with --commit-status marks its head: pending while it
	// waits for the review, success once the gates passed.
	res = runCLI(t, "", append(args, "--warm", "/health", "--commit-status")...)
	second := decodeResult(t, res)
	var statuses []struct {
		State       string `json:"status"`
		Context     string `json:"context"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/commits/"+second.Commit+"/statuses?sort=oldest", nil, &statuses)
	var states []string
	for _, s := range statuses {
		if s.Context != "bgrender/my-application" || s.TargetURL != second.PullRequest {
			t.Errorf("status %+v", s)
		}
		states = append(states, s.State+": "+s.Description)
	}
	if got, want := strings.Join(states, "\n"), "pending: waiting for the review\nsuccess: gates passed: rollout, capacity, health, warm-up, error-rate (no wait for the cluster)"; got != want {
		t.Errorf("the statuses of %s:\n%s\nwant:\n%s", second.Commit, got, want)
	}
	if second.PullRequest != first.PullRequest {
		t.Fatalf("the re-run opened %s, want %s", second.PullRequest, first.PullRequest)
	}
	// While the re-run's gates ran, the head they were about to replace
	// was pending, then got the run's outcome.
	if got := giteaStatuses(t, gitea, first.Commit); got != "pending: the gates run again\nsuccess: gates passed: rollout, capacity, health, warm-up, error-rate (no wait for the cluster)" {
		t.Errorf("the statuses of the head during the re-run (%s):\n%s", first.Commit, got)
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 {
		t.Fatalf("%d pull requests after the re-run", len(pulls))
	}
	if body := pulls[0].Body; !strings.Contains(body, "| warm-up | green | passed | 1 requests to /health answered |") || strings.Contains(body, "Did not run: warm-up") {
		t.Errorf("the re-run did not rewrite the body:\n%s", body)
	}

	// A re-run whose gate refuses commits nothing: the head it leaves
	// says so, after pending while the gates ran.
	res = runCLI(t, "", append(args, "--commit-status", "--max-error-rate", "0.1")...)
	expectRun(t, "a refused re-run", res, exitcode.Refused, "", "error rate 0.")
	got := giteaStatuses(t, gitea, second.Commit)
	if want := "pending: waiting for the review\nsuccess: gates passed: rollout, capacity, health, warm-up, error-rate (no wait for the cluster)\npending: the gates run again\nfailure: "; !strings.HasPrefix(got, want) ||
		!strings.Contains(got[len(want):], "error") {
		t.Errorf("the statuses of the head after a refused re-run (%s):\n%s\nwant:\n%s…", second.Commit, got, want)
	}
}

// giteaStatuses lists the statuses of commit sha on Gitea, oldest first,
// one "state: description" a line.
func giteaStatuses(t *testing.T, gitea *giteatest.Server, sha string) string {
	t.Helper()
	var statuses []struct {
		State       string `json:"status"`
		Description string `json:"description"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/commits/"+sha+"/statuses?sort=oldest", nil, &statuses)
	var lines []string
	for _, s := range statuses {
		lines = append(lines, s.State+": "+s.Description)
	}
	return strings.Join(lines, "\n")
}

// editRequest is the forge fake's key for an edit of pull request n.
func editRequest(kind string, n int) string {
	if kind == "github" {
		return fmt.Sprintf("PATCH /repos/acme/gitops/pulls/%d", n)
	}
	return fmt.Sprintf("PUT /api/v4/projects/acme%%2Fgitops/merge_requests/%d", n)
}
