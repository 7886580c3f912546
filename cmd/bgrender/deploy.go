package main

import (
	"context"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// deployFlags are deploy's flags.
type deployFlags struct {
	g            gitFlags
	fs           *pflag.FlagSet
	chart        chartFlags
	image, color string
	force, wait  bool
	gates        *clusterGates
	after        *liveFlags
}

func (o *deployFlags) run(s streams, args []string) error {
	start := time.Now()
	if err := noArgs(args); err != nil {
		return err
	}
	if err := o.chart.usage(o.fs); err != nil {
		return err
	}
	if o.chart.chart != "" {
		return o.runChart(s, start)
	}
	if o.image == "" {
		return usageError("--image is required (or --chart)")
	}
	c, err := parseColor("--color", o.color, true)
	if err != nil {
		return err
	}
	if err := o.usage(); err != nil {
		return err
	}
	t, err := o.g.target(s)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	gates := o.gates.release()
	var st *promote.State
	if o.wait || o.after.any() {
		if st, err = release.ReadFolder(ctx, o.gates.opts, t); err != nil {
			return nothingCommitted(err)
		}
		if err := gates.UseFolder(st); err != nil {
			return nothingCommitted(err)
		}
	}
	p, err := release.PlanDeploy(release.DeployOptions{Target: t, Image: o.image, Color: c, Force: o.force, Wait: o.wait,
		Gates: gates, Live: o.after.live()}, st)
	if err != nil {
		return err
	}
	_, err = execute(ctx, s, &o.g, t, o.gates.opts, "deploy", p, st, start)
	return err
}

// usage checks the flags of deploy --wait and --wait-live.
func (o *deployFlags) usage() error {
	switch {
	case !o.wait && o.gates.checks.Any():
		return usageError("the gates of deploy run after the commit: add --wait")
	case o.gates.fs.Changed("capacity"):
		return usageError("--capacity gates a flip (promote, release, shift, rollback); a deploy moves no traffic")
	case o.wait && o.g.dryRun:
		return usageError("--wait and --dry-run exclude each other")
	case o.wait && o.g.pullRequest && !o.g.waitMerge:
		return usageError("--wait with --pull-request needs --wait-merge")
	}
	if err := o.gates.validate(); err != nil {
		return err
	}
	return o.after.validate(&o.g, o.gates.opts)
}

func deployCommand() *command {
	return &command{
		name:    "deploy",
		summary: "put a new image on the idle color, as a Git commit",
		usage:   "--repo URL --path DIR (--image IMAGE [--color idle|blue|green] | --chart CHART [--version V] [-f VALUES]…) [flags]",
		long:    "Put an image on the idle color of an app (or --color), as one commit or pull\nrequest in the GitOps repository. Changing the live color's image needs --force." + deployChartLong + deployWaitLong + gitopsLong,
		example: deployExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			o := deployFlags{fs: fs}
			o.g.register(fs)
			fs.StringVar(&o.image, "image", "", "the container image to deploy (required)")
			fs.StringVar(&o.color, "color", "idle", "the color to deploy to: idle, blue or green")
			fs.BoolVar(&o.force, "force", false, "allow changing the image of the live color")
			fs.BoolVar(&o.wait, "wait", false, "after the commit lands (with --pull-request, after --wait-merge), wait until the color's Deployment runs the image and is rolled out, up to --rollout-timeout; then run the other gates asked for")
			o.gates = addClusterGates(fs)
			o.after = addLiveFlags(fs, "the preview Service selects the color and its EndpointSlices list only ready pods of it that run the image")
			o.chart.register(fs)
			return func(args []string) error { o.gates.wait = o.wait; return o.run(s, args) }
		},
	}
}

