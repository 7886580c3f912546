package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// Action is one change of the app folder: promote.Promote, Deploy,
// Rollback, ScaleIdle or Shift.
type Action interface {
	Run(ctx context.Context) (*promote.Result, error)
}

// Commit commits one change to the app folder (or opens, and with
// --wait-merge merges, its pull request). In text, the commit's line is
// printed as it lands; a dry run prints its diff.
type Commit struct {
	Action Action
	What   string // what the commit does, e.g. "promote to green"
	// Shifts: the commit sends a share of traffic to the idle color.
	Shifts bool
	// Gates, when they ran before the commit, are carried in its result;
	// AppGates, in a group's commit, those of each app in its own.
	Gates    *Gates
	AppGates []*Gates
}

func (c *Commit) Kind() string     { return "commit" }
func (c *Commit) Describe() string { return c.What }

// evidenced is an action that carries evidence: every promote action
// does, through its Target.
type evidenced interface{ UseEvidence(*evidence.Evidence) }

func (c *Commit) Run(ctx context.Context, r *Run) error {
	if a, ok := c.Action.(evidenced); ok && r.wantsEvidence() {
		a.UseEvidence(r.evidence(ctx, c))
	}
	res, err := c.Action.Run(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Target.Path, err)
	}
	if !res.DryRun {
		res.Diff = "" // only a dry run shows it
	}
	if c.Gates != nil && c.Gates.ran && c.Gates.Effective != nil {
		res.Gates = c.Gates.Effective
	}
	for i, g := range c.AppGates {
		if g != nil && g.ran && g.Effective != nil && i < len(res.Apps) {
			res.Apps[i].Gates = g.Effective
		}
	}
	r.Last = res
	r.Commits = append(r.Commits, res)
	r.shifted = r.shifted || c.Shifts
	if r.JSON {
		return nil
	}
	if res.DryRun && res.Diff != "" {
		if _, err := fmt.Fprint(r.Out, res.Diff); err != nil {
			return err
		}
		_, err := fmt.Fprintln(r.Log, res.Message)
		return err
	}
	_, err = fmt.Fprintln(r.Out, res.Message)
	return err
}

// Reconcile asks the GitOps agent to apply the last commit now; a commit
// that was already in Git needs no request. With Branch, before the plan
// commits anything, it asks the agent to apply the branch as it is (a
// contract waits for what an earlier commit retired).
type Reconcile struct {
	Refs   []agent.Ref
	Branch bool
}

func (s *Reconcile) Kind() string { return "reconcile" }
func (s *Reconcile) Describe() string {
	names := make([]string, len(s.Refs))
	for i, r := range s.Refs {
		names[i] = r.String()
	}
	if s.Branch {
		return "ask " + strings.Join(names, ", ") + " to apply the branch as it is"
	}
	return "ask " + strings.Join(names, ", ") + " to apply the commit"
}

func (s *Reconcile) Run(ctx context.Context, r *Run) error {
	switch {
	case len(s.Refs) == 0 || r.Target.DryRun:
		return nil
	case s.Branch:
	case r.Last == nil || r.Last.NoOp || r.Last.DryRun:
		return nil
	}
	dyn, _, err := r.Dynamic()
	if err != nil {
		return err
	}
	done, err := agent.Reconcile(ctx, dyn, s.Refs, r.now(), func(msg string) { r.Say("warning: %s", msg) })
	for _, ref := range done {
		r.Say("asked %s to reconcile", ref)
	}
	if err != nil {
		return fmt.Errorf("%w; the change stays (%s)", err, Landed(r.Last))
	}
	return nil
}

// WaitLive waits until a Service selects a color and its EndpointSlices
// list only ready pods of it (running Image, when set).
type WaitLive struct {
	// Service is the Service to watch; empty: the folder's live Service,
	// or with Preview, its preview Service when the last commit went to
	// the idle color.
	Service string
	Preview bool
	// Color is the color to wait for; empty: the last commit's.
	Color   spec.Color
	Image   string
	Timeout time.Duration
	// Quiet waits without reporting: a hand-over's own wait.
	Quiet bool
}

