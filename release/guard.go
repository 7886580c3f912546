package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/guard"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// Guard watches the live color after a promotion and reacts to the first
// breach with a plan of its own: a rollback (one commit, then what Live
// asks for), or, when the breach is on a color that Git only shifts a
// share to, that share returned to the live color (a shift to 0).
type Guard struct {
	App           string
	Checks        *gate.Checks
	For, Interval time.Duration
	Live          Live
	// Folder is what the app folder held when guard started.
	Folder *promote.State
}

// Run watches; env.Target is the app folder to roll back in.
func (g *Guard) Run(ctx context.Context, env *Env) error {
	app, err := ReadApp(ctx, env.Cluster, g.App, previewOf(g.Folder))
	if err != nil {
		return err
	}
	live := app.Live
	if live == "" {
		return fmt.Errorf("%s: the active Service selects no color", app.Name)
	}
	c := g.Checks
	// The readings of each watched color: what a breach's commit shows.
	readings := map[string]*guard.Readings{live: {Now: env.now}}
	deployment := app.Deployment(live, app.Name+"-"+live)
	w := guard.Watch{For: g.For, Interval: g.Interval, Report: func(m string) { env.Say("%s", m) }, Probes: []guard.Probe{
		guard.ErrorRate(gate.ErrorRate{URL: c.PrometheusURL, Query: g.query(app, live), Max: c.MaxErrorRate, Attempts: 1}, readings[live]),
		guard.Ready(app.Client, app.Namespace, deployment),
	}}
	// During a traffic shift the other color serves a share too: it is
	// watched as well, and a breach there returns its share to the live
	// color (a shift to 0) rather than rolling back the live color.
	shifted := ShiftedColor(g.Folder, live)
	if shifted != "" {
		sd := app.Deployment(shifted, app.Name+"-"+shifted)
		readings[shifted] = &guard.Readings{Now: env.now}
		for _, p := range []guard.Probe{
			guard.ErrorRate(gate.ErrorRate{URL: c.PrometheusURL, Query: g.query(app, shifted), Max: c.MaxErrorRate, Attempts: 1}, readings[shifted]),
			guard.Ready(app.Client, app.Namespace, sd),
		} {
			p.Name = shifted + " " + p.Name
			w.Probes = append(w.Probes, p)
		}
		env.Say("watching %s %s too: Git sends it %d%% of the traffic (error rate under %s%%, deployment %s available)", app.Name, shifted, *g.Folder.Weight, gate.FormatPercent(c.MaxErrorRate), sd)
	}
	env.Say("watching %s %s for %s every %s: error rate under %s%%, deployment %s available", app.Name, live, g.For, g.Interval, gate.FormatPercent(c.MaxErrorRate), deployment)
	breach, err := w.Run(ctx)
	var seen *evidence.Breach
	if err == nil && breach != nil {
		color := live
		if shifted != "" && strings.HasPrefix(breach.Probe, shifted+" ") {
			color = shifted
		}
		seen = g.evidence(env, color, breach, readings[color])
		g.notifyBreach(ctx, env, app, live, seen)
	}
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", app.Name, live, err)
	case breach == nil && !readings[live].Measured() && !c.AllowNoData:
		return fmt.Errorf("%s %s: the error-rate query returned no data during the whole %s, so nothing was watched (check --query and the labels Prometheus has, or pass --allow-no-data)", app.Name, live, g.For)
	case breach == nil:
		_, err := fmt.Fprintf(env.Out, "%s: %s held for %s: error rate under %s%%, deployment %s available\n", app.Name, live, g.For, gate.FormatPercent(c.MaxErrorRate), deployment)
		return err
	case seen.Color == shifted:
		return g.shiftBack(ctx, env, app.Name, spec.Color(shifted), breach, seen)
	}
	return g.rollback(ctx, env, app.Name, live, breach, seen)
}

// evidence is what guard saw of color up to its breach: the breach and
// the readings, which the reaction's commit carries.
func (g *Guard) evidence(env *Env, color string, b *guard.Breach, r *guard.Readings) *evidence.Breach {
	window := g.Checks.Window
	if window <= 0 {
		window = time.Minute
	}
	return &evidence.Breach{Color: color, Probe: strings.TrimPrefix(b.Probe, color+" "), Reason: b.Reason,
		At: env.now().UTC().Truncate(time.Millisecond), MaxPercent: g.Checks.MaxErrorRate, Window: window.String(), Interval: g.Interval.String(),
		Readings: slices.Clone(r.List), Taken: r.Taken}
}

