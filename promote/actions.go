package promote

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// Promote flips traffic to a color: the Service selector, and the color
// annotations, of the app.
type Promote struct {
	Target
	// To is the color to send traffic to; empty: the idle color, resolved
	// once, on the first read of the branch.
	To spec.Color
	// Force promotes even to a color that has no replicas, or that runs
	// an image the last contract retired.
	Force bool
	// Handover, in the NGINX canary mode with all requests on the canary
	// (weight 100 to To), flips the Services and keeps the canary on To at
	// 100 (spec.traffic.canaryColor): whichever object the agent applies
	// first, every request goes to To. A shift to 0 then ends it. This is
	// the last step of promote --steps.
	Handover bool
}

// handingOver refuses an action in the middle of a hand-over (see
// Promote.Handover): only weight 0, which ends it, may follow.
func handingOver(st *State, what string) error {
	if !st.Handover {
		return nil
	}
	return exitcode.GateRefused(fmt.Errorf("%s is being handed over to %s (a stepped promotion flipped the Services while its NGINX canary carries %d%% of the requests there); %s must wait: re-run promote --steps --to %s to finish it (it waits until the cluster serves the flip), or shift --weight 0 --force if it does", st.App, st.Active, weightOf(st), what, st.Active))
}

// handoverEnd is the summary of the commit that ends a hand-over (the
// first of two in plain manifests, where the canary sends to the preview
// Service).
func handoverEnd(st *State) string {
	switch {
	case st.Plain && weightOf(st) > 0:
		return fmt.Sprintf("the hand-over to %s: its canary back to 0%% (the preview Service moves on to %s next)", st.Active, st.Idle())
	case st.Plain:
		return fmt.Sprintf("end the hand-over to %s: the preview Service, and the canary at 0%% with it, move on to %s", st.Active, st.Idle())
	}
	return fmt.Sprintf("end the hand-over to %s: its canary returns to %s at 0%%", st.Active, st.Idle())
}

func weightOf(st *State) int32 {
	if st.Weight == nil {
		return 0
	}
	return *st.Weight
}

// Run commits the flip.
func (a *Promote) Run(ctx context.Context) (*Result, error) {
	e := a.edit()
	return a.run(ctx, e.action, e.depth, e.plan)
}

// edit is the flip, as Run and a Group make it.
func (a *Promote) edit() folderEdit {
	to := a.To
	return folderEdit{"promote", 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		st := l.state()
		if to == "" {
			to = st.Idle()
		}
		c := &gitops.Change{From: string(st.Active), To: string(to), Summary: fmt.Sprintf("switch traffic from %s to %s", st.Active, to)}
		shifted := st.Weight != nil && *st.Weight != 0
		if st.Handover && st.Active == to && a.Force {
			c.Summary = handoverEnd(st)
			return c, l.setWeight(0)
		}
		if err := handingOver(st, "a promote to "+string(to)); err != nil {
			return nil, err
		}
		if st.Active == to && !shifted {
			c.From, c.Done, c.Reason = string(to), true, fmt.Sprintf("%s is already live on %s; nothing to do", st.App, to)
			return c, nil
		}
		if st.Active == to { // the active color gets back the share shifted away
			c.Summary = fmt.Sprintf("send all traffic to %s (ends the %d%% shift to %s)", to, *st.Weight, to.Other())
			return c, l.setWeight(0)
		}
		if !a.Force {
			if err := pastContract(st, to); err != nil {
				return nil, err
			}
			if err := canServe(st, to); err != nil {
				return nil, err
			}
		}
		if a.Handover {
			if !st.Canary || weightOf(st) != 100 || st.Shifted != to {
				return nil, fmt.Errorf("conflict: %s's canary in Git sends %d%% to %s, not 100%% to %s (a change since the steps began); the steps stop", st.App, weightOf(st), st.Shifted, to)
			}
			c.Summary += fmt.Sprintf(" (the canary keeps 100%% on %s until the next commit)", to)
			if err := l.holdCanary(to); err != nil {
				return nil, err
			}
			return c, l.setActive(to)
		}
		if shifted && st.Canary && !a.Force {
			// The canary's weight and the Services' selectors are separate
			// objects: applied canary first, the shifted share would go
			// back to the old color for a moment.
			return nil, exitcode.GateRefused(fmt.Errorf("%s sends %d%% to %s through its NGINX canary Ingress: a flip now would end the shift and move the Services in separate objects, and applied in the wrong order the share goes back to %s for a moment; promote --steps 100 hands over without that moment, or shift --weight 0 first (or --force)", st.App, *st.Weight, to, st.Active))
		}
		if shifted {
			// In the same commit: the route then names the new color alone,
			// whichever order the agent applies the objects in.
			c.Summary += fmt.Sprintf(" (ends the %d%% shift)", *st.Weight)
			if err := l.setWeight(0); err != nil {
				return nil, err
			}
		}
		return c, l.setActive(to)
	}}
}

