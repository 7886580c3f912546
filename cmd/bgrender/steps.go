package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// parseSteps reads --steps: increasing percentages that end at 100.
func parseSteps(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100 {
			return nil, usageError("--steps %q: %q is not a percentage from 1 to 100", s, f)
		}
		if len(out) > 0 && int32(n) <= out[len(out)-1] {
			return nil, usageError("--steps %q: the steps must increase", s)
		}
		out = append(out, int32(n))
	}
	if len(out) == 0 || out[len(out)-1] != 100 {
		return nil, usageError("--steps %q: the last step must be 100 (the flip)", s)
	}
	return out, nil
}

// stepResult is one step of a stepped promotion, for -o json.
type stepResult struct {
	Weight int32 `json:"weight"`
	// Phase, in the NGINX canary mode's last step, names its commit:
	// canary (to 100%), flip (the Services, the canary kept), end (the
	// canary back to 0%: on the new idle color; in plain manifests still
	// through the preview Service) and, in plain manifests, preview (the
	// preview Service on to the new idle color).
	Phase   string          `json:"phase,omitempty"`
	Result  *promote.Result `json:"result"`
	Seconds float64         `json:"seconds"` // from the command's start, when the cluster showed it
}

// stepped promotes in steps: before each, the gates on the idle color; then
// the step's commit (a shift, the last a promote that flips the Services and
// ends the shift in one commit); then a wait until the HTTPRoute carries the
// step's weights and its Gateways accepted it; then --step-wait, during
// which the error-rate gate keeps reading. A refused gate commits a return
// to weight 0 naming the step and the reason, and exits 3.
type stepped struct {
	s     streams
	g     *gitFlags
	t     *promote.Target
	gates *clusterGates
	after *liveFlags
	steps []int32
	// to, from --to, is the color promoted to (default: the idle color):
	// with it, a re-run after the promotion ended does nothing, instead
	// of promoting back.
	to       spec.Color
	wait     time.Duration
	interval time.Duration
	start    time.Time
}

