package release

import (
	"errors"
	"fmt"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// Live is what an action does once its change is on the branch: ask the
// GitOps agent to apply it now (Refs, --reconcile), and wait until the
// cluster serves it (Wait, --wait-live, at most Timeout).
type Live struct {
	Wait    bool
	Timeout time.Duration
	Refs    []agent.Ref
}

// Any reports whether the action does anything after the push.
func (l Live) Any() bool { return l.Wait || len(l.Refs) > 0 }

// after appends the reconcile request and, with Wait, wait.
func (l Live) after(p *Plan, wait Step) {
	if len(l.Refs) > 0 {
		p.Add(&Reconcile{Refs: l.Refs}, "", Stop)
	}
	if l.Wait && wait != nil {
		p.Add(wait, "", Stop)
	}
}

// appName is the app as the folder names it, or, when the folder was not
// read before the plan, the folder.
func appName(st *promote.State, t *promote.Target) string {
	if st != nil && st.App != "" {
		return st.App
	}
	return "in " + t.Path
}

// PromoteOptions are the inputs of a promotion in one commit.
type PromoteOptions struct {
	Target *promote.Target
	To     spec.Color // empty: the idle color, or the one the gates checked
	Force  bool
	Gates  *Gates // nil or none: no gate
	Live   Live
	// Match: before the gates, raise the color's floor to what the live
	// color runs now and wait for the pods (MatchCapacity); after the
	// flip, once its autoscaler has read the traffic (SettleFloor),
	// restore the floor it raised. It needs st and Gates.
	Match        bool
	MatchTimeout time.Duration
	// SettleHold bounds the wait, before the restore, until the color's
	// autoscaler has read the traffic (SettleFloor).
	SettleHold time.Duration
}

// PlanPromote plans a promotion in one commit: the gates on the color to
// promote, the commit that flips the live Service, then the reconcile
// request and the wait until the cluster serves it. st is the app folder
// as read before (nil when nothing needed it).
func PlanPromote(o PromoteOptions, st *promote.State) *Plan {
	if o.Match && o.Target.DryRun { // each commit's diff builds on the one before
		o.Target.Series = &promote.DrySeries{}
	}
	a := &promote.Promote{Target: *o.Target, To: o.To, Force: o.Force}
	p := &Plan{Action: "promote", App: appName(st, o.Target), To: o.To}
	var match *MatchCapacity
	if o.Gates != nil && o.Gates.Any() {
		color := o.To
		if color == "" && st != nil && st.Preview == "" {
			// No preview Service to say which color to check: the idle
			// color in Git.
			color = st.Idle()
		}
		if o.Match {
			if color == "" {
				color = st.Idle()
			}
			a.To = color
			match = &MatchCapacity{Gates: o.Gates, Target: o.Target, To: color, Refs: o.Live.Refs, Timeout: o.MatchTimeout}
			p.Add(match, "", Stop)
		}
		gates := &RunGates{Gates: o.Gates, Color: color, Into: &a.To, Share: 100}
		if o.Match && o.Target.DryRun {
			gates.DryRunSays = fmt.Sprintf("dry run: the gates would run here on %s, once its raised floor is ready", color)
		}
		e := p.Add(gates, "", Custom)
		e.Wrap = func(r *Run, err error) error {
			if r.Last != nil {
				return fmt.Errorf("%w; nothing promoted (the raised floor stays: %s)", err, Landed(r.Last))
			}
			return fmt.Errorf("%w; nothing committed", err)
		}
	}
	p.Add(&Commit{Action: a, What: promoteWhat(o.To), Gates: o.Gates}, "", Stop)
	o.Live.after(p, &WaitLive{Timeout: o.Live.Timeout})
	if match != nil {
		p.Add(&SettleFloor{Gates: o.Gates, Color: a.To, Match: match, Hold: o.SettleHold}, "", Stop)
		restore := &promote.RaiseFloor{Target: *o.Target, Color: a.To, Restore: true}
		p.Add(&Commit{Action: restore, What: "restore the floor the match raised (its autoscaler then scales down by its own rules)"}, "", Stop)
		if len(o.Live.Refs) > 0 {
			p.Add(&Reconcile{Refs: o.Live.Refs}, "", Stop)
		}
	}
	return p
}

func promoteWhat(to spec.Color) string {
	if to == "" {
		return "flip the live Service to the idle color"
	}
	return "flip the live Service to " + string(to)
}

// DeployOptions are the inputs of a deploy.
type DeployOptions struct {
	Target *promote.Target
	Image  string
	Color  spec.Color // empty: the idle color
	Force  bool
	// Wait: once the commit is served, the rollout gate (and the other
	// gates asked for) on the color.
	Wait  bool
	Gates *Gates
	Live  Live
}

// PlanDeploy plans a deploy: the commit of the image, the reconcile
// request, with spec.migrations.expand the wait for the image's expand
// Job (see WaitMigration), the wait until the color's Service serves the image, and with
// Wait the gates on the color. st is the app folder as read before (nil
// when nothing after the commit needs it).
func PlanDeploy(o DeployOptions, st *promote.State) (*Plan, error) {
	if o.Wait && o.Gates == nil {
		return nil, errors.New("deploy: waiting for the rollout needs Gates (the cluster to read)")
	}
	a := &promote.Deploy{Target: *o.Target, Image: o.Image, Color: o.Color, Force: o.Force}
	p := &Plan{Action: "deploy", App: appName(st, o.Target)}
	if st != nil {
		target := o.Color
		if target == "" {
			target = st.Active.Other()
		}
		switch {
		case o.Live.Wait && target != st.Active && st.Preview == "":
			return nil, exitcode.Invalidf("--wait-live: the app folder %s has no preview Service to watch (--wait waits for the rollout instead); nothing committed", o.Target.Path)
		case o.Live.Wait && st.Replicas[target] == 0:
			return nil, exitcode.Invalidf("--wait-live: %s runs 0 replicas in the app folder %s, so no Service can serve it (scale it up first: scale-idle --replicas N); nothing committed", target, o.Target.Path)
		}
	}
	what := "set the idle color's image to " + o.Image
	if o.Color != "" {
		what = "set " + string(o.Color) + "'s image to " + o.Image
	}
	p.Add(&Commit{Action: a, What: what}, "", Stop)
	after := o.Live
	if m := migrationWait(o, st); m != nil {
		// The Job is in the commit: have the agent apply it, then wait
		// for it before the rollout.
		if len(after.Refs) > 0 {
			p.Add(&Reconcile{Refs: after.Refs}, "", Stop)
			after.Refs = nil
		}
		e := p.Add(m, "", Custom)
		e.Wrap = func(r *Run, err error) error { return fmt.Errorf("%w; the deploy stays (%s)", err, Landed(r.Last)) }
	}
	after.after(p, &WaitLive{Preview: true, Image: o.Image, Timeout: o.Live.Timeout})
	if o.Wait {
		e := p.Add(&RunGates{Gates: o.Gates, Image: o.Image}, "", Custom)
		e.Wrap = func(r *Run, err error) error { return fmt.Errorf("%w; the deploy stays (%s)", err, Landed(r.Last)) }
	}
	return p, nil
}

// PlanRollback plans a rollback: the commit that flips the live Service
// back, the reconcile request and the wait until the cluster serves it.
func PlanRollback(a *promote.Rollback, l Live, st *promote.State) *Plan {
	p := &Plan{Action: "rollback", App: appName(st, &a.Target)}
	p.Add(&Commit{Action: a, What: "flip the live Service back to the previous color"}, "", Stop)
	l.after(p, &WaitLive{Timeout: l.Timeout})
	return p
}

// CapacityFirst puts the capacity gate before the plan's first step: the
// gates g (with only the capacity gate on) on color, about to take share
// percent of the traffic. A refusal commits nothing. It is how rollback
// and shift gate their traffic; promote and release plan it with their
// other gates.
func (p *Plan) CapacityFirst(g *Gates, color spec.Color, share int32) {
	e := Entry{Step: &RunGates{Gates: g, Color: color, Share: share}, OnError: Custom,
		Wrap: func(_ *Run, err error) error { return fmt.Errorf("%w; nothing committed", err) }}
	p.Entries = append([]Entry{e}, p.Entries...)
}

// PlanScaleIdle plans the commit that scales the idle color.
func PlanScaleIdle(a *promote.ScaleIdle) *Plan {
	p := &Plan{Action: "scale-idle", App: appName(nil, &a.Target)}
	p.Add(&Commit{Action: a, What: fmt.Sprintf("scale the idle color to %d replicas", a.Replicas)}, "", Stop)
	return p
}

// PlanShift plans a shift of traffic: the commit of the idle color's
// share, the reconcile request and the wait until the cluster routes it.
func PlanShift(a *promote.Shift, l Live, st *promote.State) *Plan {
	p := &Plan{Action: "shift", App: appName(st, &a.Target)}
	p.Add(&Commit{Action: a, What: fmt.Sprintf("send %d%% of the traffic to the idle color", a.Weight)}, "", Stop)
	if len(l.Refs) > 0 {
		p.Add(&Reconcile{Refs: l.Refs}, "", Stop)
	}
	if l.Wait && st != nil {
		e := p.Add(&WaitTraffic{Weight: a.Weight, To: st.Active.Other(), Service: st.CanaryService, Timeout: l.Timeout}, "", Custom)
		e.Wrap = func(r *Run, err error) error {
			return fmt.Errorf("%s: %w; the change stays (%s)", st.App, err, Landed(r.Last))
		}
	}
	return p
}

// PlanDeployChart plans a deploy of a chart's render: the commit of the
// post-rendered render (the idle color), then the reconcile request.
func PlanDeployChart(a *promote.DeployChart, l Live) *Plan {
	p := &Plan{Action: "deploy", App: appName(nil, &a.Target)}
	p.Add(&Commit{Action: a, What: "render chart " + a.Chart + " on the idle color"}, "", Stop)
	l.after(p, nil)
	return p
}
