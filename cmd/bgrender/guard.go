package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/release"
)

func guardCommand() *command {
	return &command{
		name:    "guard",
		summary: "watch the live color after a promotion and roll back in Git on a breach",
		usage:   "APP --repo URL --path DIR [--prometheus-url URL --max-error-rate PERCENT] [--for 5m] [--interval 10s] [flags]",
		long:    guardLong + gitopsLong,
		example: guardExamples,
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
			noSpec := fs.Bool(gate.NoSpecGatesFlag, false, noSpecGatesUsage)
			after := addLiveFlags(fs, "after a rollback: the active Service selects the color rolled back to and its EndpointSlices list only ready pods of it")
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("guard takes one app name, got %d arguments", len(args))
				}
				if err := gate.ValidateErrorRate(gate.FlagsOnly(fs.Changed, checks)); err != nil {
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
				ctx, stop := interruptible()
				defer stop()
				st, err := release.ReadFolder(ctx, opts, t)
				if err != nil {
					return err
				}
				eff, err := gate.MergeGuard(fs.Changed, checks, window, interval, st.Gates, *noSpec)
				if err != nil {
					return err
				}
				if eff.Spec != "" {
					fmt.Fprintf(s.err, "bgrender guard: %s\n", eff.Describe())
				}
				n, err := g.notify.notifier(s, "guard")
				if err != nil {
					return err
				}
				env := &release.Env{Target: t, Cluster: opts, Command: "guard", Log: s.err, Out: s.out, JSON: g.output == "json", Start: time.Now(), Notify: n}
				gd := &release.Guard{App: args[0], Checks: checks, For: *window, Interval: *interval, Live: after.live(), Folder: st}
				return gd.Run(ctx, env)
			}
		},
	}
}