func (p *stepped) run(ctx context.Context) error {
	st, err := folderNamespace(ctx, p.gates.opts, p.t)
	if err != nil {
		return fmt.Errorf("%w; nothing committed", err)
	}
	if err := p.gates.useFolder(st); err != nil {
		return fmt.Errorf("%w; nothing committed", err)
	}
	if st.Weight == nil {
		return usageError("--steps: the app folder %s splits no traffic: add spec.traffic (a gateway with its parentRefs) to bgrender.yaml; nothing committed", p.g.path)
	}
	midway := st.Handover || st.PreviewOnLive // a hand-over's flip is in Git
	if st.Canary && st.CannotHandOver != "" && !midway {
		return usageError("--steps: %s; nothing committed", st.CannotHandOver)
	}
	// A dry run chains every step's commit in memory and prints each diff;
	// it runs no gate, waits for nothing and pushes nothing.
	dry := p.g.dryRun
	var dyn dynamic.Interface
	var ns string
	if dry {
		p.t.Series = &promote.DrySeries{}
	} else if dyn, ns, err = p.gates.opts.Dynamic(); err != nil {
		return err
	}
	active, idle := st.Active, st.Active.Other()
	from, to := active, idle // the promotion's, for -o json
	say := func(format string, args ...any) { fmt.Fprintf(p.s.err, "bgrender promote: "+format+"\n", args...) }
	var done []stepResult
	report := func() error {
		if p.g.output != "json" {
			return nil
		}
		data, err := json.MarshalIndent(map[string]any{"app": st.App, "from": from, "to": to, "steps": done}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.s.out, "%s\n", data)
		return err
	}
	commit := func(run func(context.Context) (*promote.Result, error)) (*promote.Result, error) {
		res, err := run(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.g.path, err)
		}
		if !dry {
			res.Diff = "" // only a dry run shows it
		}
		if p.g.output != "json" {
			if err := p.g.report(p.s, res); err != nil {
				return res, err
			}
		}
		if dry {
			return res, nil
		}
		return res, p.after.reconcileNow(ctx, p.s, "promote", p.gates.opts, res)
	}
	// refuse returns traffic to the live color after a refused step.
	refuse := func(i int, w int32, why error) error {
		back := &promote.Shift{Target: *p.t, Weight: 0, Reason: fmt.Sprintf("step %d of %d (%d%%) refused: %v", i+1, len(p.steps), w, why)}
		res, err := commit(back.Run)
		if err != nil {
			return fmt.Errorf("step %d (%d%%): %v; the return to weight 0 failed: %w", i+1, w, why, err)
		}
		done = append(done, stepResult{Weight: 0, Result: res, Seconds: time.Since(p.start).Seconds()})
		if err := report(); err != nil {
			return err
		}
		return exitcode.GateRefused(fmt.Errorf("step %d (%d%%): %w; traffic returned to %s (%s)", i+1, w, why, active, landed(res)))
	}
	// route waits until the cluster's HTTPRoute sends w% to color to, or
	// the canary Ingress w% to color to's Service.
	route := func(w int32, to spec.Color) error {
		if dry {
			return nil
		}
		var got string
		var err error
		if st.Canary {
			svc := st.App + "-" + string(to)
			if st.Plain {
				svc = st.CanaryService // the preview Service, whose selector follows the idle color
			}
			got, err = live.WaitCanary(ctx, &live.Canary{Client: dyn, Namespace: ns, Name: st.CanaryIngress, Weight: w, Service: svc, Timeout: p.after.timeout})
		} else {
			weights := map[string]int32{st.RouteServices[to]: w, st.RouteServices[to.Other()]: 100 - w}
			var r fmt.Stringer
			r, err = live.WaitRoute(ctx, &live.Route{Client: dyn, Namespace: ns, Name: st.RouteName, Weights: weights, Timeout: p.after.timeout})
			if r != nil {
				got = r.String()
			}
		}
		if err != nil {
			return err
		}
		say("step live: %s (%.2fs after the start)", got, time.Since(p.start).Seconds())
		return nil
	}
	// flipped waits until the active Service selects the new color and its
	// endpoints are ready, as promote --wait-live does.
	flipped := func(res *promote.Result) error {
		if dry {
			return nil
		}
		wait := *p.after
		wait.refs = nil // asked already, after the commit
		// Always, --wait-live or not: the next commit (the hand-over's end)
		// must not reach the cluster before this one is served.
		wait.wait = true
		return wait.after(ctx, p.s, "promote", p.gates.opts, st, res, p.start, "")
	}
	switch target := p.to; {
	case midway && (target == "" || target == active):
		// A hand-over interrupted after its flip (the canary still on the
		// new color): only its end remains, once the cluster serves the
		// flip, so that no apply order can mix the two commits.
		say("resuming: %s is live on %s in Git and its canary still sends %d%% there; ending the hand-over once the cluster serves the flip", st.App, active, *st.Weight)
		from, to = idle, active
		if !dry {
			if _, err := live.Wait(ctx, &live.Target{Client: dyn, Namespace: ns, Service: st.Service, ColorLabel: st.ColorLabel, Color: string(active), Timeout: p.after.timeout}); err != nil {
				return fmt.Errorf("the flip of the hand-over is not served yet: %w; nothing committed (a re-run with --to %s resumes)", err, active)
			}
		}
		if err := p.endHandover(ctx, st, *st.Weight, true, commit, route, &done, dyn, ns); err != nil {
			_ = report()
			return err
		}
		return report()
	case target == active && *st.Weight == 0:
		say("%s is already live on %s with no share shifted; nothing to do", st.App, active)
		from = idle
		return report()
	case target == active:
		return exitcode.GateRefused(fmt.Errorf("%s is live on %s, but Git shifts %d%% to %s: not a promotion to %s; shift --weight 0 returns it", st.App, active, *st.Weight, idle, active))
	}
	// A re-run resumes: the steps at or below the weight Git already has
	// are done.
	first := 0
	if *st.Weight > 0 {
		for first < len(p.steps)-1 && p.steps[first] <= *st.Weight {
			first++
		}
		say("resuming: Git already sends %d%% to %s; next step %d%%", *st.Weight, idle, p.steps[first])
	}
	// fail ends the promotion on err: a refusal (exit 3) returns traffic to
	// the live color, unless nothing was shifted yet; any other error (the
	// cluster or Prometheus unreadable, a Git failure) leaves Git as it is
	// and exits 1, so that a re-run resumes.
	shifted := *st.Weight > 0
	fail := func(i int, w int32, err error) error {
		if !isRefusal(err) {
			_ = report()
			return fmt.Errorf("step %d (%d%%): %w; Git keeps the weight of the last step (a re-run with --to %s resumes)", i+1, w, err, idle)
		}
		if !shifted {
			_ = report()
			return exitcode.GateRefused(fmt.Errorf("step %d (%d%%): %w; nothing committed", i+1, w, err))
		}
		return refuse(i, w, err)
	}
	for i := first; i < len(p.steps); i++ {
		w := p.steps[i]
		switch {
		case dry && p.gates.checks.Any():
			say("dry run: step %d (%d%%) would first run %s on %s", i+1, w, strings.Join(enabled(p.gates.checks), ", "), idle)
		case p.gates.checks.Any():
			if _, err := p.gates.run(ctx, p.s, "promote", p.g.path, string(idle)); err != nil {
				return fail(i, w, err)
			}
		}
		if w == 100 && st.Canary {
			return p.handover(ctx, i, st, commit, route, flipped, fail, &done, report, dyn, ns)
		}
		var res *promote.Result
		if w < 100 {
			res, err = commit((&promote.Shift{Target: *p.t, Weight: w, To: idle}).Run)
		} else {
			res, err = commit((&promote.Promote{Target: *p.t, To: idle}).Run)
		}
		if err != nil {
			return fail(i, w, err)
		}
		shifted = true
		if err := route(w, idle); err != nil {
			_ = report()
			return fmt.Errorf("step %d (%d%%): %w; the step stays (%s)", i+1, w, err, landed(res))
		}
		done = append(done, stepResult{Weight: w, Result: res, Seconds: time.Since(p.start).Seconds()})
		if w == 100 {
			if err := flipped(res); err != nil {
				_ = report()
				return err
			}
			break
		}
		if dry {
			continue
		}
		if err := p.hold(ctx, string(idle)); err != nil {
			return fail(i, w, err)
		}
	}
	return report()
}

