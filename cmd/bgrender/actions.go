package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// The GitOps actions: each command parses its flags into the options of a
// planner (package release), and the runner executes the plan.

// interruptible is a context that ends on interrupt.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// execute runs a plan with the command's collaborators. A dry run in text
// first prints the plan on standard error; -o json prints it with each
// step's result and time.
func execute(ctx context.Context, s streams, g *gitFlags, t *promote.Target, opts *cluster.Options, cmd string, p *release.Plan, st *promote.State, start time.Time) (*release.Run, error) {
	if g.dryRun && g.output != "json" {
		if err := p.Describe(s.err); err != nil {
			return nil, err
		}
	}
	n, err := g.notify.notifier(s, cmd)
	if err != nil {
		return nil, err
	}
	env := &release.Env{Target: t, Cluster: opts, Command: cmd, Log: s.err, Out: s.out, JSON: g.output == "json", Start: start, Notify: n}
	return release.Runner{}.Execute(ctx, p, env, st)
}

// noArgs refuses positional arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageError("unexpected arguments %q", args)
	}
	return nil
}

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

// promoteFlags are promote's flags.
type promoteFlags struct {
	g                  gitFlags
	fs                 *pflag.FlagSet
	to, steps          string
	force              bool
	gates              *clusterGates
	after              *liveFlags
	stepWait, interval time.Duration
	match              bool
	matchTimeout       time.Duration
	settleHold         time.Duration
	fleet              string // --fleet: the fleet file
}

func (o *promoteFlags) register(fs *pflag.FlagSet) {
	o.fs = fs
	o.g.register(fs)
	fs.StringVar(&o.to, "to", "", "the color to send traffic to: blue or green (default: the idle color; with a gate, the color the preview Service selects); with --steps, name it so that a re-run after the promotion ended does nothing instead of promoting back")
	fs.BoolVar(&o.force, "force", false, "promote even to a color that has 0 replicas, or runs an image the last contract retired")
	o.gates = addClusterGates(fs)
	o.after = addLiveFlags(fs, "the active Service selects the promoted color and its EndpointSlices list only ready pods of it")
	fs.StringVar(&o.steps, "steps", "", "promote in steps of the idle color's share of traffic, e.g. 10,25,50,100 (needs spec.traffic): gates before each, a commit per step, a wait until the HTTPRoute carries it (--live-timeout), --step-wait after it; 100 flips the Services (with --dry-run: every step's diff, nothing run or pushed)")
	fs.DurationVar(&o.stepWait, "step-wait", 0, "with --steps: how long to hold each step before the next, the error-rate gate reading meanwhile")
	fs.DurationVar(&o.interval, "step-interval", 10*time.Second, "with --steps and an error-rate gate: how often to read it during --step-wait")
	fs.BoolVar(&o.match, "match-capacity", false, "when the color to promote has fewer ready pods than the live color runs now, first commit its floor raised to that (its HorizontalPodAutoscaler's minReplicas, else its replicas) and wait until the pods are ready; after the flip, commit the autoscaler's minReplicas back (it then scales down by its own rules)")
	fs.DurationVar(&o.matchTimeout, "match-timeout", 10*time.Minute, "with --match-capacity: how long to wait for the raised pods")
	fs.DurationVar(&o.settleHold, "match-settle", 2*time.Minute, "with --match-capacity: after the flip, how long at most to wait for the color's autoscaler to read the traffic before its raised minReplicas is restored (sooner once its metrics ask for the raised floor)")
	fs.StringVar(&o.fleet, "fleet", "", "flip every target of a fleet `FILE` (kind: Fleet) to the image deployed to its idle color, wave by wave: gates on each target's cluster, each wave's targets in one commit per repository and step, a hold watched by guard, a breach rolled back as the wave's onBreach says; a target with nothing deployed to flip to refuses its wave; --dry-run prints the plan")
}

// runFleet flips what is deployed to every target of the fleet.
func (o *promoteFlags) runFleet(s streams, args []string) error {
	ff := &fleetFlags{file: o.fleet, g: &o.g, gates: o.gates, opts: o.gates.opts, after: o.after, own: map[string]string{
		"to": "names one app's color", "force": "flips one app past its refusals", "steps": "shifts one app's traffic",
		"step-wait": "shifts one app's traffic", "step-interval": "shifts one app's traffic",
		"match-capacity": "raises one app's floor", "match-timeout": "raises one app's floor", "match-settle": "raises one app's floor",
	}}
	return ff.run(s, "promote", o.fs.Changed, args, fleet.PlanPromote)
}

