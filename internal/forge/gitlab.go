package forge

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// gitlab speaks GitLab's REST API v4 (merge requests) through
// gitlab.com/gitlab-org/api/client-go.
type gitlab struct {
	api     string
	project string // URL-encoded path, such as group%2Fproject
	path    string // the project path, such as group/project
	c       *gl.Client
}

func newGitLab(api, path, token string, hc *http.Client) (*gitlab, error) {
	// Like the other clients, one request per call: no retries. The SDK
	// appends /api/v4 to a base URL without it.
	opts := []gl.ClientOptionFunc{gl.WithBaseURL(api), gl.WithHTTPClient(hc), gl.WithoutRetries()}
	var (
		c   *gl.Client
		err error
	)
	if token == "" {
		// No PRIVATE-TOKEN header at all rather than an empty one.
		c, err = gl.NewAuthSourceClient(gl.Unauthenticated{}, opts...)
	} else {
		c, err = gl.NewClient(token, opts...)
	}
	if err != nil {
		return nil, err
	}
	return &gitlab{api: api, project: url.PathEscape(path), path: path, c: c}, nil
}

// gitlabError turns an SDK error into a *StatusError when GitLab answered.
func gitlabError(err error, resp *gl.Response) error {
	if err == nil || resp == nil {
		return err
	}
	return apiError(err, resp.Response, func() string {
		var er *gl.ErrorResponse
		if errors.As(err, &er) {
			return er.Message
		}
		return "" // 404: gl.ErrNotFound carries no message
	})
}

func gitlabPR(m *gl.BasicMergeRequest) *PullRequest {
	st := Open
	switch m.State { // opened, closed, locked, merged
	case "merged":
		st = Merged
	case "closed":
		st = Closed
	}
	return &PullRequest{Number: int(m.IID), URL: m.WebURL, Head: m.SourceBranch, Base: m.TargetBranch, State: st}
}

func (g *gitlab) Ensure(ctx context.Context, n NewPullRequest) (*PullRequest, bool, error) {
	list, resp, err := g.c.MergeRequests.ListProjectMergeRequests(g.path, &gl.ListProjectMergeRequestsOptions{
		State: gl.Ptr("opened"), SourceBranch: gl.Ptr(n.Head), TargetBranch: gl.Ptr(n.Base)}, gl.WithContext(ctx))
	if err != nil {
		return nil, false, gitlabError(err, resp)
	}
	if len(list) > 0 {
		// A re-run's description carries the latest evidence.
		m := list[0]
		_, resp, err := g.c.MergeRequests.UpdateMergeRequest(g.path, m.IID, &gl.UpdateMergeRequestOptions{
			Title: gl.Ptr(n.Title), Description: gl.Ptr(n.Body)}, gl.WithContext(ctx))
		if err != nil {
			return nil, false, gitlabError(err, resp)
		}
		return gitlabPR(m), false, nil
	}
	got, resp, err := g.c.MergeRequests.CreateMergeRequest(g.path, &gl.CreateMergeRequestOptions{
		SourceBranch: gl.Ptr(n.Head), TargetBranch: gl.Ptr(n.Base), Title: gl.Ptr(n.Title), Description: gl.Ptr(n.Body),
		RemoveSourceBranch: gl.Ptr(true)}, gl.WithContext(ctx))
	if err != nil {
		return nil, false, gitlabError(err, resp)
	}
	return gitlabPR(&got.BasicMergeRequest), true, nil
}

func (g *gitlab) Get(ctx context.Context, number int) (*PullRequest, error) {
	got, resp, err := g.c.MergeRequests.GetMergeRequest(g.path, int64(number), nil, gl.WithContext(ctx))
	if err != nil {
		return nil, gitlabError(err, resp)
	}
	return gitlabPR(&got.BasicMergeRequest), nil
}
