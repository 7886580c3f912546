package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/guard"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

func guardCommand() *command {
	return &command{
		name:    "guard",
		summary: "watch the live color after a promotion and roll back in Git on a breach",
		usage:   "APP --repo URL --path DIR [--prometheus-url URL --max-error-rate PERCENT] [--for 5m] [--interval 10s] [flags]",
		long: `Watch the live color of an app after a promotion: every --interval, for
--for, its error rate in Prometheus (the query of the error-rate gate, or
--query) must stay under --max-error-rate, and its Deployment must keep every
wanted replica available and not be past its progress deadline.

On the first breach, guard rolls back as 'bgrender rollback' does — one commit
or pull request, whose subject says what tripped it — and exits 3. It
never rolls back twice: after the rollback it stops. When the window ends
without a breach it exits 0. A failed Prometheus query or API request is
reported on standard error and retried at the next tick, never taken for a
breach; if a probe could not be read even once, guard exits 1.

The settings come from the app folder's gates by default: spec.gates.errorRate
(prometheusURL, query, window, noData) says how the error rate is read, and
spec.gates.guard (for, interval, maxPercent, by default errorRate.maxPercent)
how it is watched; a flag overrides one setting, --no-spec-gates all of them.
Without those gates, --prometheus-url and --max-error-rate are required.

Needs the read permissions of bgrender status, and write access to the
GitOps repository.` + gitopsLong,
		example: `  bgrender promote --repo https://git.example.com/ops/gitops.git --path apps/my-application
  bgrender guard my-application -n production --repo https://git.example.com/ops/gitops.git --path apps/my-application \
    --prometheus-url http://prometheus.monitoring:9090 --max-error-rate 1 --for 5m --interval 10s`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			opts := addClusterFlags(fs, nsFromFolder)
			checks := &gate.Checks{}
			o := func(field string) string { return fmt.Sprintf(overrides, field) }
			fs.StringVar(&checks.PrometheusURL, "prometheus-url", "", "Prometheus base `URL`"+o("errorRate.prometheusURL"))
			fs.Float64Var(&checks.MaxErrorRate, "max-error-rate", 0, "roll back at or above this `PERCENT` of 5xx answers"+o("guard.maxPercent, whose default is errorRate.maxPercent"))
			fs.StringVar(&checks.Query, "query", "", "`PROMQL` returning a percentage; {{app}} {{namespace}} {{colorLabel}} {{color}} {{window}} are filled in (default: 5xx share of http_requests_total)"+o("errorRate.query"))
			fs.DurationVar(&checks.Window, "window", time.Minute, "rate window of the default query"+o("errorRate.window"))
			fs.BoolVar(&checks.AllowNoData, "allow-no-data", false, "do not fail when the error-rate query has no data during the whole window (no traffic)"+o("errorRate.noData"))
			window := fs.Duration("for", 5*time.Minute, "how long to watch"+o("guard.for"))
			interval := fs.Duration("interval", 10*time.Second, "how often to look"+o("guard.interval"))
			noSpec := fs.Bool(noSpecGatesFlag, false, noSpecGatesUsage)
			after := addLiveFlags(fs, "after a rollback: the active Service selects the color rolled back to and its EndpointSlices list only ready pods of it")
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("guard takes one app name, got %d arguments", len(args))
				}
				if err := validateErrorRateFlags(flagsOnly(fs, checks)); err != nil {
					return err
				}
				switch {
				case *window <= 0:
					return usageError("--for %s: want a positive duration", *window)
				case *interval <= 0:
					return usageError("--interval %s: want a positive duration", *interval)
				}
				if err := validateCluster(opts, args[0]); err != nil {
					return err
				}
				if err := after.validate(&g, opts); err != nil {
					return err
				}
				if err := checkKubeconfig(opts); err != nil {
					return err
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				st, err := folderNamespace(ctx, opts, t)
				if err != nil {
					return err
				}
				eff, err := mergeGuard(fs, checks, window, interval, st.Gates, *noSpec)
				if err != nil {
					return err
				}
				if eff.Spec != "" {
					fmt.Fprintf(s.err, "bgrender guard: %s\n", eff.describe())
				}
				return runGuard(ctx, s, &g, t, guardOptions{app: args[0], cluster: opts, checks: checks, window: *window, interval: *interval,
					after: after, folder: st})
			}
		},
	}
}

