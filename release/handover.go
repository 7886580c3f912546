package release

import (
	"fmt"

	"github.com/bgrender/bgrender/promote"
)

// handover plans the last step (i) in the NGINX canary mode, where the
// canary's weight and the Services' selectors are separate objects. Three
// commits, each waited for in the cluster, of which none can send a
// request to the old color in any apply order: the canary to 100% (one
// object); the flip of the Services with the canary kept on the new color
// at 100% (every request reaches the new color through the canary,
// whichever object lands first); the canary back to 0% and onto the new
// idle color (one object, while the main Ingress already reaches the new
// color).
func (b *stepPlanner) handover(i int) {
	o, st, p := b.o, b.st, b.p
	to := st.Active.Other()
	label := fmt.Sprintf("step %d (100%%)", i+1)
	reason := fmt.Sprintf("step %d of %d (100%%)", i+1, len(o.Steps))
	if *st.Weight < 100 {
		p.Add(&Commit{Action: &promote.Shift{Target: *o.Target, Weight: 100, To: to}, What: "the canary to 100% on " + string(to)}, label, Return).Reason = reason
		b.reconcile(label, Return, nil).Reason = reason
		p.Add(&WaitTraffic{Weight: 100, To: to, Timeout: o.Live.Timeout, Step: true}, label+", the canary to 100%", StaysResume).
			Milestone = &Milestone{Weight: 100, Phase: "canary"}
	} else {
		// Resumed at 100%: the flip may follow only once the cluster
		// serves the canary at 100%.
		e := p.Add(&WaitTraffic{Weight: 100, To: to, Timeout: o.Live.Timeout, Step: true}, label, Custom)
		e.Wrap = func(_ *Run, err error) error {
			return fmt.Errorf("%s: the canary at 100%% is not served yet: %w; nothing committed (a re-run with --to %s resumes)", label, err, to)
		}
	}
	flipFailed := func(_ *Run, err error) error {
		return fmt.Errorf("%s, the flip: %w; Git keeps the canary at 100%% on %s (a re-run with --to %s resumes)", label, err, to, to)
	}
	e := p.Add(&Commit{Action: &promote.Promote{Target: *o.Target, To: to, Handover: true}, What: "flip the Services to " + string(to) + ", the canary kept there"}, label, Custom)
	e.Wrap = flipFailed
	b.reconcile(label, Custom, flipFailed)
	p.Add(&WaitLive{Timeout: o.Live.Timeout}, label+", the flip", StaysResume).Milestone = &Milestone{Weight: 100, Phase: "flip"}
	b.endHandover(100, false, label+": ")
}

// endHandover plans the end of a hand-over whose canary carries weight
// percent to the new live color. Managed, one commit: the canary back to
// 0% on the new idle color's Service (one object). Plain manifests, two:
// the canary to 0% (it sends to the preview Service, still on the live
// color), then, once the cluster serves that, the preview Service on to
// the new idle color (the canary, at 0%, follows with it). resumed says
// the folder was read after the flip (a re-run), not before it; prefix
// begins each error.
func (b *stepPlanner) endHandover(weight int32, resumed bool, prefix string) {
	o, st, p := b.o, b.st, b.p
	newLive, idle := st.Active, st.Active.Other()
	if !resumed {
		newLive, idle = idle, newLive
	}
	again := fmt.Sprintf("a re-run with --to %s resumes", newLive)
	stays := func(what string) func(*Run, error) error {
		return func(r *Run, err error) error {
			return fmt.Errorf("%s%s: %w; the commit stays (%s) and %s", prefix, what, err, Landed(r.Last), again)
		}
	}
	failed := func(format string, args ...any) func(*Run, error) error {
		return func(_ *Run, err error) error {
			return fmt.Errorf("%sthe end of the hand-over: %w; "+format, append([]any{prefix, err}, args...)...)
		}
	}
	end := &promote.Shift{Target: *o.Target, Weight: 0, EndHandover: true}
	custom := func(s Step, wrap func(*Run, error) error) *Entry {
		e := p.Add(s, "", Custom)
		e.Wrap = wrap
		return e
	}
	if !st.Plain || weight > 0 {
		wrap := failed("%s is live on %s, its canary still at %d%% there (%s)", st.App, newLive, weight, again)
		custom(&Commit{Action: end, What: "the canary back to 0%"}, wrap)
		b.reconcile("", Custom, wrap)
		to := idle
		if st.Plain {
			to = newLive // still through the preview Service on the live color
		}
		custom(&WaitTraffic{Weight: 0, To: to, Timeout: o.Live.Timeout, Step: true}, stays("the canary back to 0%")).
			Milestone = &Milestone{Weight: 0, Phase: "end"}
	}
	if !st.Plain {
		return
	}
	// The canary must be at 0% in the cluster before the preview Service
	// it sends to moves on (a resumed run has not seen it yet).
	custom(&WaitTraffic{Weight: 0, To: newLive, Timeout: o.Live.Timeout, Step: true}, func(_ *Run, err error) error {
		return fmt.Errorf("%sthe canary of the hand-over is not at 0%% in the cluster yet: %w; nothing committed (%s)", prefix, err, again)
	})
	wrap := failed("%s is live on %s, its preview Service still there (%s)", st.App, newLive, again)
	custom(&Commit{Action: end, What: "the preview Service on to " + string(idle)}, wrap)
	b.reconcile("", Custom, wrap)
	custom(&WaitLive{Service: st.Preview, Color: idle, Timeout: o.Live.Timeout, Quiet: true}, stays("the preview Service on to "+string(idle))).
		Milestone = &Milestone{Weight: 0, Phase: "preview"}
}