// handover is the last step in the NGINX canary mode, where the canary's
// weight and the Services' selectors are separate objects. Three commits,
// each waited for in the cluster, of which none can send a request to the
// old color in any apply order: the canary to 100% (one object); the flip
// of the Services with the canary kept on the new color at 100% (every
// request reaches the new color through the canary, whichever object lands
// first); the canary back to 0% and onto the new idle color (one object,
// while the main Ingress already reaches the new color).
func (p *stepped) handover(ctx context.Context, i int, st *promote.State,
	commit func(func(context.Context) (*promote.Result, error)) (*promote.Result, error),
	route func(int32, spec.Color) error, flipped func(*promote.Result) error,
	fail func(int, int32, error) error, done *[]stepResult, report func() error, dyn dynamic.Interface, ns string) error {
	to := st.Active.Other()
	stays := func(what string, res *promote.Result, err error) error {
		_ = report()
		return fmt.Errorf("step %d (100%%), %s: %w; the commit stays (%s) and a re-run with --to %s resumes", i+1, what, err, landed(res), to)
	}
	if *st.Weight < 100 {
		res, err := commit((&promote.Shift{Target: *p.t, Weight: 100, To: to}).Run)
		if err != nil {
			return fail(i, 100, err)
		}
		if err := route(100, to); err != nil {
			return stays("the canary to 100%", res, err)
		}
		*done = append(*done, stepResult{Weight: 100, Phase: "canary", Result: res, Seconds: time.Since(p.start).Seconds()})
	} else if err := route(100, to); err != nil {
		// Resumed at 100%: the flip may follow only once the cluster
		// serves the canary at 100%.
		_ = report()
		return fmt.Errorf("step %d (100%%): the canary at 100%% is not served yet: %w; nothing committed (a re-run with --to %s resumes)", i+1, err, to)
	}
	res, err := commit((&promote.Promote{Target: *p.t, To: to, Handover: true}).Run)
	if err != nil {
		_ = report()
		return fmt.Errorf("step %d (100%%), the flip: %w; Git keeps the canary at 100%% on %s (a re-run with --to %s resumes)", i+1, err, to, to)
	}
	if err := flipped(res); err != nil {
		return stays("the flip", res, err)
	}
	*done = append(*done, stepResult{Weight: 100, Phase: "flip", Result: res, Seconds: time.Since(p.start).Seconds()})
	if err := p.endHandover(ctx, st, 100, false, commit, route, done, dyn, ns); err != nil {
		_ = report()
		return fmt.Errorf("step %d (100%%): %w", i+1, err)
	}
	return report()
}