// guardSettings bind guard's flags to spec.gates: the error rate is read
// as errorRate reads it (prometheusURL, query, window, noData), and the
// watch is guard's (for, interval, maxPercent, which defaults to
// errorRate.maxPercent). Without a guard block, errorRate alone is enough.
func guardSettings(c *gate.Checks, window, interval *time.Duration, g *spec.GatesSpec) []setting {
	if g == nil {
		g = &spec.GatesSpec{}
	}
	e, gd := g.ErrorRate, g.Guard
	if e == nil {
		e = &spec.ErrorRateGateSpec{}
	}
	if gd == nil {
		gd = &spec.GuardGateSpec{}
	}
	dur := func(dst *time.Duration, s string) func() error {
		return func() error {
			if s == "" {
				return nil
			}
			d, err := time.ParseDuration(s)
			*dst = d
			return err
		}
	}
	src := g.ErrorRate != nil
	return []setting{
		{key: "errorRate.prometheusURL", gate: "guard", flags: []string{"prometheus-url"}, present: src,
			apply: func() error { c.PrometheusURL = e.PrometheusURL; return nil }, value: func() any { return gate.RedactURL(c.PrometheusURL) }},
		{key: "errorRate.query", gate: "guard", flags: []string{"query"}, present: src && e.Query != "", optional: true,
			apply: func() error { c.Query = e.Query; return nil }, value: func() any { return c.Query }},
		{key: "errorRate.window", gate: "guard", flags: []string{"window"}, present: src,
			apply: dur(&c.Window, e.Window), value: func() any { return c.Window.String() }},
		{key: "errorRate.noData", gate: "guard", flags: []string{"allow-no-data"}, present: src,
			apply: func() error { c.AllowNoData = e.NoData == spec.NoDataPass; return nil }, value: func() any { return noData(c.AllowNoData) }},
		{key: "guard.maxPercent", gate: "guard", flags: []string{"max-error-rate"}, present: src,
			apply: func() error {
				c.MaxErrorRate = e.MaxPercent
				if gd.MaxPercent != nil {
					c.MaxErrorRate = *gd.MaxPercent
				}
				return nil
			}, value: func() any { return c.MaxErrorRate }},
		{key: "guard.for", gate: "guard", flags: []string{"for"}, present: g.Guard != nil,
			apply: dur(window, gd.For), value: func() any { return window.String() }},
		{key: "guard.interval", gate: "guard", flags: []string{"interval"}, present: g.Guard != nil,
			apply: dur(interval, gd.Interval), value: func() any { return interval.String() }},
	}
}

