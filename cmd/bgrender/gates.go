package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/release"
)

const (
	noSpecGatesUsage = "do not run the gates the app folder declares (spec.gates in bgrender.yaml, or bgrender.gates beside plain manifests): only the gate flags count"
	// overrides ends the --help of every flag that a setting of
	// spec.gates also sets.
	overrides = " (overrides spec.gates.%s)"
)

// clusterGates are the cluster and gate flags of promote and deploy
// --wait. Their rollout wait is --rollout-timeout: --timeout is
// --wait-merge's.
type clusterGates struct {
	fs     *pflag.FlagSet
	opts   *cluster.Options
	app    string
	checks *gate.Checks
	noSpec bool
	// wait: deploy --wait runs the gates; noCluster: a stepped dry run
	// only names them.
	wait, noCluster bool
	// capacity is --capacity (see useCapacity).
	capacity bool
}

func addClusterGates(fs *pflag.FlagSet) *clusterGates {
	g := &clusterGates{opts: addClusterFlags(fs, nsFromFolder), fs: fs}
	fs.StringVar(&g.app, "app", "", "the app's `NAME` in the cluster, for the gates (default: the app folder's: bgrender.yaml's metadata.name, or a plain folder's live Service)")
	g.checks = addGateFlags(fs, "rollout-timeout")
	fs.BoolVar(&g.noSpec, gate.NoSpecGatesFlag, false, noSpecGatesUsage)
	addCapacityFlag(fs, &g.capacity)
	return g
}

// addCapacityFlag registers --capacity.
func addCapacityFlag(fs *pflag.FlagSet, p *bool) {
	fs.BoolVar(p, "capacity", false, "gate: before traffic moves to a color, it must have as many ready pods as its share of what the live color runs now (its HorizontalPodAutoscaler's desired replicas, else its ready pods); on by default whenever the command reads the cluster anyway (a gate, --wait-live, --reconcile); =false turns it off")
}

// capacityOn says whether the capacity gate runs: as --capacity says, else
// whenever the command reads the cluster anyway.
func capacityOn(fs *pflag.FlagSet, flag, readsCluster bool) bool {
	if fs.Changed("capacity") {
		return flag
	}
	return readsCluster
}

// useCapacity turns the capacity gate on or off (see capacityOn), before
// validate checks the kubeconfig for it.
func (g *clusterGates) useCapacity(readsCluster bool) {
	g.checks.Capacity = false
	g.checks.Capacity = capacityOn(g.fs, g.capacity, readsCluster || g.checks.Any())
}

// validate checks the gate and cluster flags, and, when the gates will run
// (a gate asked for, or deploy --wait), the kubeconfig, before Git or the
// cluster is touched (bad usage, exit 2). A stepped dry run only checks
// the rollout gate's flags.
func (g *clusterGates) validate() error {
	if g.noCluster {
		return gate.ValidateFlags(gate.FlagsOnly(g.fs.Changed, g.checks), "rollout-timeout")
	}
	if err := gate.ValidateFlags(gate.FlagsOnly(g.fs.Changed, g.checks), "rollout-timeout"); err != nil {
		return err
	}
	if err := validateCluster(g.opts, g.app); err != nil {
		return err
	}
	if !g.checks.Any() && !g.wait {
		return nil
	}
	return checkKubeconfig(g.opts)
}

// release is the gates as the planners take them.
func (g *clusterGates) release() *release.Gates {
	return &release.Gates{Cluster: g.opts, App: g.app, Checks: g.checks, Changed: g.fs.Changed, TimeoutFlag: "rollout-timeout",
		NoSpec: g.noSpec, Wait: g.wait, NoCluster: g.noCluster, CapacityOff: g.fs.Changed("capacity") && !g.capacity}
}

// addGateFlags registers the flags of the promotion gates on fs and
// returns the checks they fill. The rollout gate's wait is the flag
// timeoutFlag: check has --timeout, the GitOps commands (whose --timeout
// is --wait-merge's) --rollout-timeout.
func addGateFlags(fs *pflag.FlagSet, timeoutFlag string) *gate.Checks {
	c := &gate.Checks{}
	o := func(field string) string { return fmt.Sprintf(overrides, field) }
	fs.BoolVar(&c.RequireRollout, "require-rollout", false, "gate: the color's Deployment must be fully rolled out (as kubectl rollout status judges it), watched until --"+timeoutFlag+"; =false turns the spec's rollout gate off"+o("rollout"))
	fs.DurationVar(&c.Timeout, timeoutFlag, 5*time.Minute, "with --require-rollout (and deploy --wait): how long to wait for the rollout"+o("rollout.timeout"))
	fs.StringVar(&c.HealthPath, "health-path", "", "gate: GET `PATH` through the API server's service proxy must answer 2xx/3xx; with --health-url, replaces the spec's path and url"+o("health.path"))
	fs.StringVar(&c.HealthURL, "health-url", "", "gate: GET `URL` directly instead (e.g. a preview Ingress)"+o("health.url"))
	fs.StringVar(&c.HealthPort, "health-port", "", "Service `PORT` (name or number) for --health-path and --warm (default: the Service's first port)"+o("health.port"))
	fs.IntVar(&c.HealthAttempts, "health-attempts", 5, "health requests before giving up, with exponential backoff from 1s"+o("health.attempts"))
	fs.StringArrayVar(&c.Warm, "warm", nil, "warm-up: GET `PATH` before the flip (repeatable); a 5xx refuses"+o("warmUp.paths"))
	fs.IntVar(&c.WarmRequests, "warm-requests", 1, "requests per --warm path"+o("warmUp.requests"))
	addErrorRateFlags(fs, c)
	fs.IntVar(&c.Measurements, "measurements", 1, "error-rate gate: how many measurements to take, --measurement-interval apart"+o("errorRate.count"))
	fs.DurationVar(&c.MeasurementInterval, "measurement-interval", 30*time.Second, "error-rate gate: the time between two measurements"+o("errorRate.interval"))
	fs.IntVar(&c.FailureLimit, "failure-limit", 0, "error-rate gate: failed measurements allowed (one more refuses); less than --measurements"+o("errorRate.failureLimit"))
	fs.BoolVar(&c.AllowNoData, "allow-no-data", false, "error-rate gate: pass a measurement without data (no traffic); =false blocks it"+o("errorRate.noData"))
	return c
}

// addErrorRateFlags registers the flags of the error-rate gate (also
// guard's).
func addErrorRateFlags(fs *pflag.FlagSet, c *gate.Checks) {
	o := func(field string) string { return fmt.Sprintf(overrides, field) }
	fs.StringVar(&c.PrometheusURL, "prometheus-url", "", "gate: Prometheus base `URL` for the error-rate gate"+o("errorRate.prometheusURL"))
	fs.Float64Var(&c.MaxErrorRate, "max-error-rate", 0, "error-rate gate: refuse at or above this `PERCENT` of 5xx answers"+o("errorRate.maxPercent"))
	fs.StringVar(&c.Query, "query", "", "`PROMQL` returning a percentage; {{app}} {{namespace}} {{colorLabel}} {{color}} {{window}} are filled in (default: 5xx share of http_requests_total)"+o("errorRate.query"))
	fs.DurationVar(&c.Window, "window", time.Minute, "rate window of the default query"+o("errorRate.window"))
}

// checkKubeconfig loads the kubeconfig without contacting the cluster, so
// that a command that works on Git first (promote and deploy with gates,
// guard) reports a missing or broken file before it changes anything.
func checkKubeconfig(opts *cluster.Options) error {
	_, _, err := opts.Config()
	return err
}
