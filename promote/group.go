package promote

import (
	"context"
	"fmt"
	"strings"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
)

// Member is an action that a Group commits with others: a Promote, a
// Rollback or a Deploy, each on its own app folder.
type Member interface {
	target() *Target
	edit() folderEdit
}

func (a *Promote) target() *Target  { return &a.Target }
func (a *Rollback) target() *Target { return &a.Target }
func (a *Deploy) target() *Target   { return &a.Target }

// Group commits several actions (promotions, rollbacks or deploys), each on its own app folder of one
// repository, as one commit (or one pull request): a frontend and its API
// flipped together. Each member edits its folder as it would alone, with
// its own refusals; any member's refusal or error commits nothing. An app
// already in its wanted state adds nothing to the commit. Target says
// where and how to commit; its Path and Plain are unused (each member
// has its own), and the members' commit options are unused.
type Group struct {
	Target
	Members []Member
}

// Run commits the members' edits as one commit.
func (g *Group) Run(ctx context.Context) (*Result, error) {
	if len(g.Members) == 0 {
		return nil, exitcode.Invalidf("a group needs at least one app folder")
	}
	t := g.Target
	var folders []gitops.Folder
	var paths []string
	action, depth := "", 1
	for _, m := range g.Members {
		mt, e := m.target(), m.edit()
		if action != "" && e.action != action {
			return nil, exitcode.Invalidf("a group commits one action, not %s and %s", action, e.action)
		}
		action, depth = e.action, max(depth, e.depth)
		folders = append(folders, gitops.Folder{Path: mt.Path, Editor: mt.editor(e.action, e.plan, nil)})
		paths = append(paths, mt.Path)
	}
	t.Path = strings.Join(paths, ", ") // for the pull request's body
	res, err := t.commit(ctx, action, depth, nil, folders...)
	if err == nil && len(res.Apps) == 0 {
		// A group of one (a fleet's wave of one target in a repository)
		// reports its app as a group of several does.
		one := *res
		one.Path = paths[0]
		res.Apps = []*Result{&one}
	}
	return res, err
}

// appResults are a group commit's results, one per app folder.
func appResults(action string, folders []gitops.Folder, changes []*gitops.Change) []*Result {
	out := make([]*Result, len(changes))
	for i, c := range changes {
		r := &Result{Action: action, App: c.App, From: c.From, To: c.To, NoOp: c.Done, Path: folders[i].Path}
		if c.Done {
			r.Message = c.Reason
		} else {
			r.Message = fmt.Sprintf("%s %s: %s", action, c.App, c.Summary)
		}
		out[i] = r
	}
	return out
}