// query is the error-rate query for color.
func (g *Guard) query(app *App, color string) string {
	q := g.Checks.Query
	if q == "" {
		q = gate.DefaultErrorRateQuery
	}
	return gate.ExpandQuery(q, gate.QueryVars{App: app.Name, Namespace: app.Namespace, ColorLabel: app.ColorLabel, Color: color, Window: g.Checks.Window})
}

// reacting is env for guard's reaction to the breach seen: its commit
// carries what guard saw (see promote.Target.Breach).
func (g *Guard) reacting(env *Env, seen *evidence.Breach) *Env {
	tg := *env.Target
	tg.Breach = seen
	react := *env
	react.Target = &tg
	return &react
}

// rollback is the reaction to a breach of the live color: one commit
// (from the breached color only: when Git already routes elsewhere, a
// rollback would send traffic to it), then what Live asks for. A rollback
// to an image that the last contract retired is not made: guard reports
// the breach and the contract, exit 3, and leaves the choice to a person.
func (g *Guard) rollback(ctx context.Context, env *Env, app, live string, breach *guard.Breach, seen *evidence.Breach) error {
	env.Say("%s %s: %s; rolling back", app, live, breach.Reason)
	react := g.reacting(env, seen)
	rb := &promote.Rollback{Target: *react.Target, Reason: "guard: " + breach.Reason, From: spec.Color(live)}
	react.Start = env.now() // --wait-live reports the time from the rollback
	run, err := Runner{}.Execute(ctx, PlanRollback(rb, g.Live, g.Folder), react, g.Folder)
	res := run.Last
	var past *promote.PastContractError
	switch {
	case res == nil && errors.As(err, &past):
		// The previous color's code predates the schema: traffic back
		// there would fail too. A person decides (rollback --force).
		return exitcode.GateRefused(fmt.Errorf("%s %s: %s; not rolled back: %s", app, live, breach.Reason, past.Msg))
	case res == nil:
		return fmt.Errorf("%s %s: %s; the rollback failed: %w", app, live, breach.Reason, err)
	case res.NoOp:
		return exitcode.GateRefused(fmt.Errorf("%s %s: %s; not rolled back: %s", app, live, breach.Reason, res.Message))
	case err != nil:
		return fmt.Errorf("%s %s: %s; rolled back (%s), but: %w", app, live, breach.Reason, Landed(res), err)
	}
	return exitcode.GateRefused(fmt.Errorf("%s %s: %s; rolled back (%s)", app, live, breach.Reason, Landed(res)))
}

// shiftBack is the reaction to a breach of the shifted color: its share
// returned to the live color, one commit, exit 3.
func (g *Guard) shiftBack(ctx context.Context, env *Env, app string, shifted spec.Color, breach *guard.Breach, seen *evidence.Breach) error {
	env.Say("%s %s: %s; returning its share to %s", app, shifted, breach.Reason, shifted.Other())
	react := g.reacting(env, seen)
	back := &promote.Shift{Target: *react.Target, Weight: 0, To: shifted, Reason: "guard: " + string(shifted) + " " + breach.Reason}
	run, err := Runner{}.Execute(ctx, PlanShift(back, Live{Refs: g.Live.Refs}, g.Folder), react, g.Folder)
	res := run.Last
	switch {
	case res == nil:
		return fmt.Errorf("%s %s: %s; the return of its share failed: %w", app, shifted, breach.Reason, err)
	case err != nil:
		return fmt.Errorf("%s %s: %s; its share returned (%s), but: %w", app, shifted, breach.Reason, Landed(res), err)
	case res.NoOp:
		return exitcode.GateRefused(fmt.Errorf("%s %s: %s; its share was not returned: %s", app, shifted, breach.Reason, res.Message))
	}
	return exitcode.GateRefused(fmt.Errorf("%s %s: %s; its share returned to %s (%s)", app, shifted, breach.Reason, shifted.Other(), Landed(res)))
}

// ShiftedColor is the color, other than live, to which the app folder in
// Git sends a share of the traffic, or "" when it sends none.
func ShiftedColor(st *promote.State, live string) string {
	if st == nil || st.Weight == nil || *st.Weight == 0 || st.Handover {
		return ""
	}
	if c := string(st.Shifted); c != "" && c != live {
		return c
	}
	return ""
}
