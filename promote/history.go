package promote

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/gitops"
)

// History is what the app folder's history in Git says of its colors:
// whether the idle color runs an image deployed since it was last live
// (something to flip to), and which action made the live color live. A
// fleet's promote and rollback read it to resume: a target already
// flipped, or already rolled back, is left as it is.
type History struct {
	// IdleNew: the idle color runs another image than when it was last
	// live in the commits read (or, when none had it live, than the live
	// color runs).
	IdleNew bool
	// Flip is the Bgrender-Action trailer (promote, rollback) of the
	// newest commit read that changed the live color; empty when that
	// commit was no bgrender flip (a hand edit, the folder's first
	// commit) or when no commit read changed it.
	Flip string
}

// ReadHistory reads the app folder on the branch, as Read does, and its
// last historyDepth commits (see History).
func (t *Target) ReadHistory(ctx context.Context) (*State, *History, error) {
	var st *State
	var h *History
	read := *t
	read.PullRequest, read.DryRun, read.Log = false, false, nil
	_, err := read.run(ctx, "read", historyDepth, func(l layout, history []*object.Commit) (*gitops.Change, error) {
		var err error
		if st, err = readState(l); err != nil {
			return nil, err
		}
		h = t.history(history, st, outsideFolders(l))
		return &gitops.Change{Done: true, Reason: "read"}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return st, h, nil
}

// history reads History from the commits of history (newest first).
func (t *Target) history(history []*object.Commit, now *State, outside []string) *History {
	states := newStateCache(t, outside)
	idle := now.Idle()
	h := &History{IdleNew: now.Images[idle] != now.Images[now.Active]}
	events := states.events(history, func(st *State) string { return string(st.Active) + "\x00" + st.Images[idle] })
	if _, then := states.lastLive(events, now, idle); then != nil {
		h.IdleNew = then.Images[idle] != now.Images[idle]
	} else if deploySinceLive(events, now.App, idle) != nil {
		h.IdleNew = true // a bgrender deploy since the last flip
	}
	flips := states.events(history, func(st *State) string { return string(st.Active) })
	if len(flips) > 0 && states.at(flips[0]).Active == now.Active {
		switch a := gitops.ParseTrailers(flips[0].Message)["Bgrender-Action"]; a {
		case "promote", "rollback":
			h.Flip = a
		}
	}
	return h
}