// canServe refuses to route traffic to a color that has no pods: no
// Deployment in the app folder, or 0 replicas.
func canServe(st *State, to spec.Color) error {
	n, found := st.Replicas[to]
	switch {
	case !found:
		return exitcode.GateRefused(fmt.Errorf("%s has no Deployment for %s in the app folder: traffic would go to no pods; add it, or use --force if it lives elsewhere", st.App, to))
	case n == 0:
		return exitcode.GateRefused(fmt.Errorf("%s has 0 replicas on %s: scale it up first (scale-idle --replicas N) or use --force", st.App, to))
	}
	return nil
}

// canCarry refuses a share that would load each pod of color to more than
// each pod of the live color is loaded when it carries everything: a
// weight of w% needs at least w% of the live color's replica count.
func canCarry(st *State, to spec.Color, w int32) error {
	ri, ra := st.Replicas[to], st.Replicas[st.Active]
	if int64(w)*int64(ra) <= 100*int64(ri) {
		return nil
	}
	need := (int64(w)*int64(ra) + 99) / 100
	return exitcode.GateRefused(fmt.Errorf("%d%% of %s's requests on %s's %d replicas would load each more than each of %s's %d replicas is at 100%%: scale-idle --replicas %d (or more) first, or --force", w, st.App, to, ri, st.Active, ra, need))
}

// Idle returns the color the live Service does not route to.
func (s *State) Idle() spec.Color { return s.Active.Other() }

// Deploy puts an image on a color, by default the idle one.
type Deploy struct {
	Target
	Image string
	// Color is blue, green, or empty for the idle color (resolved once).
	Color spec.Color
	// Force allows changing the live color's image.
	Force bool
}

// Run commits the new image.
func (a *Deploy) Run(ctx context.Context) (*Result, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	e := a.edit()
	return a.run(ctx, e.action, e.depth, e.plan)
}

// check refuses a missing or malformed image (bad usage).
func (a *Deploy) check() error {
	if a.Image == "" {
		return exitcode.Invalidf("no image: set --image")
	}
	if !spec.ValidImage(a.Image) {
		return exitcode.Invalidf("--image %q is not a valid image reference (expected [registry/]repository[:tag][@digest], repository in lower case)", a.Image)
	}
	return nil
}

// edit is the new image, as Run and a Group (a fleet's wave) make it.
func (a *Deploy) edit() folderEdit {
	color := a.Color
	return folderEdit{"deploy", 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		if err := a.check(); err != nil {
			return nil, err
		}
		st := l.state()
		if color == "" {
			color = st.Idle()
		}
		c := &gitops.Change{From: string(st.Active), To: string(color), Image: a.Image,
			Summary: fmt.Sprintf("run %s on %s", a.Image, color)}
		if st.Images[color] == a.Image {
			c.Done, c.Reason = true, fmt.Sprintf("%s already runs %s on %s; nothing to do", st.App, a.Image, color)
			return c, nil
		}
		if color == st.Active && !a.Force {
			return nil, exitcode.GateRefused(fmt.Errorf("%s is the live color of %s: changing its image changes production without a flip; deploy to %s or use --force", color, st.App, st.Idle()))
		}
		if err := handingOver(st, "a deploy"); err != nil {
			return nil, err
		}
		if color == st.Idle() && st.Weight != nil && *st.Weight > 0 && !a.Force {
			return nil, exitcode.GateRefused(fmt.Errorf("%s carries %d%% of %s's traffic (spec.traffic.weight): a new image would roll out under live requests; shift --weight 0 first, or use --force", color, *st.Weight, st.App))
		}
		return c, l.setImage(color, a.Image)
	}}
}