func rollbackCommand() *command {
	return &command{
		name:    "rollback",
		summary: "flip traffic back to the previous color, as a Git commit",
		usage:   "--repo URL --path DIR [--path DIR…] [flags] | --fleet FILE [--wave NAME] [flags]",
		long:    "Flip the live Service of an app back to the color in bgrender.io/previous-color,\nas one commit or pull request. When that color now runs another image than when\nit was last live (a deploy or a hand edit, read from the app folder in the last\n200 commits), the rollback would not return to the previous release: it refuses\n(exit 3) unless --force. So does a color with no Deployment or 0 replicas, and\none that runs an image the last contract retired (spec.migrations.contracted:\nthat code may read what the contract dropped)." + groupLong + fleetFlipLong + gitopsLong,
		example: `  bgrender rollback --repo https://git.example.com/ops/gitops.git --path apps/my-application

  # Every target of a fleet that a promote made live, the last wave first
  bgrender rollback --fleet fleet.yaml --dry-run
  bgrender rollback --fleet fleet.yaml --wave europe`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			g.group = true
			force := fs.Bool("force", false, "roll back even when the previous color got a new image since it was live, or runs an image the last contract retired")
			opts := addClusterFlags(fs, nsFromFolder)
			after := addLiveFlags(fs, "the active Service selects the color rolled back to and its EndpointSlices list only ready pods of it")
			var capacity bool
			addCapacityFlag(fs, &capacity)
			file := fs.String("fleet", "", "roll back every target of a fleet `FILE` (kind: Fleet) that a promote made live, wave by wave, the last wave first: each wave's targets in one commit per repository, then a wait until each cluster serves it; a target already back, or that the release did not reach, is left as it is; --dry-run prints the plan")
			wave := fs.String("wave", "", "with --fleet: roll back only the wave `NAME`")
			return func(args []string) error {
				if fs.Changed("fleet") {
					ff := &fleetFlags{file: *file, g: &g, opts: opts, after: after, own: map[string]string{
						"force": "rolls one app back past its refusals", "capacity": "gates one app's flip back",
					}}
					return ff.run(s, "rollback", fs.Changed, args, func(ctx context.Context, fo fleet.Options) (*fleet.Plan, error) {
						return fleet.PlanRollback(ctx, fo, *wave)
					})
				}
				if fs.Changed("wave") {
					return usageError("--wave names a wave of a fleet file: it needs --fleet")
				}
				start := time.Now()
				ctx, stop := interruptible()
				defer stop()
				on := capacityOn(fs, capacity, after.any())
				t, st, err := gitopsUsage(ctx, s, &g, after, opts, args)
				if err != nil {
					return err
				}
				if len(g.paths) > 1 {
					return g.runGroup(ctx, s, t, opts, nil, after, "rollback", func(t promote.Target) promote.Member {
						return &promote.Rollback{Target: t, Force: *force}
					}, start)
				}
				gates, st, err := capacityGates(ctx, on, opts, t, st)
				if err != nil {
					return err
				}
				a := &promote.Rollback{Target: *t, Force: *force}
				p := release.PlanRollback(a, after.live(), st)
				if gates != nil {
					p.CapacityFirst(gates, st.Previous, 100)
				}
				_, err = execute(ctx, s, &g, t, opts, "rollback", p, st, start)
				return err
			}
		},
	}
}

// gitopsUsage checks the arguments and the flags of an action that may
// wait for the cluster, builds its target and, when the action waits for
// the cluster, reads the app folder (its Services and namespace).
func gitopsUsage(ctx context.Context, s streams, g *gitFlags, after *liveFlags, opts *cluster.Options, args []string) (*promote.Target, *promote.State, error) {
	if err := noArgs(args); err != nil {
		return nil, nil, err
	}
	if err := after.validate(g, opts); err != nil {
		return nil, nil, err
	}
	t, err := g.target(s)
	if err != nil || !after.any() || len(g.paths) > 1 {
		return t, nil, err // a group reads each folder itself
	}
	st, err := release.ReadFolder(ctx, opts, t)
	if err != nil {
		return nil, nil, nothingCommitted(err)
	}
	return t, st, nil
}

