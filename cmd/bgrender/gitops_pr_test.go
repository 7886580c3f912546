package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/forgetest"
	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
)

func decodeResult(t *testing.T, res result) promote.Result {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	var got promote.Result
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, res.stdout)
	}
	return got
}

// TestPullRequestGitea runs --pull-request against a real Gitea: the first
// run opens a pull request from bgrender/promote-<app>-<color>, a second
// run reuses it, and --wait-merge returns once the test merges it through
// Gitea's API; only then does main change.
func TestPullRequestGitea(t *testing.T) {
	srv := giteatest.Start(t)
	seed := t.TempDir()
	copyDir(t, "../../testdata/gitops/plain", filepath.Join(seed, filepath.FromSlash(appPath)))
	writeOutside(t, seed, 50)
	url := srv.CreateRepo(t, "gitops", seed)
	t.Setenv("BGRENDER_GIT_TOKEN", "")
	t.Setenv("GITEA_TOKEN", srv.Token)

	args := []string{"promote", "--repo", url, "--path", appPath, "--pull-request", "--forge", "gitea", "-o", "json"}
	check := func(res result) {
		t.Helper()
		if strings.Contains(res.stdout+res.stderr, srv.Token) {
			t.Fatal("the token was printed")
		}
	}
	res := runCLI(t, "", args...)
	check(res)
	first := decodeResult(t, res)
	const branch = "bgrender/promote-application-service-green"
	if first.PushedTo != branch || first.Branch != "main" || !strings.Contains(first.PullRequest, "/pulls/") {
		t.Fatalf("first run: %+v", first)
	}
	var pulls []struct {
		Number int                  `json:"number"`
		State  string               `json:"state"`
		Head   struct{ Ref string } `json:"head"`
		Base   struct{ Ref string } `json:"base"`
	}
	srv.API(t, http.MethodGet, "/repos/"+srv.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 || pulls[0].Head.Ref != branch || pulls[0].Base.Ref != "main" || pulls[0].State != "open" {
		t.Fatalf("pull requests: %+v", pulls)
	}
	var files []struct{ Filename string }
	srv.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/gitops/pulls/%d/files", srv.User, pulls[0].Number), nil, &files)
	if len(files) != 1 || files[0].Filename != appPath+"/service.yaml" {
		t.Fatalf("files of the pull request: %+v", files)
	}

	// A second run reuses the open pull request.
	res = runCLI(t, "", args...)
	check(res)
	second := decodeResult(t, res)
	if second.PullRequest != first.PullRequest {
		t.Fatalf("second run opened %s, want the reused %s", second.PullRequest, first.PullRequest)
	}
	srv.API(t, http.MethodGet, "/repos/"+srv.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 {
		t.Fatalf("%d pull requests after the second run", len(pulls))
	}

	// --wait-merge returns once the pull request is merged. The merge
	// comes once the run has pushed its commit to the pull request's
	// branch (its head moves), not after a fixed time that a loaded
	// machine may not keep.
	headOf := func() string {
		var pr struct {
			Head struct{ Sha string } `json:"head"`
		}
		srv.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/gitops/pulls/%d", srv.User, pulls[0].Number), nil, &pr)
		return pr.Head.Sha
	}
	before := headOf()
	done := make(chan result, 1)
	go func() {
		done <- runCLI(t, "", append(args, "--wait-merge", "--poll-interval", "200ms", "--timeout", "2m")...)
	}()
	// (A commit made in the same second as the last run's is the same
	// commit: the head does not move, and the wait below ends anyway.)
	for deadline := time.Now().Add(30 * time.Second); headOf() == before && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // it reuses the pull request right after its push
	select {
	case res := <-done:
		t.Fatalf("--wait-merge returned before the merge: %+v", res)
	default:
	}
	srv.Merge(t, "gitops", pulls[0].Number)
	var waited result
	select {
	case waited = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("--wait-merge did not return after the merge")
	}
	check(waited)
	if got := decodeResult(t, waited); !got.Merged || got.PullRequest != first.PullRequest {
		t.Fatalf("--wait-merge: %+v", got)
	}
	var content struct{ Content string }
	srv.API(t, http.MethodGet, "/repos/"+srv.User+"/gitops/contents/"+appPath+"/service.yaml?ref=main", nil, &content)
	clone := t.TempDir()
	gittest.Git(t, "", "clone", "--quiet", strings.Replace(url, "http://", "http://"+srv.User+":"+srv.Token+"@", 1), clone)
	svc, err := os.ReadFile(filepath.Join(clone, filepath.FromSlash(appPath), "service.yaml"))
	if err != nil || !strings.Contains(string(svc), "version: green") {
		t.Fatalf("main after the merge: %s %v", svc, err)
	}
	if tr := gittest.Trailers(t, clone, "HEAD^2"); tr["Bgrender-Action"] != "promote" || tr["Bgrender-To"] != "green" {
		t.Fatalf("trailers of the merged commit: %v", tr)
	}

	// Now main is green: nothing to do, no pull request.
	res = runCLI(t, "", append(args, "--to", "green")...)
	if got := decodeResult(t, res); !got.NoOp || got.PullRequest != "" {
		t.Fatalf("after the merge: %+v", got)
	}
}

// TestPullRequestGitHubAndGitLab pushes the branch to a real Git server
// and opens the pull (merge) request on a fake GitHub or GitLab API; a
// second run reuses it and --wait-merge sees the merge.
// moveUnder serves the repository as OWNER/gitops instead of /gitops, as
// the forge fakes know it.
func (r *gitopsRepo) moveUnder(t *testing.T, owner string) {
	t.Helper()
	r.url = strings.Replace(r.url, "/gitops", "/"+owner+"/gitops", 1)
	if err := os.MkdirAll(filepath.Join(r.srv.Root, owner), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(r.srv.RepoDir("gitops"), r.srv.RepoDir(owner+"/gitops")); err != nil {
		t.Fatal(err)
	}
	r.name = owner + "/gitops"
}

func TestPullRequestGitHubAndGitLab(t *testing.T) {
	const apiToken = "api-token-5150"
	for _, kind := range []string{"github", "gitlab"} {
		t.Run(kind, func(t *testing.T) {
			r := newGitopsRepo(t, "plain", 0)
			t.Setenv("BGRENDER_FORGE_TOKEN", apiToken)
			var fake *forgetest.Fake
			if kind == "github" {
				fake = forgetest.GitHub(t, "acme", "gitops", apiToken)
			} else {
				fake = forgetest.GitLab(t, "acme/gitops", apiToken)
			}
			r.moveUnder(t, "acme")
			args := []string{"deploy", "--image", "myapp:v2", "--pull-request", "--forge", kind, "--forge-api", fake.URL, "-o", "json"}
			first := decodeResult(t, r.run(t, args...))
			const branch = "bgrender/deploy-application-service-green"
			if first.PushedTo != branch || first.PullRequest == "" {
				t.Fatalf("first run: %+v", first)
			}
			if got := r.git(t, "rev-parse", branch); got != first.Commit {
				t.Fatalf("branch %s = %s, want %s", branch, got, first.Commit)
			}
			if r.commits(t) != 1 {
				t.Fatal("main changed")
			}
			second := decodeResult(t, r.run(t, args...))
			if second.PullRequest != first.PullRequest || len(fake.Pulls()) != 1 {
				t.Fatalf("second run: %+v, pulls %+v", second, fake.Pulls())
			}
			p := fake.Pulls()[0]
			if p.Head != branch || p.Base != "main" || !strings.Contains(p.Title, "deploy application-service") || !strings.Contains(p.Body, "+          image: myapp:v2") {
				t.Fatalf("pull request: %+v", p)
			}
			// The body is the evidence, rewritten by the second run.
			for _, want := range []string{"**deploy** of **application-service** (`" + appPath + "`), opened by bgrender.",
				"Image of green myapp:v1.2.3 → myapp:v2: run myapp:v2 on green.", "<details><summary>Diff</summary>"} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("the body lacks %q:\n%s", want, p.Body)
				}
			}
			if n := fake.Requests(editRequest(kind, p.Number)); n != 1 {
				t.Errorf("%d edits of the reused pull request, want 1", n)
			}
			gets := 0
			fake.OnGet = func(p *forgetest.Pull) {
				if gets++; gets == 2 {
					p.State = "merged"
				}
			}
			waited := decodeResult(t, r.run(t, append(args, "--wait-merge", "--poll-interval", "10ms")...))
			if !waited.Merged {
				t.Fatalf("--wait-merge: %+v", waited)
			}
			fake.OnGet = func(p *forgetest.Pull) { p.State = "closed" }
			fake.SetState(1, "open")
			res := r.run(t, append(args, "--wait-merge", "--poll-interval", "10ms")...)
			if res.code != 1 || !strings.Contains(res.stderr, "closed without merging") {
				t.Fatalf("closed pull request: exit %d, %s", res.code, res.stderr)
			}
		})
	}
}
