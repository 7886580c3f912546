package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// gitea speaks Gitea's (and Forgejo's) API v1.
type gitea struct {
	api, owner, repo string
	c                client
}

type giteaPull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"` // open, closed
	Merged  bool   `json:"merged"`
	Head    struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p *giteaPull) pr() *PullRequest {
	st := Open
	switch {
	case p.Merged:
		st = Merged
	case p.State == "closed":
		st = Closed
	}
	return &PullRequest{Number: p.Number, URL: p.HTMLURL, Head: p.Head.Ref, Base: p.Base.Ref, State: st}
}

func (g *gitea) pulls() string {
	return fmt.Sprintf("%s/repos/%s/%s/pulls", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
}

func (g *gitea) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	if pr, err := g.find(ctx, n); err != nil || pr != nil {
		return pr, false, err
	}
	var got giteaPull
	err := g.c.do(ctx, http.MethodPost, g.pulls(), map[string]string{"head": n.Head, "base": n.Base, "title": n.Title, "body": n.Body}, &got)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		// Opened meanwhile by another run.
		pr, ferr := g.find(ctx, n)
		if ferr == nil && pr != nil {
			return pr, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return got.pr(), true, nil
}

func (g *gitea) find(ctx context.Context, n NewPullRequest) (*PullRequest, error) {
	for page := 1; page <= 20; page++ {
		var list []giteaPull
		if err := g.c.do(ctx, http.MethodGet, fmt.Sprintf("%s?state=open&limit=50&page=%d", g.pulls(), page), nil, &list); err != nil {
			return nil, err
		}
		for i := range list {
			if list[i].Head.Ref == n.Head && list[i].Base.Ref == n.Base {
				return list[i].pr(), nil
			}
		}
		if len(list) < 50 {
			break
		}
	}
	return nil, nil
}

func (g *gitea) Get(ctx context.Context, number int) (*PullRequest, error) {
	var got giteaPull
	if err := g.c.do(ctx, http.MethodGet, fmt.Sprintf("%s/%d", g.pulls(), number), nil, &got); err != nil {
		return nil, err
	}
	return got.pr(), nil
}
