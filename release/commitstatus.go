package release

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/forge"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// The commit statuses of a release (--commit-status): each commit the
// plan makes gets the status bgrender/<app>, pending once it lands (or,
// for a pull request, once it is opened: see promote.Target; on a re-run,
// the open pull request's head while the gates run again), then
// success when the release ends well — with --wait-live, once the cluster
// serves the new color — or failure with the reason when a gate refuses
// or a wait times out. A status that cannot be set is a warning: the
// forge's opinion of a release never decides it.

// statusing says whether the run sets commit statuses.
func (r *Run) statusing() bool {
	return r.Target.CommitStatus && r.Target.Forge != nil && !r.Target.DryRun
}

// statusGating marks the open pull request's head pending while the
// gates run before the plan's first commit. On a re-run, that head still
// carries the last run's status, which the new readings may contradict;
// the run then sets its final status like any commit's (a refusal that
// commits nothing shows there). The head is the tip of the branch the
// commit would push to; a first run has no such branch, and nothing is
// marked.
func (r *Run) statusGating(ctx context.Context) {
	if !r.statusing() || !r.Target.PullRequest || r.State == nil || !r.gatesFirst() {
		return
	}
	app := r.State.App
	branch := promote.PullRequestBranch(r.Plan.Action, app, string(r.goesTo()))
	sha, err := r.Target.Repo.Tip(ctx, branch)
	if err != nil {
		r.Say("warning: commit status %s pending on %s: %v", StatusContext(app), branch, err)
		return
	}
	if sha == "" {
		return
	}
	r.statused = append(r.statused, &promote.Result{App: app, Commit: sha})
	r.setStatus(ctx, sha, forge.CommitStatus{Context: StatusContext(app), State: forge.Pending, Description: "the gates run again"})
}

// goesTo is the color the plan's commit goes to: the one named, else the
// color Git rolls back to, or its idle color.
func (r *Run) goesTo() spec.Color {
	switch {
	case r.Plan.To != "":
		return r.Plan.To
	case r.Plan.Action == "rollback":
		return r.State.Previous
	}
	return r.State.Idle()
}

// gatesFirst says whether the plan runs gates before its first commit.
func (r *Run) gatesFirst() bool {
	for _, e := range r.Plan.Entries {
		switch e.Step.(type) {
		case *RunGates:
			return true
		case *Commit:
			return false
		}
	}
	return false
}

// statusCommitted sets pending on the commit the last step made.
func (r *Run) statusCommitted(ctx context.Context) {
	res := r.Last
	if !r.statusing() || res == nil || res.NoOp || res.Commit == "" {
		return
	}
	r.statused = append(r.statused, res)
	if res.PullRequest != "" {
		// Pending since the pull request was opened: GitLab refuses a
		// status that does not change its state.
		return
	}
	r.setStatus(ctx, res.Commit, forge.CommitStatus{Context: StatusContext(res.App), State: forge.Pending,
		Description: "committed; the release goes on", TargetURL: res.PullRequest})
}

// statusEnd sets the final status on every commit the run marked
// pending: success, or failure with why the release stopped.
func (r *Run) statusEnd(ctx context.Context, failed error) {
	if !r.statusing() {
		return
	}
	ctx = context.WithoutCancel(ctx) // an interrupted release still says so
	for _, res := range r.statused {
		s := forge.CommitStatus{Context: StatusContext(res.App), State: forge.Success, Description: r.passed(), TargetURL: res.PullRequest}
		if failed != nil {
			s.State, s.Description = forge.Failure, gate.RedactText(failed.Error())
		}
		r.setStatus(ctx, res.Commit, s)
	}
}

// passed says how the release ended well: live, or gates passed.
func (r *Run) passed() string {
	if l := r.Last; l != nil && l.Live != nil {
		return fmt.Sprintf("live: Service %s serves %s, %d ready endpoints, %.0fs after the start", l.Live.Service, l.Live.Color, l.Live.ReadyEndpoints, l.Live.Seconds)
	}
	var names []string
	if g := r.gates(); g != nil {
		for _, res := range g.Results {
			if res.Outcome == gate.Passed && !slices.Contains(names, res.Gate) {
				names = append(names, res.Gate)
			}
		}
	}
	if len(names) == 0 {
		return "committed (no gate, no wait for the cluster)"
	}
	return "gates passed: " + strings.Join(names, ", ") + " (no wait for the cluster)"
}

func (r *Run) setStatus(ctx context.Context, sha string, s forge.CommitStatus) {
	if err := r.Target.Forge.SetStatus(ctx, sha, s); err != nil {
		r.Say("warning: commit status %s %s on %s: %v", s.Context, s.State, short(sha), err)
	}
}

// StatusContext names an app's commit status.
func StatusContext(app string) string { return "bgrender/" + app }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
