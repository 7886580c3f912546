package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// Editor changes one app folder. Edit is called once per attempt, on a
// fresh copy of the folder from the current tip of the branch; it must
// make the same change every time (an Editor resolves a relative target
// such as "the idle color" on its first call and keeps it).
type Editor interface {
	// Edit changes the files in dir, the app folder, and describes the
	// change; history holds the newest commits of the branch, newest first
	// (as many as Update.HistoryDepth asks for).
	Edit(dir string, history []*object.Commit) (*Change, error)
}

// EditorFunc adapts a function to Editor.
type EditorFunc func(dir string, history []*object.Commit) (*Change, error)

// Edit calls f.
func (f EditorFunc) Edit(dir string, history []*object.Commit) (*Change, error) {
	return f(dir, history)
}

// Change describes what an Editor did.
type Change struct {
	Action string // deploy, promote, rollback, scale-idle
	App    string
	From   string // the Bgrender-From trailer, such as the color live before
	To     string // the Bgrender-To trailer
	Image  string // the Bgrender-Image trailer (deploy)
	// Replicas, for scale-idle.
	Replicas string
	// Summary completes the commit subject: "<action> <app>: <summary>".
	Summary string
	// Details, when set, is a paragraph of the commit message between
	// the template's text and the trailers, whatever the template (such
	// as the readings that made bgrender guard roll back).
	Details string
	// State is what the change depends on (such as the active color and
	// the images); when it differs between two attempts, someone else
	// changed the app meanwhile and the Update stops with a conflict.
	State string
	// Done means the app is already in the wanted state: nothing to commit.
	Done bool
	// Reason says, in one line, why there is nothing to do.
	Reason string
}

// Update is one change to one app folder (or to several, Folders),
// committed and pushed.
type Update struct {
	Repo   *Repo
	Branch string // the target branch; empty: the remote's default branch
	Path   string // the app folder in the repository
	Editor Editor
	// Folders, when set, are several app folders changed in one commit,
	// each by its own Editor (Path and Editor are then unused): several
	// apps released as one. Every Editor runs on every attempt; a folder
	// already in its wanted state adds nothing, and the commit holds the
	// others. A conflict in any folder stops the Update. No folder may be
	// inside another.
	Folders []Folder

	// PushBranch, when set, names the branch that receives the commit
	// instead of Branch (the commit is still built on Branch's tip): a
	// pull-request branch that bgrender owns and may overwrite.
	PushBranch func(*Change) string
	// DryRun builds the commit and returns its diff without pushing.
	DryRun bool
	// After, with DryRun, builds on the commit of an earlier dry run (in
	// its in-memory clone) instead of the remote tip, so that a series of
	// dry runs shows each change on top of the one before.
	After *Result

	Message     *template.Template // DefaultMessage when nil
	AuthorName  string
	AuthorEmail string
	MaxAttempts int // default 10
	// Signer, when set, signs every commit (SSH or OpenPGP).
	Signer Signer
	// HistoryDepth is how many commits the clone fetches (default 1).
	HistoryDepth int
	// Session, when set, carries the clone from one Update to the next
	// of the same process (see Session).
	Session *Session
	// Create: a folder that the branch does not have is created (the
	// Editor starts from an empty folder) rather than refused.
	Create bool

	Now   func() time.Time                                 // time.Now when nil
	Sleep func(ctx context.Context, d time.Duration) error // a context-aware sleep when nil
	Log   io.Writer                                        // progress lines; io.Discard when nil
}

// Folder is one app folder of an Update and its Editor.
type Folder struct {
	Path   string
	Editor Editor
}

// Result is what an Update did.
type Result struct {
	// Change is the change of the folder; with several folders, all of
	// them as one (see Group), and Changes has each, in Folders' order.
	Change   *Change
	Changes  []*Change
	Branch   string // the target branch
	Pushed   string // the branch the commit went to (Branch or PushBranch)
	Commit   string // the new commit; empty for a no-op
	Base     string // the commit it was built on
	Attempts int
	Diff     string // the unified diff of the commit (always set when a commit was built)

	repo *git.Repository
}

// ConflictError means the app changed on the branch, between two attempts,
// to a state the change was not planned for.
type ConflictError struct {
	Path          string
	Before, After string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s changed on the branch while this change was being pushed (was %s, now %s); not overwriting it: run the action again if it still applies", e.Path, e.Before, e.After)
}

