package forge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/forgetest"
)

func TestNewTellsTheForge(t *testing.T) {
	tests := map[string]struct {
		url, kind string
		want      string // the API base
	}{
		"github.com":      {"https://github.com/acme/gitops.git", "", "https://api.github.com"},
		"GHE":             {"https://github.acme.example/acme/gitops", "", "https://github.acme.example/api/v3"},
		"gitlab subgroup": {"https://gitlab.com/acme/platform/gitops.git", "", "https://gitlab.com/api/v4"},
		"gitea subpath":   {"https://git.acme.example/gitea/acme/gitops.git", "gitea", "https://git.acme.example/gitea/api/v1"},
		"codeberg":        {"https://codeberg.org/acme/gitops.git", "", "https://codeberg.org/api/v1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := New(Options{Kind: tc.kind, RepoURL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			var api string
			switch c := c.(type) {
			case *github:
				api = c.api
			case *gitlab:
				api = c.api
				if c.project != "acme%2Fplatform%2Fgitops" {
					t.Errorf("project = %s", c.project)
				}
			case *gitea:
				api = c.api
			}
			if api != tc.want {
				t.Errorf("api = %s, want %s", api, tc.want)
			}
		})
	}
	if _, err := New(Options{RepoURL: "https://git.internal.example/a/b"}); !errors.Is(err, ErrUnknownForge) {
		t.Errorf("unknown host: %v", err)
	}
	if _, err := New(Options{RepoURL: "ssh://git@github.com/a/b"}); err == nil {
		t.Error("ssh URL accepted for pull requests")
	}
}

// TestClientsAgainstFakeAPIs proves the GitHub and GitLab clients open a
// pull request, reuse the open one on a second call, and read merged and
// closed states, against servers that answer as the documented APIs do.
func TestClientsAgainstFakeAPIs(t *testing.T) {
	const token = "api-tok-123"
	for _, kind := range []string{"github", "gitlab"} {
		t.Run(kind, func(t *testing.T) {
			var fake *forgetest.Fake
			repoURL := "https://forge.example/acme/gitops.git"
			if kind == "github" {
				fake = forgetest.GitHub(t, "acme", "gitops", token)
			} else {
				fake = forgetest.GitLab(t, "acme/gitops", token)
			}
			c, err := New(Options{Kind: kind, RepoURL: repoURL, APIURL: fake.URL, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			req := NewPullRequest{Head: "bgrender/promote-web-green", Base: "main", Title: "promote web", Body: "diff"}
			pr, created, err := c.Ensure(ctx, req)
			if err != nil || !created || pr.Number != 1 || pr.State != Open || pr.Head != req.Head || pr.Base != "main" || pr.URL == "" {
				t.Fatalf("first Ensure = %+v, %v, %v", pr, created, err)
			}
			// A re-run reuses it and rewrites its title and body.
			rerun := req
			rerun.Title, rerun.Body = "promote web: again", "| gate | outcome |\n|---|---|\n| health | passed |\n"
			again, created, err := c.Ensure(ctx, rerun)
			if err != nil || created || again.Number != 1 {
				t.Fatalf("second Ensure = %+v, %v, %v", again, created, err)
			}
			if n := len(fake.Pulls()); n != 1 {
				t.Fatalf("%d pull requests, want 1", n)
			}
			if p := fake.Pulls()[0]; p.Body != rerun.Body || p.Title != rerun.Title {
				t.Fatalf("after the re-run: title %q, body %q", p.Title, p.Body)
			}
			fake.SetState(1, "merged")
			if got, err := c.Get(ctx, 1); err != nil || got.State != Merged {
				t.Fatalf("Get after merge = %+v, %v", got, err)
			}
			// A merged request is not reused: a new one is opened.
			if pr, created, err := c.Ensure(ctx, req); err != nil || !created || pr.Number != 2 {
				t.Fatalf("Ensure after merge = %+v, %v, %v", pr, created, err)
			}
			fake.SetState(2, "closed")
			if got, err := c.Get(ctx, 2); err != nil || got.State != Closed {
				t.Fatalf("Get after close = %+v, %v", got, err)
			}

			bad, _ := New(Options{Kind: kind, RepoURL: repoURL, APIURL: fake.URL, Token: "wrong-token-xyz"})
			_, _, err = bad.Ensure(ctx, req)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != 401 || strings.Contains(err.Error(), "wrong-token-xyz") {
				t.Fatalf("bad token: %v", err)
			}
		})
	}
}

// TestStatusesAgainstFakeAPIs sets pending, then failure, commit statuses
// through the GitHub and GitLab clients, as the documented APIs take
// them (GitLab's failed state; a description cut to GitHub's 140
// characters).
func TestStatusesAgainstFakeAPIs(t *testing.T) {
	const token = "api-tok-123"
	for _, kind := range []string{"github", "gitlab"} {
		t.Run(kind, func(t *testing.T) {
			var fake *forgetest.Fake
			if kind == "github" {
				fake = forgetest.GitHub(t, "acme", "gitops", token)
			} else {
				fake = forgetest.GitLab(t, "acme/gitops", token)
			}
			c, err := New(Options{Kind: kind, RepoURL: "https://forge.example/acme/gitops.git", APIURL: fake.URL, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const sha = "0123456789abcdef0123456789abcdef01234567"
			if err := c.SetStatus(ctx, sha, CommitStatus{Context: "bgrender/web", State: Pending, Description: "waiting for the cluster"}); err != nil {
				t.Fatal(err)
			}
			long := strings.Repeat("error rate 5% is not under the maximum 1%; ", 5)
			if err := c.SetStatus(ctx, sha, CommitStatus{Context: "bgrender/web", State: Failure, Description: long, TargetURL: "https://forge.example/pr/1"}); err != nil {
				t.Fatal(err)
			}
			got := fake.Statuses()
			failed := "failure"
			if kind == "gitlab" {
				failed = "failed"
			}
			if len(got) != 2 || got[0].SHA != sha || got[0].Context != "bgrender/web" || got[0].State != "pending" ||
				got[1].State != failed || len([]rune(got[1].Description)) != 140 || got[1].TargetURL != "https://forge.example/pr/1" {
				t.Fatalf("statuses: %+v", got)
			}
		})
	}
}
