package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/notify"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// notifyCommit tells the webhooks of the commit c just made: one event
// per transition (a deploy, a promotion, each step of a stepped one, a
// rollback), with the gates' readings taken since the last event.
func (r *Run) notifyCommit(ctx context.Context, c *Commit) {
	res := r.Last
	if r.Notify == nil || res == nil || res.NoOp || res.DryRun {
		return
	}
	ev := r.event(res.Action)
	if r.Plan.Stepped {
		ev.Event = "step"
	}
	ev.App, ev.From, ev.To, ev.Image = res.App, res.From, res.To, res.Image
	ev.Commit, ev.Branch, ev.PullRequest = res.Commit, res.Branch, res.PullRequest
	ev.Weight = weightOf(c.Action)
	ev.Text = fmt.Sprintf("bgrender: %s %s: %s (%s)", r.Plan.Action, res.App, summaryOf(res, ev.Weight), Landed(res))
	r.Notify.Send(ctx, ev)
}

// notifyEnd tells the webhooks that the release stopped on err: refused
// by a gate, or failed.
func (r *Run) notifyEnd(ctx context.Context, err error) {
	if r.Notify == nil || err == nil || r.Target.DryRun {
		return
	}
	ev := r.event(r.Plan.Action)
	ev.Event = "failed"
	if IsRefusal(err) {
		ev.Event = "refused"
	}
	ev.From, ev.To = string(r.Plan.From), string(r.Plan.To)
	if r.Last != nil {
		ev.Commit, ev.Branch, ev.PullRequest = r.Last.Commit, r.Last.Branch, r.Last.PullRequest
	}
	ev.Reason = gate.RedactText(err.Error())
	ev.Text = fmt.Sprintf("bgrender: %s %s %s: %s", r.Plan.Action, ev.App, ev.Event, ev.Reason)
	r.Notify.Send(context.WithoutCancel(ctx), ev)
}

// event is an event of the run, with the gates' results not yet told.
func (r *Run) event(action string) notify.Event {
	ev := notify.Event{Event: action, App: r.Plan.App, Action: r.Plan.Action, Seconds: r.since(), At: r.now().UTC().Truncate(time.Millisecond)}
	if r.State != nil {
		// The plan may name the app by its folder ("in apps/web").
		ev.Namespace = r.State.Namespace
		if r.State.App != "" {
			ev.App = r.State.App
		}
	}
	if g := r.gates(); g != nil && len(g.Results) > r.told {
		ev.Gates = append([]gate.Result(nil), g.Results[r.told:]...)
		r.told = len(g.Results)
	}
	return ev
}

// weightOf is the share of traffic the action sends to its color.
func weightOf(a Action) *int32 {
	var w int32
	switch a := a.(type) {
	case interface{ TrafficWeight() int32 }: // promote.Shift
		w = a.TrafficWeight()
	case *promote.Promote, *promote.Rollback:
		w = 100
	default:
		return nil
	}
	return &w
}

// summaryOf says what the result changed, in a few words: "blue →
// green", "25% to green", "myapp:v2 on green", else the summary of its
// message ("<action> <app>: <summary>; committed …").
func summaryOf(res *promote.Result, weight *int32) string {
	switch {
	case (res.Action == "promote" || res.Action == "rollback") && res.From != "" && res.To != "" && res.From != res.To:
		return res.From + " → " + res.To
	case res.Action == "shift" && weight != nil:
		return fmt.Sprintf("%d%% to %s", *weight, res.To)
	case res.Image != "":
		return res.Image + " on " + res.To
	}
	_, summary, _ := strings.Cut(res.Message, ": ")
	summary, _, _ = strings.Cut(summary, "; ")
	if summary == "" {
		return res.Action
	}
	return summary
}

// notifyBreach tells the webhooks what guard saw, before it reacts: the
// breached color (live, or the one Git shifts a share to), the probe and
// its reading against the maximum, and the error-rate readings of that
// color.
func (g *Guard) notifyBreach(ctx context.Context, env *Env, app *App, live string, b *evidence.Breach) {
	if env.Notify == nil {
		return
	}
	react, to := "rolling back", string(spec.Color(live).Other())
	if b.Color != live {
		react, to = "returning its share to "+live, live
	}
	ev := notify.Event{Event: "guard-breach", App: app.Name, Namespace: app.Namespace, Action: "guard", From: b.Color, To: to,
		Reason: gate.RedactText(b.Probe + ": " + b.Reason), Breach: b, Seconds: env.since(), At: env.now().UTC().Truncate(time.Millisecond)}
	ev.Text = fmt.Sprintf("bgrender guard: %s %s breached: %s (maximum error rate %s%%%s); %s", app.Name, b.Color, ev.Reason, gate.FormatPercent(g.Checks.MaxErrorRate), lastReadings(b), react)
	env.Notify.Send(ctx, ev)
}

// lastReadings lists the last few readings with a value, for a chat line:
// ", last readings 0.2%, 0.4%, 7.5%".
func lastReadings(b *evidence.Breach) string {
	var vs []string
	for _, m := range b.Readings {
		if !m.NoData {
			vs = append(vs, gate.FormatPercent(m.Percent)+"%")
		}
	}
	if len(vs) == 0 {
		return ""
	}
	return ", last readings " + strings.Join(vs[max(0, len(vs)-5):], ", ")
}