// Rollback flips traffic back to the previous color
// (bgrender.io/previous-color).
type Rollback struct {
	Target
	// Force rolls back even when a deploy has put a new image on the
	// previous color since it was live, or when it runs an image the last
	// contract retired.
	Force bool
	// Reason, if set, says why (such as what tripped bgrender guard); it
	// ends the commit's summary, and so its subject.
	Reason string
	// From, if set, is the color to roll back from (the one that breached,
	// for bgrender guard): when Git routes to another color already, there
	// is nothing to roll back, and nothing is committed.
	From spec.Color
}

// historyDepth is how many commits a rollback reads to find when the
// previous color was last live.
const historyDepth = 200

// Run commits the flip back.
func (a *Rollback) Run(ctx context.Context) (*Result, error) {
	e := a.edit()
	return a.run(ctx, e.action, e.depth, e.plan)
}

// edit is the flip back, as Run and a Group make it.
func (a *Rollback) edit() folderEdit {
	var to spec.Color
	return folderEdit{"rollback", historyDepth, func(l layout, history []*object.Commit) (*gitops.Change, error) {
		st := l.state()
		if to == "" {
			to = st.Previous
		}
		c := &gitops.Change{From: string(st.Active), To: string(to), Summary: fmt.Sprintf("switch traffic back from %s to %s", st.Active, to)}
		if a.Reason != "" {
			c.Summary += ": " + a.Reason
		}
		if err := handingOver(st, "a rollback"); err != nil {
			return nil, err
		}
		if st.Weight != nil && *st.Weight != 0 && a.From == "" {
			// During a shift, a rollback returns the shifted share to the
			// live color; the Services stay.
			c.To = string(st.Active)
			c.Summary = fmt.Sprintf("return the %d%% shifted to %s to %s", *st.Weight, st.Idle(), st.Active)
			if a.Reason != "" {
				c.Summary += ": " + a.Reason
			}
			return c, l.setWeight(0)
		}
		if st.Active == to {
			c.Done, c.Reason = true, fmt.Sprintf("%s is already live on %s; nothing to roll back", st.App, to)
			return c, nil
		}
		if a.From != "" && st.Active != a.From {
			c.Done, c.Reason = true, fmt.Sprintf("Git already routes %s to %s, not %s; nothing to roll back", st.App, st.Active, a.From)
			return c, nil
		}
		if !a.Force {
			if err := pastContract(st, to); err != nil {
				return nil, err
			}
			if err := canServe(st, to); err != nil {
				return nil, err
			}
			if err := a.checkSinceLive(history, st, to, outsideFolders(l)); err != nil {
				return nil, err
			}
		}
		if st.Weight != nil && *st.Weight != 0 {
			// The flip ends the shift in the same commit: the weight would
			// otherwise send its share to the color rolled back from.
			if err := l.setWeight(0); err != nil {
				return nil, err
			}
		}
		return c, l.setActive(to)
	}}
}

// checkSinceLive refuses a rollback to color to when to runs another image
// than when it was last live: then traffic would not go back to the
// previous release. It reads the app folder in the commits of history
// (newest first) back to the newest one where to was live, so a hand edit
// counts as much as a bgrender deploy; when no commit in history had to
// live, it falls back to the Bgrender-* trailers.
func (a *Rollback) checkSinceLive(history []*object.Commit, now *State, to spec.Color, outside []string) error {
	states := newStateCache(&a.Target, outside)
	events := states.events(history, func(st *State) string { return string(st.Active) + "\x00" + st.Images[to] })
	if commit, then := states.lastLive(events, now, to); then != nil {
		if was := then.Images[to]; was != "" && was != now.Images[to] {
			return exitcode.GateRefused(fmt.Errorf("%s runs %s, but ran %s when it was last live (commit %s): a rollback would not return to the previous release; deploy %s to %s first, or use --force",
				to, now.Images[to], was, short(commit.Hash.String()), was, to))
		}
		return nil
	}
	// The commit that had it live is older than the history read: a
	// bgrender deploy to it since, whose image it still runs, tells.
	if d := deploySinceLive(events, now.App, to); d != nil {
		if tr := gitops.ParseTrailers(d.Message); tr["Bgrender-Image"] == now.Images[to] {
			return exitcode.GateRefused(fmt.Errorf("%s got a new image (%s, commit %s) since it was live: a rollback would not return to the previous release; deploy the old image or use --force",
				to, tr["Bgrender-Image"], short(d.Hash.String())))
		}
	}
	if a.Log != nil {
		fmt.Fprintf(a.Log, "bgrender rollback: warning: none of the %d commits read that changed %s has %s live on %s; its image (%s) is not checked against the release it ran\n",
			len(events), a.Path, now.App, to, now.Images[to])
	}
	return nil
}

