package gitops

import git "github.com/go-git/go-git/v5"

// Session carries one in-memory clone from an Update to the next in the
// same process — a release reads the app folder, commits the deploy, then
// the flip — so that the repository is cloned once, not once per commit.
// The next Update builds on the commit the last one read or pushed: when
// the branch has moved since, its push is rejected and it clones the new
// tip, as any Update whose branch moved does (and stops with a conflict
// if the app itself changed). A clone is passed on only when the last
// Update read the target branch or pushed to it directly, and only to an
// Update that pushes to the branch and needs no more history than the
// clone was made with (one commit, unless the Update that cloned read
// more: a fleet reads each folder's history from one clone): a pull
// request's base moves on the server when it is merged, which the clone
// would not know.
type Session struct {
	repo   *git.Repository
	branch string
	depth  int // the history the clone was made with
}

// reuse returns the clone for the first attempt of u, or nil.
func (s *Session) reuse(u *Update, attempt int) (*git.Repository, string) {
	if s == nil || s.repo == nil || attempt > 1 || u.PushBranch != nil || u.HistoryDepth > max(s.depth, 1) ||
		(u.Branch != "" && u.Branch != s.branch) {
		return nil, ""
	}
	return s.repo, s.branch
}

// keep takes the clone of a result that read the branch or pushed to it;
// depth is the history u cloned with, when it did not reuse the
// session's.
func (s *Session) keep(res *Result, depth int) {
	if s == nil || res.repo == nil {
		return
	}
	if res.Commit != "" && res.Pushed != res.Branch {
		s.repo = nil // the branch in the clone is not the server's
		return
	}
	if res.repo != s.repo {
		s.depth = depth
	}
	s.repo, s.branch = res.repo, res.Branch
}