func (s *WaitLive) Kind() string { return "wait-live" }
func (s *WaitLive) Describe() string {
	svc, color := s.Service, string(s.Color)
	if svc == "" {
		svc = "the live Service"
		if s.Preview {
			svc = "the Service of the deployed color"
		}
	}
	if color == "" {
		color = "the committed color"
	}
	d := fmt.Sprintf("until %s serves %s with only ready endpoints", svc, color)
	if s.Image != "" {
		d += " running " + s.Image
	}
	return d + fmt.Sprintf(" (at most %s)", s.Timeout)
}

func (s *WaitLive) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun {
		return nil
	}
	dyn, ns, err := r.Dynamic()
	if err != nil {
		return err
	}
	st := r.State
	svc, color := s.Service, string(s.Color)
	if color == "" && r.Last != nil {
		color = r.Last.To
	}
	if svc == "" {
		svc = st.Service
		if s.Preview && color != string(st.Active) { // deploy to the idle color
			svc = st.Preview
		}
	}
	t := &live.Target{Client: dyn, WatchClient: r.Watching(), Namespace: ns, Service: svc, ColorLabel: st.ColorLabel, Color: color, Image: s.Image, Timeout: s.Timeout}
	if s.Quiet {
		_, err := live.Wait(ctx, t)
		return err
	}
	got, err := served(ctx, r, t, st.App)
	if err == nil && r.Last != nil {
		r.Last.Live = got
	}
	return err
}

// served waits until the cluster serves t, saying so, and returns the
// moment it did.
func served(ctx context.Context, r *Run, t *live.Target, app string) (*promote.Live, error) {
	r.Say("waiting until Service %s/%s serves %s", t.Namespace, t.Service, t.Color)
	got, err := live.Wait(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; the change stays (%s)", app, err, Landed(r.Last))
	}
	ready := got.Ready[t.Color]
	r.Say("live: Service %s/%s serves %s, %d ready endpoints, %.2fs after the start", t.Namespace, t.Service, t.Color, ready, r.since())
	return &promote.Live{Namespace: t.Namespace, Service: t.Service, Color: t.Color, ReadyEndpoints: ready, Seconds: r.since()}, nil
}

// WaitTraffic waits until the cluster sends Weight percent of the app's
// requests to color To: the HTTPRoute carries the weights and its
// Gateways accepted it, or the canary Ingress has the weight and sends to
// To's Service.
type WaitTraffic struct {
	Weight int32
	To     spec.Color
	// Service is the canary's backend to expect; empty: To's Service
	// (<app>-<color>), or in plain manifests the folder's canary backend.
	Service string
	Timeout time.Duration
	// Step: report as a step of a stepped promotion.
	Step bool
}

func (s *WaitTraffic) Kind() string { return "wait-traffic" }
func (s *WaitTraffic) Describe() string {
	return fmt.Sprintf("until the cluster sends %d%% to %s (at most %s)", s.Weight, s.To, s.Timeout)
}

func (s *WaitTraffic) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun {
		return nil
	}
	dyn, ns, err := r.Dynamic()
	if err != nil {
		return err
	}
	st := r.State
	var got string
	if st.Canary {
		svc := s.Service
		switch {
		case svc != "":
		case st.Plain:
			svc = st.CanaryService // the preview Service, whose selector follows the idle color
		default:
			svc = st.App + "-" + string(s.To)
		}
		got, err = live.WaitCanary(ctx, &live.Canary{Client: dyn, WatchClient: r.Watching(), Namespace: ns, Name: st.CanaryIngress, Weight: s.Weight, Service: svc, Timeout: s.Timeout})
	} else {
		weights := map[string]int32{st.RouteServices[s.To]: s.Weight, st.RouteServices[s.To.Other()]: 100 - s.Weight}
		var rs live.RouteState
		rs, err = live.WaitRoute(ctx, &live.Route{Client: dyn, WatchClient: r.Watching(), Namespace: ns, Name: st.RouteName, Weights: weights, Timeout: s.Timeout})
		got = rs.String()
	}
	if err != nil {
		return err
	}
	if s.Step {
		r.Say("step live: %s (%.2fs after the start)", got, r.since())
	} else {
		r.Say("live: %s, %.2fs after the start", got, r.since())
	}
	return nil
}

