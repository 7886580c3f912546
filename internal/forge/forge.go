// Package forge opens and watches pull requests, and sets commit
// statuses, on Gitea, GitHub and GitLab through their Go SDKs: code.gitea.io/sdk/gitea for Gitea (and
// Forgejo), github.com/google/go-github for GitHub and GitHub Enterprise
// Server, and gitlab.com/gitlab-org/api/client-go for GitLab merge
// requests. A Client is chosen from the repository URL (or named with
// --forge) by New. Tokens travel in request headers only; an API answer
// other than 2xx is a *StatusError, whose text never holds the token.
package forge

import (
	"context"
	"errors"
)

// PullRequest is an open, merged or closed pull (merge) request.
type PullRequest struct {
	Number int
	URL    string // the page a person opens
	Head   string // the source branch
	Base   string // the target branch
	State  State
}

// State is where a pull request stands.
type State string

// The states of a pull request.
const (
	Open   State = "open"
	Merged State = "merged"
	Closed State = "closed" // closed without merging
)

// NewPullRequest is what Ensure opens.
type NewPullRequest struct {
	Head, Base  string
	Title, Body string
}

// Client is a forge's pull-request API for one repository.
type Client interface {
	// Ensure returns the open pull request from pr.Head to pr.Base, its
	// title and body set to pr's, or opens one; created reports which.
	Ensure(ctx context.Context, pr NewPullRequest) (got *PullRequest, created bool, err error)
	// Get reads a pull request by number.
	Get(ctx context.Context, number int) (*PullRequest, error)
	// SetStatus sets a commit status on the commit sha.
	SetStatus(ctx context.Context, sha string, s CommitStatus) error
}

// ErrUnknownForge means the forge could not be told from the URL.
var ErrUnknownForge = errors.New("cannot tell the forge from the repository URL; name it with --forge gitea|github|gitlab")
