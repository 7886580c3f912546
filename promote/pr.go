package promote

import (
	"context"
	"fmt"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/forge"
)

// PullRequester opens pull requests; forge.Client implements it.
type PullRequester = forge.Client

// pullRequest opens or reuses the pull request for the pushed branch and,
// with WaitMerge, waits for it to be merged.
//
// The body is the evidence (see package evidence): what changes, both
// colors, the gates' readings, the plan, the diff. A re-run rewrites it on
// the pull request it reuses, so the body shows the latest readings.
func (t *Target) pullRequest(ctx context.Context, out *Result, c *gitops.Change, before evidence.Folder) error {
	if t.Forge == nil {
		return fmt.Errorf("--pull-request: no forge client")
	}
	title := fmt.Sprintf("%s %s: %s", c.Action, c.App, c.Summary)
	ev := out.Evidence
	if ev == nil {
		ev = (*evidence.Evidence)(nil).For(c, before)
		ev.Path = t.Path
	}
	body := ev.Markdown(out.Diff)
	pr, created, err := t.Forge.Ensure(ctx, forge.NewPullRequest{Head: out.PushedTo, Base: out.Branch, Title: title, Body: body})
	if err != nil {
		return fmt.Errorf("pull request from %s to %s: %w", out.PushedTo, out.Branch, err)
	}
	out.PullRequest = pr.URL
	t.pendingReview(ctx, out)
	verb := "opened"
	if !created {
		verb = "updated"
	}
	out.Message = fmt.Sprintf("%s %s: %s; %s pull request %s", c.Action, c.App, c.Summary, verb, pr.URL)
	if !t.WaitMerge {
		return nil
	}
	return t.waitMerge(ctx, out, pr)
}

func (t *Target) waitMerge(ctx context.Context, out *Result, pr *forge.PullRequest) error {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	every := t.PollInterval
	if every <= 0 {
		every = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.Log != nil {
		fmt.Fprintf(t.Log, "waiting for %s to be merged (at most %s)\n", pr.URL, timeout)
	}
	for {
		got, err := t.Forge.Get(ctx, pr.Number)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("pull request %s: %w", pr.URL, err)
		}
		if err == nil {
			switch got.State {
			case forge.Merged:
				out.Merged = true
				out.Message += "; merged"
				return nil
			case forge.Closed:
				return fmt.Errorf("pull request %s was closed without merging", pr.URL)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pull request %s: not merged after %s", pr.URL, timeout)
		case <-time.After(every):
		}
	}
}

// pendingReview marks the pull request's head pending (--commit-status)
// while it waits for its review: the release runner sets the final
// status once the release ends.
func (t *Target) pendingReview(ctx context.Context, out *Result) {
	if !t.CommitStatus || out.Commit == "" {
		return
	}
	s := forge.CommitStatus{Context: "bgrender/" + out.App, State: forge.Pending, Description: "waiting for the review", TargetURL: out.PullRequest}
	if t.WaitMerge {
		s.Description = "waiting for the merge, then the release goes on"
	}
	if err := t.Forge.SetStatus(ctx, out.Commit, s); err != nil && t.Log != nil {
		fmt.Fprintf(t.Log, "warning: commit status %s pending: %v\n", s.Context, err)
	}
}
