package forge

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v84/github"
)

// github speaks GitHub's REST API (api.github.com, or /api/v3 of GitHub
// Enterprise Server) through github.com/google/go-github.
type github struct {
	api, owner, repo string
	c                *gh.Client
}

func newGitHub(api, owner, repo, token string, hc *http.Client) (*github, error) {
	base, err := url.Parse(api + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		// Not echoed: it might hold user info.
		return nil, errors.New("the GitHub API URL is not an http(s) URL")
	}
	c := gh.NewClient(hc).WithAuthToken(token)
	// The API base as given: WithEnterpriseURLs would append /api/v3/ to
	// any host not named api.*.
	c.BaseURL = base
	return &github{api: api, owner: owner, repo: repo, c: c}, nil
}

// githubError turns an SDK error into a *StatusError when GitHub answered.
func githubError(err error, resp *gh.Response) error {
	if err == nil || resp == nil {
		return err
	}
	return apiError(err, resp.Response, func() string {
		var er *gh.ErrorResponse
		var rl *gh.RateLimitError
		var ab *gh.AbuseRateLimitError
		switch {
		case errors.As(err, &er):
			msgs := []string{er.Message}
			for _, e := range er.Errors {
				if e.Message != "" {
					msgs = append(msgs, e.Message)
				}
			}
			return strings.Join(msgs, ": ")
		case errors.As(err, &rl):
			return rl.Message
		case errors.As(err, &ab):
			return ab.Message
		}
		return ""
	})
}

func githubPR(p *gh.PullRequest) *PullRequest {
	st := Open
	switch {
	// List answers have no "merged" field, only merged_at.
	case p.GetMerged() || p.MergedAt != nil:
		st = Merged
	case p.GetState() == "closed":
		st = Closed
	}
	return &PullRequest{Number: p.GetNumber(), URL: p.GetHTMLURL(), Head: p.GetHead().GetRef(), Base: p.GetBase().GetRef(), State: st}
}

func (g *github) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	list, resp, err := g.c.PullRequests.List(ctx, g.owner, g.repo, &gh.PullRequestListOptions{
		State: "open", Head: g.owner + ":" + n.Head, Base: n.Base})
	if err != nil {
		return nil, false, githubError(err, resp)
	}
	if len(list) > 0 {
		// A re-run's body carries the latest evidence.
		pr := list[0]
		_, resp, err := g.c.PullRequests.Edit(ctx, g.owner, g.repo, pr.GetNumber(), &gh.PullRequest{Title: gh.Ptr(n.Title), Body: gh.Ptr(n.Body)})
		if err != nil {
			return nil, false, githubError(err, resp)
		}
		return githubPR(pr), false, nil
	}
	got, resp, err := g.c.PullRequests.Create(ctx, g.owner, g.repo, &gh.NewPullRequest{
		Head: gh.Ptr(n.Head), Base: gh.Ptr(n.Base), Title: gh.Ptr(n.Title), Body: gh.Ptr(n.Body)})
	if err != nil {
		return nil, false, githubError(err, resp)
	}
	return githubPR(got), true, nil
}

func (g *github) Get(ctx context.Context, number int) (*PullRequest, error) {
	got, resp, err := g.c.PullRequests.Get(ctx, g.owner, g.repo, number)
	if err != nil {
		return nil, githubError(err, resp)
	}
	return githubPR(got), nil
}
