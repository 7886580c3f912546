package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// groupRepo serves a GitOps repository with two apps: frontend, a
// bgrender-managed folder, and the article's plain manifests in apps/api.
func groupRepo(t *testing.T) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	writeManaged(t, filepath.Join(seed, "apps", "frontend"), "frontend")
	copyDir(t, "../../testdata/gitops/plain-canary", filepath.Join(seed, "apps", "api"))
	writeOutside(t, seed, 5)
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}

// runGroup runs bgrender on both apps of groupRepo.
func (r *gitopsRepo) runGroup(t *testing.T, args ...string) result {
	t.Helper()
	args = append(args, "--repo", r.url, "--path", "apps/frontend", "--path", "apps/api")
	res := runCLI(t, "", args...)
	if strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatalf("bgrender %v printed the token", args)
	}
	return res
}

// TestGroupPromote: promote --path A --path B flips both apps in one
// commit that names them both; a refusal of one app commits nothing (exit
// 3); rollback takes both back in one commit, and -o json reports each.
func TestGroupPromote(t *testing.T) {
	r := groupRepo(t)
	before := r.commits(t)
	// A dry run shows the one commit's diff, both folders in it.
	res := r.runGroup(t, "promote", "--dry-run")
	if res.code != 0 || !strings.Contains(res.stdout, "apps/frontend/bgrender.yaml") || !strings.Contains(res.stdout, "apps/api/service.yaml") ||
		!strings.Contains(res.stderr, "plan: promote in apps/frontend, in apps/api, 1 step") || r.srv.Pushes() != 0 {
		t.Fatalf("promote --dry-run: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = r.runGroup(t, "promote")
	if res.code != 0 {
		t.Fatalf("promote: exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "promote frontend, application-service: frontend: switch traffic from blue to green; application-service: switch traffic from blue to green; committed") {
		t.Errorf("stdout: %s", res.stdout)
	}
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits, want %d: one for both apps", n, before+1)
	}
	files := strings.Join(r.changedFiles(t), " ")
	for _, f := range []string{"apps/frontend/bgrender.yaml", "apps/frontend/service-frontend.yaml", "apps/api/service.yaml", "apps/api/service-preview.yaml"} {
		if !strings.Contains(files, f) {
			t.Errorf("the commit did not change %s: %s", f, files)
		}
	}
	tr := gittest.Trailers(t, r.srv.RepoDir(r.name), "main")
	if tr["Bgrender-App"] != "frontend, application-service" || tr["Bgrender-Action"] != "promote" || tr["Bgrender-To"] != "green" {
		t.Errorf("trailers %v", tr)
	}
	if !strings.Contains(r.git(t, "show", "main:apps/frontend/bgrender.yaml"), "active: green") || !strings.Contains(r.git(t, "show", "main:apps/api/service.yaml"), "version: green") {
		t.Error("an app was not flipped")
	}

	// A refusal of one app commits nothing: api's blue scaled to 0.
	if res := runCLI(t, "", "scale-idle", "--replicas", "0", "--repo", r.url, "--path", "apps/api"); res.code != 0 {
		t.Fatalf("scale-idle: %s", res.stderr)
	}
	before = r.commits(t)
	res = r.runGroup(t, "rollback")
	if res.code != exitcode.Refused || res.stdout != "" || !strings.Contains(res.stderr, "apps/api") || !strings.Contains(res.stderr, "0 replicas on blue") {
		t.Fatalf("rollback with api's blue at 0: exit %d, stdout %q\n%s", res.code, res.stdout, res.stderr)
	}
	if r.commits(t) != before || !strings.Contains(r.git(t, "show", "main:apps/frontend/bgrender.yaml"), "active: green") {
		t.Fatal("a refused group committed")
	}
	if res := runCLI(t, "", "scale-idle", "--replicas", "3", "--repo", r.url, "--path", "apps/api"); res.code != 0 {
		t.Fatalf("scale-idle: %s", res.stderr)
	}

	// rollback -o json: one commit, each app reported.
	got := decodeResult(t, r.runGroup(t, "rollback", "-o", "json"))
	if got.Commit == "" || got.App != "frontend, application-service" || len(got.Apps) != 2 {
		t.Fatalf("rollback -o json: %+v", got)
	}
	for i, want := range [][2]string{{"frontend", "apps/frontend"}, {"application-service", "apps/api"}} {
		a := got.Apps[i]
		if a.App != want[0] || a.Path != want[1] || a.From != "green" || a.To != "blue" || a.NoOp || !strings.Contains(a.Message, "rollback "+want[0]) {
			t.Errorf("app %d: %+v", i, a)
		}
	}

	// One app already there: the commit holds the other.
	if res := runCLI(t, "", "promote", "--repo", r.url, "--path", "apps/api"); res.code != 0 {
		t.Fatalf("promote api: %s", res.stderr)
	}
	res = r.runGroup(t, "promote", "--to", "green")
	if res.code != 0 || !strings.Contains(res.stdout, "promote frontend: switch traffic from blue to green; committed") {
		t.Fatalf("promote with api already green: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if files := strings.Join(r.changedFiles(t), " "); strings.Contains(files, "apps/api") {
		t.Errorf("the commit changed api: %s", files)
	}
}

// TestGroupUsage: several --path only where a command releases a group,
// and without the flags that name one app's Services or cluster name.
func TestGroupUsage(t *testing.T) {
	r := groupRepo(t)
	for _, args := range [][]string{
		{"deploy", "--image", "myapp:v2"},
		{"shift", "--weight", "10"},
		{"promote", "--steps", "50,100"},
		{"promote", "--service", "application-service"},
		{"promote", "--app", "frontend"},
	} {
		if res := r.runGroup(t, args...); res.code != exitcode.Invalid || res.stdout != "" {
			t.Errorf("%v: exit %d\n%s", args, res.code, res.stderr)
		}
	}
	res := runCLI(t, "", "promote", "--repo", r.url, "--path", "apps", "--path", "apps/api")
	if res.code != exitcode.Invalid || !strings.Contains(res.stderr, "overlap") {
		t.Errorf("nested folders: exit %d\n%s", res.code, res.stderr)
	}
	if r.srv.Pushes() != 0 {
		t.Fatal("bad usage pushed")
	}
}

// TestGroupGates: the gates of every app run before the one commit, each
// in the namespace its folder names: the frontend (bgrender-managed) passes
// its rollout gate, the API's (the article's Rollout names) refuses, and
// nothing is committed (exit 3), the frontend not flipped either; once
// both are rolled out, one commit flips both.
func TestGroupGates(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, nsFront := clusterAppForGitops(t, ctx, srv, "cli-group-front")
	nsAPI := srv.NewNamespace(t, ctx, "cli-group-api", nil)
	createPlainRoles(t, ctx, srv, nsAPI)
	if err := apptest.SetStatus(ctx, srv.Dynamic(), nsFront, "my-application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}

	git := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	writeLayoutIn(t, filepath.Join(seed, "apps", "frontend"), "managed", nsFront)
	writeLayoutIn(t, filepath.Join(seed, "apps", "api"), "plain-roles", nsAPI)
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	r := &gitopsRepo{srv: git, url: git.CreateRepo(t, "gitops", seed), name: "gitops"}
	before := r.commits(t)

	gates := []string{"promote", "--require-rollout", "--rollout-timeout", "1s", "--kubeconfig", kubeconfig}
	res := r.runGroup(t, gates...)
	expectRun(t, "a group whose second app is not rolled out", res, exitcode.Refused, "",
		"my-application green passed rollout", "deployment "+nsAPI+"/application-green not rolled out after 1s", "nothing committed")
	if r.commits(t) != before || res.stdout != "" {
		t.Fatal("a refused group committed")
	}

	if err := apptest.SetStatus(ctx, srv.Dynamic(), nsAPI, "application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	res = r.runGroup(t, append(gates, "-o", "json")...)
	got := decodeResult(t, res)
	if r.commits(t) != before+1 || len(got.Apps) != 2 || got.Apps[0].Gates == nil || got.Apps[1].Gates == nil {
		t.Fatalf("%d commits, want %d; result %+v", r.commits(t), before+1, got)
	}
	for _, want := range []string{"my-application green passed rollout", "application-active green passed rollout"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}

// TestGroupPullRequest: with --pull-request, a group is one pull request
// on a real Gitea, from a branch named after the action, both apps and the
// color, whose files are both folders'; main does not change.
func TestGroupPullRequest(t *testing.T) {
	srv := giteatest.Start(t)
	seed := t.TempDir()
	writeManaged(t, filepath.Join(seed, "apps", "frontend"), "frontend")
	copyDir(t, "../../testdata/gitops/plain-roles", filepath.Join(seed, "apps", "api"))
	url := srv.CreateRepo(t, "gitops", seed)
	t.Setenv("BGRENDER_GIT_TOKEN", "")
	t.Setenv("GITEA_TOKEN", srv.Token)

	res := runCLI(t, "", "promote", "--repo", url, "--path", "apps/frontend", "--path", "apps/api", "--pull-request", "--forge", "gitea", "-o", "json")
	if strings.Contains(res.stdout+res.stderr, srv.Token) {
		t.Fatal("the token was printed")
	}
	got := decodeResult(t, res)
	const branch = "bgrender/promote-frontend-application-active-green"
	if got.PushedTo != branch || !strings.Contains(got.PullRequest, "/pulls/") || len(got.Apps) != 2 {
		t.Fatalf("result: %+v", got)
	}
	var pulls []struct {
		Number int                  `json:"number"`
		Title  string               `json:"title"`
		Head   struct{ Ref string } `json:"head"`
	}
	srv.API(t, http.MethodGet, "/repos/"+srv.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 || pulls[0].Head.Ref != branch || !strings.HasPrefix(pulls[0].Title, "promote frontend, application-active: ") {
		t.Fatalf("pull requests: %+v", pulls)
	}
	var files []struct{ Filename string }
	srv.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/gitops/pulls/%d/files", srv.User, pulls[0].Number), nil, &files)
	var names []string
	for _, f := range files {
		names = append(names, f.Filename)
	}
	for _, want := range []string{"apps/frontend/bgrender.yaml", "apps/api/service-active.yaml", "apps/api/service-preview.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("the pull request lacks %s: %v", want, names)
		}
	}
}
