package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	Weight  int32           `json:"weight"`
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
	s        streams
	g        *gitFlags
	t        *promote.Target
	gates    *clusterGates
	after    *liveFlags
	steps    []int32
	wait     time.Duration
	interval time.Duration
	start    time.Time
}

func (p *stepped) run(ctx context.Context) error {
	st, err := folderNamespace(ctx, p.gates.opts, p.t)
	if err != nil {
		return fmt.Errorf("%w; nothing committed", err)
	}
	p.gates.folderApp = st.App
	if st.Weight == nil {
		return usageError("--steps: the app folder %s splits no traffic: add spec.traffic (a gateway with its parentRefs) to bgrender.yaml; nothing committed", p.g.path)
	}
	if st.Canary {
		return usageError("--steps: the app folder %s splits traffic with an NGINX canary Ingress, whose last step cannot flip without a moment that sends the new color's share back (the canary's weight and the Services are separate objects); use the Gateway API mode, or shift step by step and promote at weight 0; nothing committed", p.g.path)
	}
	dyn, ns, err := p.gates.opts.Dynamic()
	if err != nil {
		return err
	}
	active, idle := st.Active, st.Active.Other()
	say := func(format string, args ...any) { fmt.Fprintf(p.s.err, "bgrender promote: "+format+"\n", args...) }
	var done []stepResult
	report := func() error {
		if p.g.output != "json" {
			return nil
		}
		data, err := json.MarshalIndent(map[string]any{"app": st.App, "from": active, "to": idle, "steps": done}, "", "  ")
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
		res.Diff = "" // only a dry run shows it
		if p.g.output != "json" {
			if err := p.g.report(p.s, res); err != nil {
				return res, err
			}
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
	route := func(w int32, to spec.Color) error {
		weights := map[string]int32{st.App + "-" + string(to): w, st.App + "-" + string(to.Other()): 100 - w}
		got, err := live.WaitRoute(ctx, &live.Route{Client: dyn, Namespace: ns, Name: st.App, Weights: weights, Timeout: p.after.timeout})
		if err != nil {
			return err
		}
		say("step live: %s (%.2fs after the start)", got, time.Since(p.start).Seconds())
		return nil
	}
	// A re-run resumes: the steps at or below the weight Git already has
	// are done.
	first := 0
	if *st.Weight > 0 {
		for first < len(p.steps) && p.steps[first] <= *st.Weight {
			first++
		}
		say("resuming: Git already sends %d%% to %s; next step %d%%", *st.Weight, idle, p.steps[min(first, len(p.steps)-1)])
	}
	// fail ends the promotion on err: a refusal (exit 3) returns traffic to
	// the live color, unless nothing was shifted yet; any other error (the
	// cluster or Prometheus unreadable, a Git failure) leaves Git as it is
	// and exits 1, so that a re-run resumes.
	shifted := *st.Weight > 0
	fail := func(i int, w int32, err error) error {
		if !isRefusal(err) {
			_ = report()
			return fmt.Errorf("step %d (%d%%): %w; Git keeps the weight of the last step (a re-run resumes)", i+1, w, err)
		}
		if !shifted {
			_ = report()
			return exitcode.GateRefused(fmt.Errorf("step %d (%d%%): %w; nothing committed", i+1, w, err))
		}
		return refuse(i, w, err)
	}
	for i := first; i < len(p.steps); i++ {
		w := p.steps[i]
		if p.gates.checks.Any() {
			if _, err := p.gates.run(ctx, p.s, "promote", p.g.path, string(idle)); err != nil {
				return fail(i, w, err)
			}
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
			wait := *p.after
			wait.refs = nil // asked already, after the commit
			if err := wait.after(ctx, p.s, "promote", p.gates.opts, st, res, p.start, ""); err != nil {
				_ = report()
				return err
			}
			break
		}
		if err := p.hold(ctx, string(idle)); err != nil {
			return fail(i, w, err)
		}
	}
	return report()
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
