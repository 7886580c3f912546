package release

import (
	"fmt"
	"strings"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// StepsOptions are the inputs of a promotion in steps of traffic.
type StepsOptions struct {
	Target *promote.Target
	// Steps are the idle color's shares, increasing, ending at 100.
	Steps []int32
	// To, when set, is the color promoted to: with it, a re-run after the
	// promotion ended does nothing instead of promoting back.
	To    spec.Color
	Gates *Gates
	// Live.Timeout bounds each wait; Live.Refs are asked to reconcile
	// after each commit.
	Live Live
	// Hold is how long each step is held before the next, the error-rate
	// gate reading every Interval meanwhile.
	Hold, Interval time.Duration
}

// PlanSteps plans a promotion in steps: before each step the gates on the
// idle color; the step's commit (a shift; the last a promote that flips
// the Services and ends the shift in one commit); a wait until the
// cluster routes the step's weights; a hold during which the error-rate
// gate keeps reading. A refused gate returns traffic to the live color
// (the plan's fallback). In the NGINX canary mode the last step is a
// hand-over of three commits (four in plain manifests), since the
// canary's weight and the Services are separate objects.
//
// The plan resumes from Git: steps at or below the weight Git already
// sends are done, and a hand-over interrupted after its flip plans only
// its end.
func PlanSteps(o StepsOptions, st *promote.State) (*Plan, error) {
	if st.Weight == nil {
		return nil, exitcode.Invalidf("--steps: the app folder %s splits no traffic: add spec.traffic (a gateway with its parentRefs) to bgrender.yaml; nothing committed", o.Target.Path)
	}
	midway := st.Handover || st.PreviewOnLive // a hand-over's flip is in Git
	if st.Canary && st.CannotHandOver != "" && !midway {
		return nil, exitcode.Invalidf("--steps: %s; nothing committed", st.CannotHandOver)
	}
	if o.Target.DryRun {
		o.Target.Series = &promote.DrySeries{}
	}
	active, idle := st.Active, st.Active.Other()
	p := &Plan{Action: "promote", App: st.App, From: active, To: idle, Stepped: true, Shifted: *st.Weight > 0}
	b := &stepPlanner{o: o, st: st, p: p}
	switch target := o.To; {
	case midway && (target == "" || target == active):
		// A hand-over interrupted after its flip (the canary still on the
		// new color): only its end remains, once the cluster serves the
		// flip, so that no apply order can mix the two commits.
		p.Note = fmt.Sprintf("resuming: %s is live on %s in Git and its canary still sends %d%% there; ending the hand-over once the cluster serves the flip", st.App, active, *st.Weight)
		p.From, p.To = idle, active
		e := p.Add(&WaitLive{Service: st.Service, Color: active, Timeout: o.Live.Timeout, Quiet: true}, "", Custom)
		e.Wrap = func(_ *Run, err error) error {
			return fmt.Errorf("the flip of the hand-over is not served yet: %w; nothing committed (a re-run with --to %s resumes)", err, active)
		}
		b.endHandover(*st.Weight, true, "")
		return p, nil
	case target == active && *st.Weight == 0:
		p.Note = fmt.Sprintf("%s is already live on %s with no share shifted; nothing to do", st.App, active)
		p.From = idle
		return p, nil
	case target == active:
		return nil, exitcode.GateRefused(fmt.Errorf("%s is live on %s, but Git shifts %d%% to %s: not a promotion to %s; shift --weight 0 returns it", st.App, active, *st.Weight, idle, active))
	}
	first := 0
	if *st.Weight > 0 {
		for first < len(o.Steps)-1 && o.Steps[first] <= *st.Weight {
			first++
		}
		p.Note = fmt.Sprintf("resuming: Git already sends %d%% to %s; next step %d%%", *st.Weight, idle, o.Steps[first])
	}
	p.Fallback = func(reason string, why error) []Step {
		back := &promote.Shift{Target: *o.Target, Weight: 0, Reason: fmt.Sprintf("%s refused: %v", reason, why)}
		return []Step{&Commit{Action: back, What: "return traffic to " + string(active)}, &Reconcile{Refs: o.Live.Refs}}
	}
	for i := first; i < len(o.Steps); i++ {
		if !b.step(i) {
			break
		}
	}
	return p, nil
}

// stepPlanner builds the entries of a stepped promotion.
type stepPlanner struct {
	o  StepsOptions
	st *promote.State
	p  *Plan
}

// step plans step i and reports whether another may follow.
func (b *stepPlanner) step(i int) bool {
	o, st, p := b.o, b.st, b.p
	w, idle := o.Steps[i], st.Active.Other()
	label := fmt.Sprintf("step %d (%d%%)", i+1, w)
	reason := fmt.Sprintf("step %d of %d (%d%%)", i+1, len(o.Steps), w)
	if o.Gates != nil && o.Gates.Any() {
		say := fmt.Sprintf("dry run: %s would first run %s on %s", label, strings.Join(o.Gates.Checks.Names(), ", "), idle)
		p.Add(&RunGates{Gates: o.Gates, Color: idle, DryRunSays: say, Share: w}, label, Return).Reason = reason
	}
	if w == 100 && st.Canary {
		b.handover(i)
		return false
	}
	var c *Commit
	if w < 100 {
		c = &Commit{Action: &promote.Shift{Target: *o.Target, Weight: w, To: idle}, What: fmt.Sprintf("send %d%% to %s", w, idle), Shifts: true}
	} else {
		c = &Commit{Action: &promote.Promote{Target: *o.Target, To: idle}, What: "flip the Services to " + string(idle) + " and end the shift", Shifts: true}
	}
	p.Add(c, label, Return).Reason = reason
	b.reconcile(label, Return, nil).Reason = reason
	p.Add(&WaitTraffic{Weight: w, To: idle, Timeout: o.Live.Timeout, Step: true}, label, Stays).Milestone = &Milestone{Weight: w}
	if w == 100 {
		// Always, --wait-live or not: nothing may follow before the flip
		// is served.
		p.Add(&WaitLive{Color: idle, Timeout: o.Live.Timeout}, "", Stop)
		return false
	}
	if o.Hold > 0 {
		p.Add(&Hold{Gates: o.Gates, Color: idle, For: o.Hold, Interval: o.Interval}, label, Return).Reason = reason
	}
	return true
}

// reconcile adds the reconcile request after a commit, when asked for.
func (b *stepPlanner) reconcile(label string, onError OnError, wrap func(*Run, error) error) *Entry {
	if len(b.o.Live.Refs) == 0 {
		return &Entry{} // nothing to add
	}
	e := b.p.Add(&Reconcile{Refs: b.o.Live.Refs}, label, onError)
	e.Wrap = wrap
	return e
}
