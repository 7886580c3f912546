package promote

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gitops"
)

// Target is where and how an action commits: the repository, branch and
// app folder, and the options of the commit.
type Target struct {
	Repo   *gitops.Repo
	Branch string // empty: the remote's default branch
	Path   string // the app folder in the repository
	Plain  PlainOptions

	// PullRequest pushes to a branch named after the action, app and
	// color and opens (or reuses) a pull request through Forge.
	PullRequest bool
	// PullRequestBranch, when set, names that branch instead (a fleet's
	// names its wave: its targets all run the same app).
	PullRequestBranch func(c *gitops.Change) string
	Forge             PullRequester
	// WaitMerge polls the pull request until it is merged or closed, for
	// at most Timeout, every PollInterval.
	WaitMerge    bool
	Timeout      time.Duration
	PollInterval time.Duration
	// CommitStatus sets the status bgrender/<app> on each commit through
	// Forge (the release runner does; a pull request's head is pending
	// from the moment it is opened).
	CommitStatus bool

	DryRun bool
	// Series, with DryRun, chains dry runs: each builds on the last one's
	// commit (in memory), so that the diffs of a stepped promotion follow
	// each other.
	Series      *DrySeries
	Message     *template.Template // gitops.DefaultMessage when nil
	AuthorName  string
	AuthorEmail string
	MaxAttempts int
	Signer      gitops.Signer // signs the commits when set
	// Session, when set, carries the clone from one action of the
	// process to the next (see gitops.Session).
	Session *gitops.Session

	// Evidence, when set, is the case for the change (see package
	// evidence): the pull request's body and the result's Evidence. Each
	// action of a plan holds its own copy of the target: the release
	// runner sets it through the action (UseEvidence) before its commit.
	Evidence *evidence.Evidence
	// Breach, when set, is what bgrender guard saw before this commit,
	// its reaction: the commit message carries it after the template's
	// text, and the evidence (the pull request's body) carries it too.
	Breach *evidence.Breach

	Log   io.Writer
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// DrySeries is a chain of dry runs (see Target.Series).
type DrySeries struct{ last *gitops.Result }

// Result is what an action did, as -o json prints it.
type Result struct {
	Action      string `json:"action"`
	App         string `json:"app"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Image       string `json:"image,omitempty"`
	Replicas    *int32 `json:"replicas,omitempty"`
	NoOp        bool   `json:"noop"`
	Message     string `json:"message"`
	Commit      string `json:"commit,omitempty"`
	Branch      string `json:"branch"`
	PushedTo    string `json:"pushedTo,omitempty"`
	PullRequest string `json:"pullRequest,omitempty"`
	Merged      bool   `json:"merged,omitempty"`
	Attempts    int    `json:"attempts,omitempty"`
	DryRun      bool   `json:"dryRun,omitempty"`
	Diff        string `json:"diff,omitempty"`
	// Live is what --wait-live saw when the cluster served the change.
	Live *Live `json:"live,omitempty"`
	// Gates are the gates that ran before the action, with where each
	// setting came from; the CLI fills them in.
	Gates any `json:"gates,omitempty"`
	// Path is the app folder, in a Group's Apps.
	Path string `json:"path,omitempty"`
	// Apps are the apps of a Group, one result each, in its order.
	Apps []*Result `json:"apps,omitempty"`
	// Evidence is what the pull request's body shows (see package
	// evidence), when the release runner gave the target one.
	Evidence *evidence.Evidence `json:"evidence,omitempty"`
}

// UseEvidence sets the evidence the next commit carries; every action
// (Promote, Deploy, …) has it through its Target.
func (t *Target) UseEvidence(e *evidence.Evidence) { t.Evidence = e }

// Live is the moment the cluster served an action's change.
type Live struct {
	Namespace      string  `json:"namespace"`
	Service        string  `json:"service"`
	Color          string  `json:"color"`
	ReadyEndpoints int     `json:"readyEndpoints"`
	Seconds        float64 `json:"seconds"` // from the command's start
}

// plan is one action's edit of a layout: it returns the change, with Done
// set when the app is already in the wanted state.
type plan func(l layout, history []*object.Commit) (*gitops.Change, error)

// folderEdit is an action's edit of its app folder: the action's name, how
// many commits of history it reads, and its plan.
type folderEdit struct {
	action string
	depth  int
	plan   plan
}

// run applies the plan to the target's app folder as one commit.
func (t *Target) run(ctx context.Context, action string, historyDepth int, p plan) (*Result, error) {
	var before evidence.Folder
	return t.commit(ctx, action, historyDepth, &before, gitops.Folder{Path: t.Path, Editor: t.editor(action, p, &before)})
}

// editor runs the plan on the app folder a gitops.Update copied out (an
// overlay reads its bases from the commit it was copied from); before,
// when set, receives the folder's state before the edit (the evidence's
// one-sentence change compares with it).
func (t *Target) editor(action string, p plan, before *evidence.Folder) gitops.Editor {
	return gitops.EditorFunc(func(dir string, history []*object.Commit) (*gitops.Change, error) {
		var at *repoAt
		if len(history) > 0 {
			at = &repoAt{path: t.Path, commit: history[0]}
		}
		l, done, err := openFolder(dir, at, t.Plain)
		if err != nil {
			return nil, err
		}
		defer done()
		if before != nil {
			*before = beforeEdit(l.state())
		}
		c, err := p(l, history)
		if err != nil {
			return nil, err
		}
		c.Action, c.App, c.State = action, l.state().App, l.state().String()
		if c.Done {
			return c, nil
		}
		if t.Breach != nil {
			c.Details = t.Breach.Markdown()
		}
		return c, l.save()
	})
}

// commit makes one commit (or pull request) of the folders' edits: one
// folder, or a Group's.
func (t *Target) commit(ctx context.Context, action string, historyDepth int, before *evidence.Folder, folders ...gitops.Folder) (*Result, error) {
	u := &gitops.Update{Path: folders[0].Path, Editor: folders[0].Editor, HistoryDepth: historyDepth}
	if len(folders) > 1 {
		u.Path, u.Editor, u.Folders = "", nil, folders
	}
	return t.update(ctx, action, u, before)
}

// update runs u, an edit of the target's app folder (or of a Group's
// Folders), with the target's repository and commit options, as one
// commit (or pull request).
func (t *Target) update(ctx context.Context, action string, u *gitops.Update, before *evidence.Folder) (*Result, error) {
	u.Repo, u.Branch = t.Repo, t.Branch
	if u.Path == "" && len(u.Folders) == 0 {
		u.Path = t.Path
	}
	u.DryRun, u.Message, u.AuthorName, u.AuthorEmail = t.DryRun, t.Message, t.AuthorName, t.AuthorEmail
	u.MaxAttempts, u.Signer, u.Now, u.Sleep, u.Log = t.MaxAttempts, t.Signer, t.Now, t.Sleep, t.Log
	u.Session = t.Session
	if t.PullRequest {
		u.PushBranch = pushBranch
		if t.PullRequestBranch != nil {
			u.PushBranch = t.PullRequestBranch
		}
	}
	if t.DryRun && t.Series != nil {
		u.After = t.Series.last
	}
	res, err := u.Run(ctx)
	if err != nil {
		return nil, err
	}
	if t.DryRun && t.Series != nil && action != "read" {
		t.Series.last = res
	}
	c := res.Change
	out := &Result{Action: action, App: c.App, From: c.From, To: c.To, Image: c.Image,
		NoOp: c.Done, Commit: res.Commit, Branch: res.Branch, Attempts: res.Attempts, DryRun: t.DryRun, Diff: res.Diff}
	if len(u.Folders) > 1 {
		out.Apps = appResults(action, u.Folders, res.Changes)
	}
	if t.DryRun {
		// Nothing was pushed: no commit exists anywhere.
		out.Commit, out.Attempts = "", 0
	}
	if c.Done {
		out.Message = c.Reason
		return out, nil
	}
	var was evidence.Folder
	if before != nil {
		was = *before
	}
	if t.Evidence != nil || (t.Breach != nil && t.PullRequest) {
		// A pull request's body is the evidence, with or without a
		// runner that assembled it.
		out.Evidence = t.Evidence.For(c, was)
		out.Evidence.Path = t.Path
		out.Evidence.Breach = t.Breach
	}
	if !t.DryRun {
		out.PushedTo = res.Pushed
	}
	switch {
	case t.DryRun:
		out.Message = fmt.Sprintf("%s %s: %s (dry run: nothing pushed)", action, c.App, c.Summary)
	case t.PullRequest:
		if err := t.pullRequest(ctx, out, c, was); err != nil {
			return nil, err
		}
	default:
		out.Message = fmt.Sprintf("%s %s: %s; committed %s to %s", action, c.App, c.Summary, short(res.Commit), res.Branch)
	}
	return out, nil
}

// pushBranch names the pull-request branch of a change: its action, its
// app (or a group's apps) and the color it goes to.
func pushBranch(c *gitops.Change) string {
	return PullRequestBranch(c.Action, c.App, c.To)
}

// PullRequestBranch is the branch a change's pull request comes from:
// bgrender/<action>-<app>-<color> (a group's apps joined by "-").
func PullRequestBranch(action, app, to string) string {
	parts := append([]string{action}, strings.Split(app, ", ")...)
	if to != "" {
		parts = append(parts, to)
	}
	return "bgrender/" + strings.Join(parts, "-")
}

// beforeEdit is what the one-sentence change compares with: the folder's
// state before the edit, copied (the edit may change it in place).
func beforeEdit(st *State) evidence.Folder {
	f := evidence.Folder{Active: string(st.Active), Images: map[string]string{}}
	for c, img := range st.Images {
		f.Images[string(c)] = img
	}
	if st.Weight != nil {
		w := *st.Weight
		f.Weight = &w
	}
	return f
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Read returns the state of the app folder on the branch (the color that
// Git wants live, the images and replica counts, the app's namespace)
// without changing anything. A plain folder whose manifests name
// different namespaces is invalid input.
func (t *Target) Read(ctx context.Context) (*State, error) {
	var st *State
	read := *t
	read.PullRequest, read.DryRun, read.Log = false, false, nil
	_, err := read.run(ctx, "read", 0, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		var err error
		st, err = readState(l)
		return &gitops.Change{Done: true, Reason: "read"}, err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// readState is the folder's state as Read returns it: with its namespace
// and its gates.
func readState(l layout) (*State, error) {
	st := l.state()
	var err error
	// A namespace that cannot be told matters only to a caller that reads
	// the cluster: it is kept for that caller.
	st.Namespace, st.NamespaceFrom, st.NamespaceErr = l.namespace()
	if st.Gates, err = l.gates(); err != nil {
		return nil, err
	}
	return st, nil
}