// RunGates runs the gates on a color before the plan goes on.
type RunGates struct {
	Gates *Gates
	// Color is the color to check; empty: the last commit's, or before any
	// commit the one the preview Service selects.
	Color spec.Color
	// Into, when set, receives the color the gates passed (a promotion
	// without --to promotes the color its gates checked).
	Into *spec.Color
	// Image, when set, makes the rollout gate wait for the color's
	// Deployment to run it (deploy --wait).
	Image string
	// DryRunSays, on a dry run, is said instead of running the gates.
	DryRunSays string
	// Share is the percent of the traffic Color is about to take, for
	// the capacity gate; 0 (a deploy) leaves that gate out.
	Share int32
	// Dir is the app folder (default: the run's); the app's name when
	// neither --app nor the folder names it.
	Dir string
}

func (s *RunGates) Kind() string { return "gates" }
func (s *RunGates) Describe() string {
	names := s.checks().Names()
	if s.Image != "" && !s.Gates.Checks.RequireRollout {
		names = append([]string{"rollout"}, names...)
	}
	color := string(s.Color)
	if color == "" {
		color = "the color to promote"
		if s.Image != "" {
			color = "the deployed color"
		}
	}
	return fmt.Sprintf("%s on %s", strings.Join(names, ", "), color)
}

func (s *RunGates) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun && s.DryRunSays != "" {
		r.Say("%s", s.DryRunSays)
		return nil
	}
	color := string(s.Color)
	if color == "" && r.Last != nil {
		color = r.Last.To
	}
	if s.Image != "" {
		s.Gates.Checks.RequireRollout, s.Gates.Checks.Image = true, s.Image
	}
	if !s.checks().Any() {
		return nil // only the capacity gate was on, and no traffic moves here
	}
	dir := s.Dir
	if dir == "" {
		dir = r.Target.Path
	}
	capacity := s.Gates.Checks.Capacity
	s.Gates.Checks.Capacity, s.Gates.Checks.Share = capacity && s.Share > 0, s.Share
	passed, err := s.Gates.Run(ctx, r.Env, dir, color)
	s.Gates.Checks.Capacity = capacity
	if err != nil {
		return err
	}
	if s.Into != nil {
		*s.Into = spec.Color(passed)
	}
	return nil
}

// checks are the gates as this step runs them: the capacity gate only
// before a share of traffic moves.
func (s *RunGates) checks() gate.Checks {
	c := *s.Gates.Checks
	c.Capacity = c.Capacity && s.Share > 0
	return c
}

// Hold holds a step of traffic for For before the next one; with an
// error-rate gate, it reads the color's error rate every Interval
// meanwhile.
type Hold struct {
	Gates    *Gates
	Color    spec.Color
	For      time.Duration
	Interval time.Duration
}

func (s *Hold) Kind() string { return "hold" }
func (s *Hold) Describe() string {
	if s.rate() != nil {
		return fmt.Sprintf("%s, reading %s's error rate every %s", s.For, s.Color, s.Interval)
	}
	return s.For.String()
}

func (s *Hold) Run(ctx context.Context, r *Run) error {
	if s.For <= 0 || r.Target.DryRun {
		return nil
	}
	end := r.now().Add(s.For)
	rate := s.rate()
	for {
		left := end.Sub(r.now())
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, s.Interval)):
		}
		if rate != nil {
			if _, err := s.Gates.RunChecks(ctx, r.Env, r.Target.Path, string(s.Color), rate); err != nil {
				return err
			}
		}
	}
}

// rate is the error-rate gate read during the hold, or nil.
func (s *Hold) rate() *gate.Checks {
	if s.Gates == nil || s.Gates.Checks.PrometheusURL == "" {
		return nil
	}
	c := s.Gates.Checks
	return &gate.Checks{PrometheusURL: c.PrometheusURL, MaxErrorRate: c.MaxErrorRate, Query: c.Query, Window: c.Window, AllowNoData: c.AllowNoData}
}