// events returns the commits of history (newest first) that changed what
// key reads of the app folder, compared with every parent. A commit that
// only added a file, a merge that took one side's state, and a commit
// from a stale clone that carries an old state forward unchanged are no
// events: their state was not made there.
func (c *stateCache) events(history []*object.Commit, key func(*State) string) []*object.Commit {
	var out []*object.Commit
	for _, commit := range history {
		st := c.at(commit)
		if st == nil {
			continue // no readable folder in this commit
		}
		event := true
		_ = commit.Parents().ForEach(func(p *object.Commit) error {
			if ps := c.at(p); ps != nil && key(ps) == key(st) {
				event = false
				return storer.ErrStop
			}
			return nil
		})
		if event {
			out = append(out, commit)
		}
	}
	return out
}

// lastLive returns the newest of events (newest first) where the app of
// now had color to live, and the folder as it had it; nil when none.
func (c *stateCache) lastLive(events []*object.Commit, now *State, to spec.Color) (*object.Commit, *State) {
	for _, commit := range events {
		if then := c.at(commit); then != nil && then.Active == to && then.App == now.App {
			return commit, then
		}
	}
	return nil, nil
}

// stateCache reads the app folder of commits, once per folder tree (and,
// for an overlay, per tree of the folders outside it that it is built
// from).
type stateCache struct {
	t       *Target
	outside []string
	byTree  map[string]*State
}

func newStateCache(t *Target, outside []string) *stateCache {
	return &stateCache{t: t, outside: outside, byTree: map[string]*State{}}
}

// at returns the app's state in commit, or nil when it has no readable
// app folder.
func (c *stateCache) at(commit *object.Commit) *State {
	h, err := gitops.FolderHash(commit, c.t.Path)
	if err != nil {
		return nil
	}
	key := h.String()
	for _, p := range c.outside {
		if oh, err := gitops.FolderHash(commit, p); err == nil {
			key += " " + oh.String()
		} else {
			key += " -"
		}
	}
	if st, ok := c.byTree[key]; ok {
		return st
	}
	st, err := c.t.stateAt(commit)
	if err != nil {
		st = nil
	}
	c.byTree[key] = st
	return st
}

// stateAt reads the app folder as commit had it.
func (t *Target) stateAt(commit *object.Commit) (*State, error) {
	dir, err := os.MkdirTemp("", "bgrender-history-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := gitops.ExtractFolder(commit, t.Path, dir); err != nil {
		return nil, err
	}
	l, done, err := openFolder(dir, &repoAt{path: t.Path, commit: commit}, t.Plain)
	if err != nil {
		return nil, err
	}
	defer done()
	return l.state(), nil
}

// outsideFolders lists the folders outside the app folder that an overlay
// is built from (none for another layout).
func outsideFolders(l layout) []string {
	if ov, ok := l.(*overlay); ok {
		return ov.kfs.folders
	}
	return nil
}

// deploySinceLive returns the newest bgrender deploy to color c of app
// that came after the last flip of app (promote or rollback), or nil.
func deploySinceLive(history []*object.Commit, app string, c spec.Color) *object.Commit {
	for _, commit := range history {
		tr := gitops.ParseTrailers(commit.Message)
		if !slices.Contains(gitops.AppsOf(tr), app) {
			continue
		}
		switch tr["Bgrender-Action"] {
		case "promote", "rollback":
			return nil
		case "deploy":
			if tr["Bgrender-To"] == string(c) {
				return commit
			}
		}
	}
	return nil
}

// ScaleIdle sets the replica count of the idle color.
type ScaleIdle struct {
	Target
	Replicas int32
}

