package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// gitlab speaks GitLab's REST API v4 (merge requests).
type gitlab struct {
	api     string
	project string // URL-encoded path, such as group%2Fproject
	c       client
}

type gitlabMR struct {
	IID          int    `json:"iid"`
	WebURL       string `json:"web_url"`
	State        string `json:"state"` // opened, closed, locked, merged
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
}

func (m *gitlabMR) pr() *PullRequest {
	st := Open
	switch m.State {
	case "merged":
		st = Merged
	case "closed":
		st = Closed
	}
	return &PullRequest{Number: m.IID, URL: m.WebURL, Head: m.SourceBranch, Base: m.TargetBranch, State: st}
}

func (g *gitlab) mrs() string {
	return fmt.Sprintf("%s/projects/%s/merge_requests", g.api, g.project)
}

func (g *gitlab) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	q := url.Values{"state": {"opened"}, "source_branch": {n.Head}, "target_branch": {n.Base}}
	var list []gitlabMR
	if err := g.c.do(ctx, http.MethodGet, g.mrs()+"?"+q.Encode(), nil, &list); err != nil {
		return nil, false, err
	}
	if len(list) > 0 {
		return list[0].pr(), false, nil
	}
	var got gitlabMR
	body := map[string]any{"source_branch": n.Head, "target_branch": n.Base, "title": n.Title, "description": n.Body, "remove_source_branch": true}
	if err := g.c.do(ctx, http.MethodPost, g.mrs(), body, &got); err != nil {
		return nil, false, err
	}
	return got.pr(), true, nil
}

func (g *gitlab) Get(ctx context.Context, number int) (*PullRequest, error) {
	var got gitlabMR
	if err := g.c.do(ctx, http.MethodGet, fmt.Sprintf("%s/%d", g.mrs(), number), nil, &got); err != nil {
		return nil, err
	}
	return got.pr(), nil
}
