package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
)

// Member is one app of a group release: its action on its folder in Git
// (a *promote.Promote or *promote.Rollback), the folder as read before the
// plan (nil when nothing needed it), its gates and the cluster options it
// is read with (its namespace, which its folder may name).
type Member struct {
	Action  promote.Member
	Path    string
	State   *promote.State
	Gates   *Gates // nil: none
	Cluster *cluster.Options
}

// GroupOptions are the inputs of a release of several apps as one commit.
type GroupOptions struct {
	Action string // promote or rollback
	// Target is where and how the commit is made; its Path is unused.
	Target  *promote.Target
	Members []*Member
	Live    Live
}

// ForApp returns the gates for one app of a group: the flags' gates, with
// the app's own cluster options, and its folder's gates once UseFolder
// reads them.
func (g *Gates) ForApp(opts *cluster.Options) *Gates {
	c := *g.Checks
	return &Gates{Cluster: opts, App: g.App, Checks: &c, Changed: g.Changed, TimeoutFlag: g.TimeoutFlag,
		NoSpec: g.NoSpec, Wait: g.Wait, NoCluster: g.NoCluster}
}

// PlanGroup plans several apps released as one: the gates of every app
// first, then one commit (or one pull request) that changes every app's
// folder, then the reconcile request and, with Live.Wait, a wait until
// each app's live Service serves the color the commit gave it. A gate's
// refusal commits nothing; so does any app's refusal in the commit (a
// color with no replicas, a rollback to another release), since the
// commit is built for every app or not at all.
func PlanGroup(o GroupOptions) *Plan {
	g := &promote.Group{Target: *o.Target}
	c := &Commit{Action: g, What: fmt.Sprintf("%s %s in one commit", o.Action, strings.Join(groupNames(o.Members), ", "))}
	p := &Plan{Action: o.Action, App: strings.Join(groupNames(o.Members), ", ")}
	for _, m := range o.Members {
		g.Members = append(g.Members, m.Action)
		c.AppGates = append(c.AppGates, m.Gates)
		if m.Gates == nil || !m.Gates.Any() {
			continue
		}
		gates := &RunGates{Gates: m.Gates, Dir: m.Path, Share: 100}
		if a, ok := m.Action.(*promote.Promote); ok {
			gates.Color, gates.Into = a.To, &a.To
			if a.To == "" && m.State != nil && m.State.Preview == "" {
				gates.Color = m.State.Idle() // no preview Service to say it
			}
		}
		e := p.Add(gates, appName(m.State, &promote.Target{Path: m.Path}), Custom)
		e.Wrap = func(_ *Run, err error) error {
			return fmt.Errorf("%w; nothing committed (for any app of the group)", err)
		}
	}
	p.Add(c, "", Stop)
	if len(o.Live.Refs) > 0 {
		p.Add(&Reconcile{Refs: o.Live.Refs}, "", Stop)
	}
	if o.Live.Wait {
		for i, m := range o.Members {
			p.Add(&WaitApp{Member: m, Index: i, Timeout: o.Live.Timeout}, "", Stop)
		}
	}
	return p
}

func groupNames(members []*Member) []string {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = appName(m.State, &promote.Target{Path: m.Path})
	}
	return names
}

// WaitApp waits, after a group's commit, until one app's live Service
// selects the color the commit gave it and its EndpointSlices list only
// ready pods of it (WaitLive for one app of the group).
type WaitApp struct {
	Member  *Member
	Index   int // the app's place in the group (its result in the commit's)
	Timeout time.Duration
}

func (s *WaitApp) Kind() string { return "wait-live" }
func (s *WaitApp) Describe() string {
	return fmt.Sprintf("until the live Service of %s serves the committed color with only ready endpoints (at most %s)",
		appName(s.Member.State, &promote.Target{Path: s.Member.Path}), s.Timeout)
}

func (s *WaitApp) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun {
		return nil
	}
	st := s.Member.State
	if st == nil || r.Last == nil || s.Index >= len(r.Last.Apps) {
		return errors.New("wait-live: the app folder was not read before the commit")
	}
	res := r.Last.Apps[s.Index]
	dyn, ns, err := s.Member.Cluster.Dynamic()
	if err != nil {
		return err
	}
	t := &live.Target{Client: dyn, Namespace: ns, Service: st.Service, ColorLabel: st.ColorLabel, Color: res.To, Timeout: s.Timeout}
	got, err := served(ctx, r, t, st.App)
	if err != nil {
		return err
	}
	res.Live = got
	return nil
}