// parse checks promote's flags (bad usage, exit 2) and returns the steps
// of a stepped promotion (nil: one commit).
func (o *promoteFlags) parse() ([]int32, error) {
	var steps []int32
	var err error
	if o.fs.Changed("steps") {
		if steps, err = parseSteps(o.steps); err != nil {
			return nil, err
		}
		switch {
		case o.g.pullRequest && !o.g.waitMerge:
			return nil, usageError("--steps with --pull-request needs --wait-merge: one pull request per step, each merged before the next")
		case o.stepWait < 0 || o.interval <= 0:
			return nil, usageError("--step-wait and --step-interval: want positive durations")
		}
	} else if o.fs.Changed("step-wait") || o.fs.Changed("step-interval") {
		return nil, usageError("--step-wait and --step-interval need --steps")
	}
	if len(o.g.paths) > 1 {
		switch {
		case steps != nil:
			return nil, usageError("--steps shifts the traffic of one app; with several --path, promote them in one commit without --steps")
		case o.gates.app != "":
			return nil, usageError("--app names one app in the cluster; with several --path, each folder names its own")
		}
	}
	// A stepped dry run runs no gate and reads no cluster.
	o.gates.noCluster = steps != nil && o.g.dryRun
	switch {
	case o.match && steps != nil:
		return nil, usageError("--match-capacity and --steps exclude each other: each step's capacity gate refuses a share the color cannot carry")
	case o.match && o.fs.Changed("capacity") && !o.gates.capacity:
		return nil, usageError("--match-capacity needs the capacity gate: drop --capacity=false")
	case o.match && o.g.pullRequest && !o.g.waitMerge:
		return nil, usageError("--match-capacity with --pull-request needs --wait-merge: the raised floor must be applied before the flip")
	}
	o.gates.useCapacity(o.after.any() || steps != nil || o.match)
	// The live flags first: their bad usage says more than a missing
	// kubeconfig, which both check.
	if err := o.after.validate(&o.g, o.gates.opts); err != nil {
		return nil, err
	}
	if err := o.gates.validate(); err != nil {
		return nil, err
	}
	if steps != nil && !o.g.dryRun {
		if err := checkKubeconfig(o.gates.opts); err != nil {
			return nil, err
		}
	}
	return steps, nil
}

func (o *promoteFlags) run(s streams, args []string) error {
	start := time.Now()
	if err := noArgs(args); err != nil {
		return err
	}
	color, err := parseColor("--to", o.to, false)
	if err != nil {
		return err
	}
	steps, err := o.parse()
	if err != nil {
		return err
	}
	t, err := o.g.target(s)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	gates := o.gates.release()
	if steps != nil {
		return o.runSteps(ctx, s, t, gates, steps, color, start)
	}
	if len(o.g.paths) > 1 {
		if o.match {
			return usageError("--match-capacity promotes one app: not with several --path")
		}
		return o.g.runGroup(ctx, s, t, o.gates.opts, gates, o.after, "promote", func(t promote.Target) promote.Member {
			return &promote.Promote{Target: t, To: color, Force: o.force}
		}, start)
	}
	t.Session = &gitops.Session{} // one clone for the read and the commit
	st, err := gates.ReadFolder(ctx, t, o.after.any())
	if err != nil {
		return nothingCommitted(err)
	}
	if err := o.matchOfFolder(st, gates); err != nil {
		return err
	}
	p := release.PlanPromote(release.PromoteOptions{Target: t, To: color, Force: o.force, Gates: gates, Live: o.after.live(),
		Match: o.match, MatchTimeout: o.matchTimeout, SettleHold: o.settleHold}, st)
	_, err = execute(ctx, s, &o.g, t, o.gates.opts, "promote", p, st, start)
	return err
}

// matchOfFolder turns --match-capacity on when the folder's gates say
// capacity: {match: true} and the capacity gate runs.
func (o *promoteFlags) matchOfFolder(st *promote.State, gates *release.Gates) error {
	if o.match || st == nil || st.Gates == nil || st.Gates.Spec.Capacity == nil || !st.Gates.Spec.Capacity.Match || !gates.Checks.Capacity {
		return nil
	}
	if o.g.pullRequest && !o.g.waitMerge {
		return usageError("%s: capacity.match with --pull-request needs --wait-merge: the raised floor must be applied before the flip", st.Gates.Where("capacity.match"))
	}
	o.match = true
	return nil
}

// runSteps runs promote --steps.
func (o *promoteFlags) runSteps(ctx context.Context, s streams, t *promote.Target, gates *release.Gates, steps []int32, to spec.Color, start time.Time) error {
	st, err := release.ReadFolder(ctx, o.gates.opts, t)
	if err != nil {
		return nothingCommitted(err)
	}
	if err := gates.UseFolder(st); err != nil {
		return nothingCommitted(err)
	}
	p, err := release.PlanSteps(release.StepsOptions{Target: t, Steps: steps, To: to, Gates: gates, Live: o.after.live(),
		Hold: o.stepWait, Interval: o.interval}, st)
	if err != nil {
		return err
	}
	_, err = execute(ctx, s, &o.g, t, o.gates.opts, "promote", p, st, start)
	return err
}

func promoteCommand() *command {
	return &command{
		name:    "promote",
		summary: "flip traffic to the idle color, as a Git commit",
		usage:   "--repo URL --path DIR [--path DIR…] [--to blue|green] [flags] | --fleet FILE [flags]",
		long:    "Flip the live Service of an app to the idle color (or --to), as one commit\nor pull request in the GitOps repository." + groupLong + promoteGatesLong + fleetFlipLong + gitopsLong,
		example: promoteExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var o promoteFlags
			o.register(fs)
			o.g.group = true
			return func(args []string) error {
				if fs.Changed("fleet") {
					o.gates.wait = !o.g.dryRun
					return o.runFleet(s, args)
				}
				return o.run(s, args)
			}
		},
	}
}

// nothingCommitted says that an error came before any commit.
func nothingCommitted(err error) error { return fmt.Errorf("%w; nothing committed", err) }