// mergeGuard applies the folder's gates to guard's settings and checks
// the result (bad usage, exit 2).
func mergeGuard(fs *pflag.FlagSet, c *gate.Checks, window, interval *time.Duration, fg *spec.FolderGates, off bool) (*effectiveGates, error) {
	use := fg
	if off {
		use = nil
	}
	var g *spec.GatesSpec
	if use != nil {
		g = use.Spec
	}
	eff, err := merge(fs, use, guardSettings(c, window, interval, g), func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	eff.NoSpecGates, eff.Run = off && fg != nil, []string{"guard"}
	switch {
	case c.PrometheusURL == "" && use != nil && use.Spec.ErrorRate == nil && use.Spec.Guard == nil:
		return nil, usageError("--prometheus-url and --max-error-rate are required: %s has no errorRate gate to read them from", eff.Spec)
	case c.PrometheusURL == "":
		return nil, usageError("--prometheus-url and --max-error-rate are required (or spec.gates.errorRate in the app folder)")
	case *window <= 0:
		return nil, usageError("--for %s: want a positive duration", *window)
	case *interval <= 0:
		return nil, usageError("--interval %s: want a positive duration", *interval)
	}
	if err := validateErrorRateFlags(c); err != nil {
		return nil, err
	}
	return eff, nil
}

type guardOptions struct {
	app              string
	checks           *gate.Checks
	window, interval time.Duration
	cluster          *cluster.Options
	// after is --wait-live and --reconcile, for the rollback; folder is
	// what the app folder held when guard started.
	after  *liveFlags
	folder *promote.State
}

// runGuard watches the live color and rolls back on the first breach.
func runGuard(ctx context.Context, s streams, g *gitFlags, t *promote.Target, o guardOptions) error {
	say := func(format string, args ...any) { fmt.Fprintf(s.err, "bgrender guard: "+format+"\n", args...) }
	app, err := readApp(ctx, o.cluster, o.app)
	if err != nil {
		return err
	}
	live := app.Live
	if live == "" {
		return fmt.Errorf("%s: the active Service selects no color", app.Name)
	}
	c := o.checks
	q := c.Query
	if q == "" {
		q = gate.DefaultErrorRateQuery
	}
	q = gate.ExpandQuery(q, gate.QueryVars{App: app.Name, Namespace: app.ns, ColorLabel: app.ColorLabel, Color: live, Window: c.Window})
	deployment := app.Name + "-" + live
	for _, col := range app.Colors {
		if col.Color == live && col.Found {
			deployment = col.Deployment // as status found it
		}
	}
	var measured bool
	w := guard.Watch{For: o.window, Interval: o.interval, Report: func(m string) { say("%s", m) }, Probes: []guard.Probe{
		guard.ErrorRate(gate.ErrorRate{URL: c.PrometheusURL, Query: q, Max: c.MaxErrorRate, Attempts: 1}, &measured),
		guard.Ready(app.dyn, app.ns, deployment),
	}}
	// During a traffic shift the other color serves a share too: it is
	// watched as well, and a breach there returns its share to the live
	// color (a shift to 0) rather than rolling back the live color.
	shifted := shiftedColor(o.folder, live)
	if shifted != "" {
		sq := gate.ExpandQuery(firstSet(c.Query, gate.DefaultErrorRateQuery), gate.QueryVars{App: app.Name, Namespace: app.ns, ColorLabel: app.ColorLabel, Color: shifted, Window: c.Window})
		sd := app.Name + "-" + shifted
		for _, col := range app.Colors {
			if col.Color == shifted && col.Found {
				sd = col.Deployment
			}
		}
		for _, p := range []guard.Probe{
			guard.ErrorRate(gate.ErrorRate{URL: c.PrometheusURL, Query: sq, Max: c.MaxErrorRate, Attempts: 1}, nil),
			guard.Ready(app.dyn, app.ns, sd),
		} {
			p.Name = shifted + " " + p.Name
			w.Probes = append(w.Probes, p)
		}
		say("watching %s %s too: Git sends it %d%% of the traffic (error rate under %s%%, deployment %s available)", app.Name, shifted, *o.folder.Weight, gate.FormatPercent(c.MaxErrorRate), sd)
	}
	say("watching %s %s for %s every %s: error rate under %s%%, deployment %s available", app.Name, live, o.window, o.interval, gate.FormatPercent(c.MaxErrorRate), deployment)
	breach, err := w.Run(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", app.Name, live, err)
	}
	if breach == nil && !measured && !c.AllowNoData {
		return fmt.Errorf("%s %s: the error-rate query returned no data during the whole %s, so nothing was watched (check --query and the labels Prometheus has, or pass --allow-no-data)", app.Name, live, o.window)
	}
	if breach == nil {
		_, err := fmt.Fprintf(s.out, "%s: %s held for %s: error rate under %s%%, deployment %s available\n", app.Name, live, o.window, gate.FormatPercent(c.MaxErrorRate), deployment)
		return err
	}
	if shifted != "" && strings.HasPrefix(breach.Probe, shifted+" ") {
		return guardShiftBack(ctx, s, g, t, o, app.Name, spec.Color(shifted), breach)
	}
	say("%s %s: %s; rolling back", app.Name, live, breach.Reason)
	// Roll back only from the color that breached: when Git already
	// routes elsewhere (a promotion or rollback not yet applied), a
	// rollback would send traffic to the breached color.
	rb := &promote.Rollback{Target: *t, Reason: "guard: " + breach.Reason, From: spec.Color(live)}
	start := time.Now() // --wait-live reports the time from the rollback
	res, err := o.after.actThen(ctx, s, g, "guard", rb.Run, o.cluster, o.folder, start, "")
	switch {
	case res == nil:
		return fmt.Errorf("%s %s: %s; the rollback failed: %w", app.Name, live, breach.Reason, err)
	case res.NoOp:
		return exitcode.GateRefused(fmt.Errorf("%s %s: %s; not rolled back: %s", app.Name, live, breach.Reason, res.Message))
	case err != nil:
		return fmt.Errorf("%s %s: %s; rolled back (%s), but: %w", app.Name, live, breach.Reason, landed(res), err)
	}
	return exitcode.GateRefused(fmt.Errorf("%s %s: %s; rolled back (%s)", app.Name, live, breach.Reason, landed(res)))
}

// shiftedColor is the color, other than live, to which the app folder in
// Git sends a share of the traffic, or "" when it sends none.
func shiftedColor(st *promote.State, live string) string {
	if st == nil || st.Weight == nil || *st.Weight == 0 || st.Handover {
		return ""
	}
	if c := string(st.Shifted); c != "" && c != live {
		return c
	}
	return ""
}

// guardShiftBack returns the shifted share to the live color after a
// breach on the shifted color: one commit (shift --weight 0), exit 3.
func guardShiftBack(ctx context.Context, s streams, g *gitFlags, t *promote.Target, o guardOptions, app string, shifted spec.Color, breach *guard.Breach) error {
	fmt.Fprintf(s.err, "bgrender guard: %s %s: %s; returning its share to %s\n", app, shifted, breach.Reason, shifted.Other())
	back := &promote.Shift{Target: *t, Weight: 0, To: shifted, Reason: "guard: " + string(shifted) + " " + breach.Reason}
	res, err := act(ctx, s, g, back.Run)
	switch {
	case res == nil:
		return fmt.Errorf("%s %s: %s; the return of its share failed: %w", app, shifted, breach.Reason, err)
	case err == nil && !res.NoOp:
		err = o.after.reconcileNow(ctx, s, "guard", o.cluster, res)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %s; its share returned (%s), but: %w", app, shifted, breach.Reason, landed(res), err)
	}
	if res.NoOp {
		return exitcode.GateRefused(fmt.Errorf("%s %s: %s; its share was not returned: %s", app, shifted, breach.Reason, res.Message))
	}
	return exitcode.GateRefused(fmt.Errorf("%s %s: %s; its share returned to %s (%s)", app, shifted, breach.Reason, shifted.Other(), landed(res)))
}