// Run commits the new replica count.
func (a *ScaleIdle) Run(ctx context.Context) (*Result, error) {
	if a.Replicas < 0 {
		return nil, exitcode.Invalidf("--replicas %d: must be 0 or more", a.Replicas)
	}
	res, err := a.run(ctx, "scale-idle", 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		st := l.state()
		idle := st.Idle()
		n := strconv.Itoa(int(a.Replicas))
		c := &gitops.Change{From: string(st.Active), To: string(idle), Replicas: n,
			Summary: fmt.Sprintf("scale %s from %d to %s replicas", idle, st.Replicas[idle], n)}
		if r, known := st.Replicas[idle]; known && r == a.Replicas {
			c.Done, c.Reason = true, fmt.Sprintf("%s already has %s replicas on %s; nothing to do", st.App, n, idle)
			return c, nil
		}
		if err := handingOver(st, "scaling the idle color"); err != nil {
			return nil, err
		}
		if a.Replicas == 0 && st.Weight != nil && *st.Weight > 0 {
			return nil, exitcode.GateRefused(fmt.Errorf("%s carries %d%% of %s's traffic (spec.traffic.weight): at 0 replicas those requests would go to no pods; shift --weight 0 first", idle, *st.Weight, st.App))
		}
		return c, l.setIdleReplicas(a.Replicas)
	})
	if res != nil {
		res.Replicas = &a.Replicas
	}
	return res, err
}

// Shift gives the idle color a share of the traffic, in percent: the app's
// HTTPRoute then sends weight% of requests to the idle color and the rest
// to the active one.
type Shift struct {
	Target
	Weight int32
	// Reason, if set, says why (a refused step of a stepped promotion).
	Reason string
	// To, if set, is the idle color the shift is for (a stepped
	// promotion): when Git's idle color is another, the app changed under
	// the promotion and the shift stops with a conflict.
	To spec.Color
	// Force shifts traffic even to a color with no pods, and lets weight
	// 0 end a hand-over (see Promote.Handover) without promote --steps.
	Force bool
	// EndHandover, with weight 0, ends a hand-over (the caller has seen the
	// cluster serve its flip): the canary's share returns to the main
	// Ingress; in plain manifests, at 0%, the preview Service moves on.
	EndHandover bool
}

// TrafficWeight is the share of traffic the shift sends to the idle
// color, for the notifications of a release.
func (a *Shift) TrafficWeight() int32 { return a.Weight }

// Run commits the new weight.
func (a *Shift) Run(ctx context.Context) (*Result, error) {
	if a.Weight < 0 || a.Weight > 100 {
		return nil, exitcode.Invalidf("--weight %d: want a percentage, 0 to 100", a.Weight)
	}
	return a.run(ctx, "shift", 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		st := l.state()
		idle := st.Idle()
		if a.To != "" && a.To != idle {
			return nil, fmt.Errorf("conflict: %s's idle color in Git is now %s, not %s (a promote or rollback since the steps began); the steps stop", st.App, idle, a.To)
		}
		c := &gitops.Change{From: string(st.Active), To: string(idle),
			Summary: fmt.Sprintf("send %d%% of traffic to %s (%s keeps %d%%)", a.Weight, idle, st.Active, 100-a.Weight)}
		if st.PreviewOnLive && a.Weight == 0 && a.EndHandover {
			c.Summary = handoverEnd(st)
			return c, l.setWeight(0)
		}
		if st.Handover {
			if a.Weight != 0 || !(a.EndHandover || a.Force) {
				return nil, handingOver(st, fmt.Sprintf("a shift to %d%%", a.Weight))
			}
			c.Summary = handoverEnd(st)
			if a.Reason != "" {
				c.Summary += ": " + a.Reason
			}
			return c, l.setWeight(0)
		}
		if a.Weight > 0 && !a.Force {
			if err := pastContract(st, idle); err != nil {
				return nil, err
			}
			if err := canServe(st, idle); err != nil {
				return nil, err
			}
			if err := canCarry(st, idle, a.Weight); err != nil {
				return nil, err
			}
		}
		if a.Reason != "" {
			c.Summary += ": " + a.Reason
		}
		if a.Weight == 0 {
			c.To = string(st.Active) // where the share goes back
		}
		if st.Weight != nil && *st.Weight == a.Weight {
			c.Done, c.Reason = true, fmt.Sprintf("%s already sends %d%% of traffic to %s; nothing to do", st.App, a.Weight, idle)
			return c, nil
		}
		return c, l.setWeight(a.Weight)
	})
}