// ErrTooManyAttempts is wrapped when the branch kept moving.
var ErrTooManyAttempts = errors.New("non-fast-forward")

// Run clones, edits, commits and pushes, retrying while the branch moves.
func (u *Update) Run(ctx context.Context) (*Result, error) {
	max := u.MaxAttempts
	if max <= 0 {
		max = 10
	}
	folders, err := u.folders()
	if err != nil {
		return nil, err
	}
	var first []*Change
	for attempt := 1; ; attempt++ {
		res, err := u.attempt(ctx, attempt, folders, first)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = res.Changes
		}
		if res.Commit == "" || u.DryRun {
			if !u.DryRun {
				u.Session.keep(res, u.HistoryDepth)
			}
			return res, nil
		}
		perr := u.push(ctx, res)
		if perr == nil {
			u.Session.keep(res, u.HistoryDepth)
			return res, nil
		}
		if !errors.Is(perr, errMoved) {
			return nil, perr
		}
		if attempt >= max {
			return nil, fmt.Errorf("push to %s: %w after %d attempts: the branch kept moving", res.Pushed, ErrTooManyAttempts, attempt)
		}
		d := backoff(attempt)
		u.logf("push to %s rejected: the branch moved; retrying in %s (attempt %d of %d)", res.Pushed, d.Round(time.Millisecond), attempt+1, max)
		if err := u.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// backoff is a jittered exponential delay ("full jitter"): a random
// point below a ceiling that starts at 400ms and doubles per attempt up to
// 8s, so that writers that lost the same race spread out. With the default
// 10 attempts a writer keeps trying for about 25 seconds.
func backoff(attempt int) time.Duration {
	d := 400 * time.Millisecond << min(attempt-1, 5)
	if d > 8*time.Second {
		d = 8 * time.Second
	}
	return 20*time.Millisecond + rand.N(d)
}

func (u *Update) sleep(ctx context.Context, d time.Duration) error {
	if u.Sleep != nil {
		return u.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (u *Update) logf(format string, args ...any) {
	if u.Log != nil {
		fmt.Fprintf(u.Log, format+"\n", args...)
	}
}

// folders returns the folders to edit: Folders, else Path with Editor.
func (u *Update) folders() ([]Folder, error) {
	if len(u.Folders) == 0 {
		return []Folder{{Path: u.Path, Editor: u.Editor}}, nil
	}
	paths := make([]string, len(u.Folders))
	for i, f := range u.Folders {
		paths[i] = f.Path
	}
	return u.Folders, CheckFolders(paths)
}

// CheckFolders refuses app folders of one commit that are one another, or
// one inside another (bad usage): two editors would write the same files.
func CheckFolders(paths []string) error {
	for i, a := range paths {
		for _, b := range paths[:i] {
			pa, pb := folderPath(a), folderPath(b)
			if pa == pb || pa == "" || pb == "" || strings.HasPrefix(pa, pb+"/") || strings.HasPrefix(pb, pa+"/") {
				return exitcode.Invalidf("the app folders %s and %s overlap: name folders of which none holds another", cleanPath(b), cleanPath(a))
			}
		}
	}
	return nil
}

// attempt clones the tip, runs the editors and builds the commit (not
// pushed). res.Commit is empty when there is nothing to do. first are the
// changes of the first attempt (nil on it).
func (u *Update) attempt(ctx context.Context, n int, folders []Folder, first []*Change) (*Result, error) {
	var repo *git.Repository
	var branch string
	var err error
	if u.DryRun && u.After != nil && u.After.repo != nil {
		repo, branch = u.After.repo, u.After.Branch
	} else if repo, branch = u.Session.reuse(u, n); repo == nil {
		if repo, branch, err = u.clone(ctx); err != nil {
			return nil, err
		}
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	base, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read tip of %s: %w", branch, err)
	}
	root, err := base.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", branch, err)
	}
	history, err := u.history(repo, base)
	if err != nil {
		return nil, err
	}
	res := &Result{Branch: branch, Pushed: branch, Base: base.Hash.String(), Attempts: n, repo: repo}
	changes := map[string]*change{}
	for i, f := range folders {
		c, err := u.edit(root, branch, f, history, changes)
		if err != nil && len(folders) > 1 {
			return nil, fmt.Errorf("%s: %w", cleanPath(f.Path), err) // which app of the group
		}
		if err != nil {
			return nil, err
		}
		if first != nil && !c.Done && c.State != first[i].State {
			return nil, &ConflictError{Path: f.Path, Before: first[i].State, After: c.State}
		}
		res.Changes = append(res.Changes, c)
	}
	res.Change = res.Changes[0]
	if len(folders) > 1 {
		res.Change = Group(res.Changes)
	}
	change := res.Change
	if change.Done {
		return res, nil
	}
	if u.PushBranch != nil {
		res.Pushed = u.PushBranch(change)
	}
	if len(changes) == 0 {
		change.Done = true
		if change.Reason == "" {
			change.Reason = fmt.Sprintf("%s: nothing to change", change.App)
		}
		return res, nil
	}
	st := repo.Storer
	treeHash, err := applyChanges(st, base.TreeHash, changes)
	if err != nil {
		return nil, fmt.Errorf("build tree: %w", err)
	}
	if treeHash == base.TreeHash {
		change.Done = true
		return res, nil
	}
	commit, err := u.commit(repo, base, treeHash, res, folders)
	if err != nil {
		return nil, err
	}
	patch, err := base.PatchContext(ctx, commit)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	res.Diff = patch.String()
	res.Commit = commit.Hash.String()
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(res.Pushed), commit.Hash)); err != nil {
		return nil, err
	}
	if u.DryRun && res.Pushed != branch {
		// A series of dry runs builds on the branch: move it too.
		if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), commit.Hash)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// edit copies folder f out of root into a temporary folder, runs its
