package release

import (
	"fmt"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// ReleaseOptions are the inputs of a whole release in one run: deploy the
// image to the idle color, wait until it is rolled out, run the gates on
// it, promote it, and wait until the cluster serves it.
type ReleaseOptions struct {
	Target *promote.Target
	Image  string
	// Gates run on the idle color once it runs the image; the rollout gate
	// always does (Gates.Wait is set by PlanRelease).
	Gates *Gates
	// Live: Refs are asked to reconcile after each commit; Wait waits
	// until the live Service serves the new color after the flip.
	Live Live
}

// PlanRelease plans deploy → (the expand migration) → rollout and gates →
// promote → live as one
// run, each commit as the separate commands make it (so each stays a
// reviewable commit or pull request). st is the app folder as read before
// the plan; the plan resumes from it: when the idle color already runs
// the image (an earlier run deployed it), the deploy is skipped; when the
// live color runs it, there is nothing to do. A refusal of the gates
// commits no flip.
func PlanRelease(o ReleaseOptions, st *promote.State) (*Plan, error) {
	if st == nil {
		return nil, fmt.Errorf("release: the app folder must be read before the plan")
	}
	idle := st.Active.Other()
	p := &Plan{Action: "release", App: st.App, From: st.Active, To: idle}
	switch {
	case st.Images[st.Active] == o.Image:
		p.From, p.To = "", ""
		p.Note = fmt.Sprintf("%s is live on %s already: nothing to do", o.Image, st.Active)
		return p, nil
	case st.Replicas[idle] == 0:
		return nil, exitcode.Invalidf("the idle color %s runs 0 replicas in the app folder %s, so it cannot take the traffic (scale it up first: scale-idle --replicas N); nothing committed", idle, o.Target.Path)
	case st.Images[idle] == o.Image:
		p.Note = fmt.Sprintf("%s runs %s already (an earlier release deployed it): resuming with its rollout and gates", idle, o.Image)
	default:
		// The color is named, not "idle": should the folder flip between
		// the read and the commit, the deploy refuses to change the live
		// color rather than deploying to the wrong one.
		deploy := &promote.Deploy{Target: *o.Target, Image: o.Image, Color: idle}
		p.Add(&Commit{Action: deploy, What: fmt.Sprintf("set %s's image to %s", idle, o.Image)}, "deploy", Stop)
		if len(o.Live.Refs) > 0 {
			p.Add(&Reconcile{Refs: o.Live.Refs}, "deploy", Stop)
		}
	}
	if st.ExpandJob != nil {
		// The deploy committed the image's expand Job: it runs to
		// success before the rollout gates look at the color.
		m := p.Add(&WaitMigration{Job: st.ExpandJob(idle, o.Image), Color: idle, Timeout: o.Gates.Checks.Timeout}, "", Custom)
		m.Wrap = func(r *Run, err error) error {
			return fmt.Errorf("%w; nothing promoted: %s keeps the traffic, and %s runs %s (%s)", err, st.Active, idle, o.Image, Landed(r.Last))
		}
	}
	o.Gates.Wait = true
	gates := &RunGates{Gates: o.Gates, Color: idle, Image: o.Image, Share: 100}
	if o.Target.DryRun {
		gates.DryRunSays = fmt.Sprintf("dry run: the rollout of %s on %s and its gates would run here", o.Image, idle)
	}
	e := p.Add(gates, "", Custom)
	e.Wrap = func(r *Run, err error) error {
		return fmt.Errorf("%w; nothing promoted: %s keeps the traffic, and %s runs %s (%s); a re-run resumes", err, st.Active, idle, o.Image, Landed(r.Last))
	}
	flip := &promote.Promote{Target: *o.Target, To: idle}
	p.Add(&Commit{Action: flip, What: promoteWhat(idle), Gates: o.Gates}, "promote", Stop)
	o.Live.after(p, &WaitLive{Color: idle, Timeout: o.Live.Timeout})
	return p, nil
}

// releaseReport is -o json of a release: every commit it made.
type releaseReport struct {
	App     string            `json:"app"`
	From    spec.Color        `json:"from,omitempty"`
	To      spec.Color        `json:"to,omitempty"`
	Commits []*promote.Result `json:"commits"`
	Plan    []StepReport      `json:"plan"`
}