// capacityGates are the gates of rollback and shift when the capacity
// gate runs (on): that gate alone, the folder's other gates left out.
// They need the app folder (its app's name and namespace): st, read now
// when the action did not read it already.
func capacityGates(ctx context.Context, on bool, opts *cluster.Options, t *promote.Target, st *promote.State) (*release.Gates, *promote.State, error) {
	if !on || t.DryRun {
		return nil, st, nil
	}
	if err := checkKubeconfig(opts); err != nil {
		return nil, nil, err
	}
	if st == nil {
		var err error
		if st, err = release.ReadFolder(ctx, opts, t); err != nil {
			return nil, nil, nothingCommitted(err)
		}
	}
	return release.CapacityOnly(opts, st), st, nil
}

func scaleIdleCommand() *command {
	return &command{
		name:    "scale-idle",
		summary: "scale the idle color, as a Git commit",
		usage:   "--repo URL --path DIR --replicas N [flags]",
		long:    "Set the replica count of the idle color of an app (0 frees its resources), as\none commit or pull request. A managed folder gets spec.idleReplicas\n(spec.autoscaling.idleMinReplicas when autoscaled, 1 or more); plain\nmanifests get the idle Deployment's spec.replicas." + gitopsLong,
		example: `  bgrender scale-idle --repo https://git.example.com/ops/gitops.git --path apps/my-application --replicas 0`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			replicas := fs.Int32("replicas", -1, "the idle color's replica count (required)")
			return func(args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				switch {
				case !fs.Changed("replicas"):
					return usageError("--replicas is required (0 or more)")
				case *replicas < 0:
					return usageError("--replicas %d: must be 0 or more", *replicas)
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.ScaleIdle{Target: *t, Replicas: *replicas}
				ctx, stop := interruptible()
				defer stop()
				_, err = execute(ctx, s, &g, t, nil, "scale-idle", release.PlanScaleIdle(a), nil, time.Now())
				return err
			}
		},
	}
}

func shiftCommand() *command {
	return &command{
		name:    "shift",
		summary: "send a share of the traffic to the idle color, as a Git commit",
		usage:   "--repo URL --path DIR --weight PERCENT [flags]",
		long: "Give the idle color of an app PERCENT of its requests (0 to 100), as one\n" +
			"commit or pull request: spec.traffic.weight in a managed folder, which the\n" +
			"app's Gateway API HTTPRoute (or NGINX canary Ingress) renders; in plain\n" +
			"manifests the canary-weight annotation of the canary Ingress, whose backend\n" +
			"Service selects the idle color.\n" +
			"The active color keeps the rest; the Services do not change. 'promote' moves\n" +
			"all traffic, 'shift --weight 0' takes it back." + gitopsLong,
		example: `  # Canary: 10% of requests to the idle color
  bgrender shift --repo https://git.example.com/ops/gitops.git --path apps/my-application --weight 10`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			weight := fs.Int32("weight", -1, "the idle color's share of requests, in `PERCENT` (0 to 100; required)")
			force := fs.Bool("force", false, "shift even to a color that has 0 replicas, or runs an image the last contract retired")
			opts := addClusterFlags(fs, nsFromFolder)
			after := addLiveFlags(fs, "the HTTPRoute carries the weights and its Gateways accepted it")
			var capacity bool
			addCapacityFlag(fs, &capacity)
			return func(args []string) error {
				start := time.Now()
				if err := noArgs(args); err != nil {
					return err
				}
				switch {
				case !fs.Changed("weight"):
					return usageError("--weight is required (0 to 100)")
				case *weight < 0 || *weight > 100:
					return usageError("--weight %d: want a percentage, 0 to 100", *weight)
				}
				ctx, stop := interruptible()
				defer stop()
				on := capacityOn(fs, capacity, after.any())
				t, st, err := gitopsUsage(ctx, s, &g, after, opts, args)
				if err != nil {
					return err
				}
				gates, st, err := capacityGates(ctx, on, opts, t, st)
				if err != nil {
					return err
				}
				a := &promote.Shift{Target: *t, Weight: *weight, Force: *force}
				p := release.PlanShift(a, after.live(), st)
				if gates != nil && (st.Weight == nil || *weight > *st.Weight) { // only a share that grows
					p.CapacityFirst(gates, st.Active.Other(), *weight)
				}
				_, err = execute(ctx, s, &g, t, opts, "shift", p, st, start)
				return err
			}
		},
	}
}
