package forge

import (
	"context"
	"errors"
	"net/http"
	"strings"

	sdk "code.gitea.io/sdk/gitea"
)

// gitea speaks Gitea's (and Forgejo's) API v1 through code.gitea.io/sdk/gitea.
type gitea struct {
	api, owner, repo string
	token            string
	hc               *http.Client
}

func newGitea(api, owner, repo, token string, hc *http.Client) *gitea {
	return &gitea{api: api, owner: owner, repo: repo, token: token, hc: hc}
}

// client returns an SDK client bound to ctx: the SDK takes the context
// per client, not per call. SetGiteaVersion("") keeps NewClient from
// asking the server for its version (a request, and one more for every
// pull request read on servers it deems old).
func (g *gitea) client(ctx context.Context) (*sdk.Client, error) {
	// The SDK appends /api/v1 to the server URL itself.
	return sdk.NewClient(strings.TrimSuffix(g.api, "/api/v1"),
		sdk.SetGiteaVersion(""), sdk.SetToken(g.token), sdk.SetContext(ctx), sdk.SetHTTPClient(g.hc))
}

// giteaError turns an SDK error into a *StatusError when Gitea answered;
// the SDK's error is the "message" of the answer.
func giteaError(err error, resp *sdk.Response) error {
	if err == nil || resp == nil {
		return err
	}
	return apiError(err, resp.Response, err.Error)
}

func giteaPR(p *sdk.PullRequest) *PullRequest {
	st := Open
	switch {
	case p.HasMerged:
		st = Merged
	case p.State == sdk.StateClosed:
		st = Closed
	}
	pr := &PullRequest{Number: int(p.Index), URL: p.HTMLURL, State: st}
	if p.Head != nil {
		pr.Head = p.Head.Ref
	}
	if p.Base != nil {
		pr.Base = p.Base.Ref
	}
	return pr
}

func (g *gitea) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, false, err
	}
	if pr, err := g.find(c, n); err != nil || pr != nil {
		if err == nil {
			err = g.edit(c, pr, n)
		}
		return pr, false, err
	}
	got, resp, err := c.CreatePullRequest(g.owner, g.repo, sdk.CreatePullRequestOption{Head: n.Head, Base: n.Base, Title: n.Title, Body: n.Body})
	err = giteaError(err, resp)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		// Opened meanwhile by another run.
		pr, ferr := g.find(c, n)
		if ferr == nil && pr != nil {
			return pr, false, g.edit(c, pr, n)
		}
	}
	if err != nil {
		return nil, false, err
	}
	return giteaPR(got), true, nil
}

// edit sets the title and body of the reused pull request pr to n's:
// a re-run's body carries the latest evidence.
func (g *gitea) edit(c *sdk.Client, pr *PullRequest, n NewPullRequest) error {
	_, resp, err := c.EditPullRequest(g.owner, g.repo, int64(pr.Number), sdk.EditPullRequestOption{Title: n.Title, Body: &n.Body})
	return giteaError(err, resp)
}

// find looks through the open pull requests (Gitea's list cannot filter
// by branch), at most 20 pages of 50.
func (g *gitea) find(c *sdk.Client, n NewPullRequest) (*PullRequest, error) {
	const size = 50
	for page, i := 1, 0; page > 0 && i < 20; i++ {
		list, resp, err := c.ListRepoPullRequests(g.owner, g.repo, sdk.ListPullRequestsOptions{
			ListOptions: sdk.ListOptions{Page: page, PageSize: size}, State: sdk.StateOpen})
		if err != nil {
			return nil, giteaError(err, resp)
		}
		for _, p := range list {
			if p.Head != nil && p.Base != nil && p.Head.Ref == n.Head && p.Base.Ref == n.Base {
				return giteaPR(p), nil
			}
		}
		next := resp.NextPage
		if next == 0 && len(list) >= size {
			next = page + 1 // no Link header: a full page may have a next one
		}
		page = next
	}
	return nil, nil
}

func (g *gitea) Get(ctx context.Context, number int) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	got, resp, err := c.GetPullRequest(g.owner, g.repo, int64(number))
	if err != nil {
		return nil, giteaError(err, resp)
	}
	return giteaPR(got), nil
}