// editor there and adds what it changed to changes (paths from the root).
func (u *Update) edit(root *object.Tree, branch string, f Folder, history []*object.Commit, changes map[string]*change) (*Change, error) {
	folder, err := subtree(root, f.Path)
	if errors.Is(err, errNoFolder) && u.Create {
		folder, err = nil, nil // extract gives an empty folder
	}
	if errors.Is(err, errNoFolder) {
		return nil, exitcode.Invalidf("folder %s not found on branch %s of %s", f.Path, branch, u.Repo.URL)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	dir, err := os.MkdirTemp("", "bgrender-app-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	snap, err := extract(folder, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	c, err := f.Editor.Edit(dir, history)
	if err != nil {
		return nil, &folderError{err: err, tmp: dir, path: cleanPath(f.Path)}
	}
	if c.Done {
		return c, nil
	}
	after, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	for p, ch := range snap.changes(after, folderPath(f.Path)) {
		changes[p] = ch
	}
	return c, nil
}

// folderPath cleans a folder path of the repository: slash-separated,
// relative, "" for the root.
func folderPath(p string) string {
	return strings.Trim(path.Clean("/"+filepath.ToSlash(p)), "/")
}

// cleanPath is folderPath for display: "." for the root.
func cleanPath(p string) string {
	if p = folderPath(p); p == "" {
		return "."
	}
	return p
}

func (u *Update) commit(repo *git.Repository, base *object.Commit, tree plumbing.Hash, res *Result, folders []Folder) (*object.Commit, error) {
	tmpl := u.Message
	if tmpl == nil {
		tmpl = DefaultMessage
	}
	c := res.Change
	paths := make([]string, len(folders))
	for i, f := range folders {
		paths[i] = cleanPath(f.Path)
	}
	msg, err := message(tmpl, MessageData{
		Action: c.Action, App: c.App, Path: strings.Join(paths, ", "), Branch: res.Branch,
		From: c.From, To: c.To, Image: c.Image, Replicas: c.Replicas, Summary: c.Summary,
	}, c)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	sig := object.Signature{Name: u.AuthorName, Email: u.AuthorEmail, When: now()}
	if sig.Name == "" {
		sig.Name = "bgrender"
	}
	if sig.Email == "" {
		sig.Email = "bgrender@localhost"
	}
	commit := &object.Commit{
		Author: sig, Committer: sig, Message: msg,
		TreeHash: tree, ParentHashes: []plumbing.Hash{base.Hash},
	}
	if u.Signer != nil {
		unsigned := repo.Storer.NewEncodedObject()
		if err := commit.EncodeWithoutSignature(unsigned); err != nil {
			return nil, err
		}
		r, err := unsigned.Reader()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		if commit.PGPSignature, err = u.Signer.Sign(data); err != nil {
			return nil, fmt.Errorf("sign the commit: %w", err)
		}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return nil, err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return nil, err
	}
	return object.GetCommit(repo.Storer, h)
}

// history returns base and the commits below it, up to HistoryDepth,
// newest first. It follows every parent of a merge, not only the first:
// a "git pull" merge from a stale clone has the branch's real history as
// its second parent. The order is topological (a commit after every
// commit above it), newest committer time first among the commits that
// may come next, as git log --date-order lists them.
func (u *Update) history(repo *git.Repository, base *object.Commit) ([]*object.Commit, error) {
	depth := max(u.HistoryDepth, 1)
	commits := map[plumbing.Hash]*object.Commit{base.Hash: base}
	queue := []*object.Commit{base}
	for len(queue) > 0 && len(commits) < depth*4 {
		c := queue[0]
		queue = queue[1:]
		for _, h := range c.ParentHashes {
			if commits[h] != nil {
				continue
			}
			p, err := repo.CommitObject(h)
			if err != nil {
				continue // the shallow end
			}
			commits[h] = p
			queue = append(queue, p)
		}
	}
	children := map[plumbing.Hash]int{}
	for _, c := range commits {
		for _, h := range c.ParentHashes {
			if commits[h] != nil {
				children[h]++
			}
		}
	}
	var out []*object.Commit
	ready := []*object.Commit{base}
	for len(ready) > 0 && len(out) < depth {
		// The newest of the commits whose children are all listed.
		best := 0
		for i, c := range ready {
			b := ready[best]
			if c.Committer.When.After(b.Committer.When) || (c.Committer.When.Equal(b.Committer.When) && c.Hash.String() < b.Hash.String()) {
				best = i
			}
		}
		c := ready[best]
		ready = append(ready[:best], ready[best+1:]...)
		out = append(out, c)
		for _, h := range c.ParentHashes {
			if p := commits[h]; p != nil {
				if children[h]--; children[h] == 0 {
					ready = append(ready, p)
				}
			}
		}
	}
	return out, nil
}

// clone fetches the tip of the branch (and HistoryDepth-1 commits below
// it) into memory, without a worktree.
func (u *Update) clone(ctx context.Context) (*git.Repository, string, error) {
	opts := &git.CloneOptions{
		URL:          u.Repo.URL,
		Auth:         u.Repo.Auth,
		SingleBranch: true,
		Depth:        max(u.HistoryDepth, 1),
		NoCheckout:   true,
		Tags:         git.NoTags,
	}
	if u.Branch != "" {
		opts.ReferenceName = plumbing.NewBranchReferenceName(u.Branch)
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, opts)
	if u.Branch == "" && err != nil && (errors.Is(err, git.NoMatchingRefSpecError{}) || errors.Is(err, plumbing.ErrReferenceNotFound) ||
		strings.Contains(err.Error(), plumbing.ErrReferenceNotFound.Error())) {
		// HEAD names a branch that does not exist, or is detached.
		return nil, "", exitcode.Invalidf("%s has no default branch (its HEAD is detached or names a branch that does not exist); name one with --branch", u.Repo.URL)
	}
	if errors.Is(err, git.NoMatchingRefSpecError{}) {
		return nil, "", exitcode.Invalidf("branch %s not found in %s", u.Branch, u.Repo.URL)
	}
	if err != nil {
		what := "clone " + u.Repo.URL
		if u.Branch != "" {
			what += " (branch " + u.Branch + ")"
		}
		return nil, "", fmt.Errorf("%s: %w", what, u.Repo.redact(err))
	}
	branch := u.Branch
	if branch == "" {
		head, err := repo.Head()
		if err != nil {
			return nil, "", fmt.Errorf("default branch of %s: %w", u.Repo.URL, u.Repo.redact(err))
		}
		if !head.Name().IsBranch() {
			return nil, "", exitcode.Invalidf("%s has no default branch (its HEAD is detached); name one with --branch", u.Repo.URL)
		}
		branch = head.Name().Short()
	}
	return repo, branch, nil
}

// folderError names the app folder in the repository in an editor's
// error, where the editor saw only the temporary folder it worked in
// (callers say which folder the error is about).
type folderError struct {
	err       error
	tmp, path string
}

func (e *folderError) Error() string { return strings.ReplaceAll(e.err.Error(), e.tmp, e.path) }

func (e *folderError) Unwrap() error { return e.err }
