package forge

import (
	"context"

	sdk "code.gitea.io/sdk/gitea"
	gh "github.com/google/go-github/v84/github"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// CommitState is where a commit status stands.
type CommitState string

// The states of a commit status, as GitHub and Gitea name them (GitLab's
// "failed" is Failure).
const (
	Pending CommitState = "pending"
	Success CommitState = "success"
	Failure CommitState = "failure"
)

// CommitStatus is a status on a commit: a check a forge shows beside the
// commit and on the pull request whose head it is.
type CommitStatus struct {
	// Context names the status (bgrender/<app>); a new status with the
	// same context replaces the last one.
	Context     string
	State       CommitState
	Description string
	// TargetURL, when set, is the page the status links to.
	TargetURL string
}

// maxDescription is GitHub's limit on a status description.
const maxDescription = 140

func (s CommitStatus) description() string {
	d := []rune(s.Description)
	if len(d) > maxDescription {
		return string(d[:maxDescription-1]) + "…"
	}
	return s.Description
}

// SetStatus sets a commit status through Gitea's API
// (POST /repos/{owner}/{repo}/statuses/{sha}).
func (g *gitea) SetStatus(ctx context.Context, sha string, s CommitStatus) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	_, resp, err := c.CreateStatus(g.owner, g.repo, sha, sdk.CreateStatusOption{State: sdk.StatusState(s.State),
		TargetURL: s.TargetURL, Description: s.description(), Context: s.Context})
	return giteaError(err, resp)
}

// SetStatus sets a commit status through GitHub's API
// (POST /repos/{owner}/{repo}/statuses/{sha}).
func (g *github) SetStatus(ctx context.Context, sha string, s CommitStatus) error {
	st := gh.RepoStatus{State: gh.Ptr(string(s.State)), Description: gh.Ptr(s.description()), Context: gh.Ptr(s.Context)}
	if s.TargetURL != "" {
		st.TargetURL = gh.Ptr(s.TargetURL)
	}
	_, resp, err := g.c.Repositories.CreateStatus(ctx, g.owner, g.repo, sha, st)
	return githubError(err, resp)
}

// SetStatus sets a commit status through GitLab's API
// (POST /projects/{id}/statuses/{sha}), whose failed state is Failure.
func (g *gitlab) SetStatus(ctx context.Context, sha string, s CommitStatus) error {
	state := gl.BuildStateValue(s.State)
	if s.State == Failure {
		state = gl.Failed
	}
	opt := &gl.SetCommitStatusOptions{State: state, Name: gl.Ptr(s.Context), Description: gl.Ptr(s.description())}
	if s.TargetURL != "" {
		opt.TargetURL = gl.Ptr(s.TargetURL)
	}
	_, resp, err := g.c.Commits.SetCommitStatus(g.path, sha, opt, gl.WithContext(ctx))
	return gitlabError(err, resp)
}