// endHandover ends a hand-over whose canary carries weight percent to the
// new live color. Managed, one commit: the canary back to 0% on the new
// idle color's Service (one object). Plain manifests, two: the canary to
// 0% (it sends to the preview Service, still on the live color), then,
// once the cluster serves that, the preview Service on to the new idle
// color (the canary, at 0%, follows with it). resumed says st is from
// after the flip (a re-run), not from before it.
func (p *stepped) endHandover(ctx context.Context, st *promote.State, weight int32, resumed bool,
	commit func(func(context.Context) (*promote.Result, error)) (*promote.Result, error),
	route func(int32, spec.Color) error, done *[]stepResult, dyn dynamic.Interface, ns string) error {
	newLive, idle := st.Active, st.Active.Other()
	if !resumed {
		newLive, idle = idle, newLive
	}
	again := fmt.Sprintf("a re-run with --to %s resumes", newLive)
	stays := func(what string, res *promote.Result, err error) error {
		return fmt.Errorf("%s: %w; the commit stays (%s) and %s", what, err, landed(res), again)
	}
	end := &promote.Shift{Target: *p.t, Weight: 0, EndHandover: true}
	if !st.Plain || weight > 0 {
		res, err := commit(end.Run)
		if err != nil {
			return fmt.Errorf("the end of the hand-over: %w; %s is live on %s, its canary still at %d%% there (%s)", err, st.App, newLive, weight, again)
		}
		to := idle
		if st.Plain {
			to = newLive // still through the preview Service on the live color
		}
		if err := route(0, to); err != nil {
			return stays("the canary back to 0%", res, err)
		}
		*done = append(*done, stepResult{Weight: 0, Phase: "end", Result: res, Seconds: time.Since(p.start).Seconds()})
	}
	if !st.Plain {
		return nil
	}
	// The canary must be at 0% in the cluster before the preview Service
	// it sends to moves on (a resumed run has not seen it yet).
	if err := route(0, newLive); err != nil {
		return fmt.Errorf("the canary of the hand-over is not at 0%% in the cluster yet: %w; nothing committed (%s)", err, again)
	}
	res, err := commit(end.Run)
	if err != nil {
		return fmt.Errorf("the end of the hand-over: %w; %s is live on %s, its preview Service still there (%s)", err, st.App, newLive, again)
	}
	if !p.g.dryRun {
		if _, err := live.Wait(ctx, &live.Target{Client: dyn, Namespace: ns, Service: st.Preview, ColorLabel: st.ColorLabel, Color: string(idle), Timeout: p.after.timeout}); err != nil {
			return stays("the preview Service on to "+string(idle), res, err)
		}
	}
	*done = append(*done, stepResult{Weight: 0, Phase: "preview", Result: res, Seconds: time.Since(p.start).Seconds()})
	return nil
}

// isRefusal reports whether err is a gate's refusal (exit 3), not a
// failure to read what the gate needs.
func isRefusal(err error) bool {
	var coded *exitcode.Error
	return errors.As(err, &coded) && coded.Code == exitcode.Refused
}

// hold waits --step-wait; with an error-rate gate, it reads the idle
// color's error rate every --step-interval meanwhile.
func (p *stepped) hold(ctx context.Context, color string) error {
	if p.wait <= 0 {
		return nil
	}
	end := time.Now().Add(p.wait)
	c := p.gates.checks
	rate := &gate.Checks{PrometheusURL: c.PrometheusURL, MaxErrorRate: c.MaxErrorRate, Query: c.Query, Window: c.Window, AllowNoData: c.AllowNoData}
	for {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, p.interval)):
		}
		if rate.PrometheusURL != "" {
			if _, err := p.gates.runChecks(ctx, p.s, "promote", p.g.path, color, rate); err != nil {
				return err
			}
		}
	}
}
