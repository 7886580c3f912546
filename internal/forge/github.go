package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// github speaks GitHub's REST API (api.github.com, or /api/v3 of GitHub
// Enterprise Server).
type github struct {
	api, owner, repo string
	c                client
}

type githubPull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"` // open, closed
	Merged  bool   `json:"merged"`
	// MergedAt is set on merged pull requests in list answers, which
	// have no "merged" field.
	MergedAt *string `json:"merged_at"`
	Head     struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p *githubPull) pr() *PullRequest {
	st := Open
	switch {
	case p.Merged || p.MergedAt != nil:
		st = Merged
	case p.State == "closed":
		st = Closed
	}
	return &PullRequest{Number: p.Number, URL: p.HTMLURL, Head: p.Head.Ref, Base: p.Base.Ref, State: st}
}

func (g *github) pulls() string {
	return fmt.Sprintf("%s/repos/%s/%s/pulls", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
}

func (g *github) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	q := url.Values{"state": {"open"}, "head": {g.owner + ":" + n.Head}, "base": {n.Base}}
	var list []githubPull
	if err := g.c.do(ctx, http.MethodGet, g.pulls()+"?"+q.Encode(), nil, &list); err != nil {
		return nil, false, err
	}
	if len(list) > 0 {
		return list[0].pr(), false, nil
	}
	var got githubPull
	if err := g.c.do(ctx, http.MethodPost, g.pulls(), map[string]string{"head": n.Head, "base": n.Base, "title": n.Title, "body": n.Body}, &got); err != nil {
		return nil, false, err
	}
	return got.pr(), true, nil
}

func (g *github) Get(ctx context.Context, number int) (*PullRequest, error) {
	var got githubPull
	if err := g.c.do(ctx, http.MethodGet, fmt.Sprintf("%s/%d", g.pulls(), number), nil, &got); err != nil {
		return nil, err
	}
	return got.pr(), nil
}
