package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// releaseFlags are release's flags: deploy's and promote's in one command.
type releaseFlags struct {
	g     gitFlags
	image string
	fleet string // --fleet: the fleet file
	gates *clusterGates
	after *liveFlags
}

func (o *releaseFlags) run(s streams, args []string) error {
	start := time.Now()
	if err := noArgs(args); err != nil {
		return err
	}
	if err := o.usage(); err != nil {
		return err
	}
	t, err := o.g.target(s)
	if err != nil {
		return err
	}
	if o.g.dryRun {
		// The flip's diff follows the deploy's.
		t.Series = &promote.DrySeries{}
	}
	// One clone for the read, the deploy and the flip.
	t.Session = &gitops.Session{}
	ctx, stop := interruptible()
	defer stop()
	gates := o.gates.release()
	gates.NoCluster = o.g.dryRun
	st, err := release.ReadFolder(ctx, o.gates.opts, t)
	if err != nil {
		return nothingCommitted(err)
	}
	if err := gates.UseFolder(st); err != nil {
		return nothingCommitted(err)
	}
	p, err := release.PlanRelease(release.ReleaseOptions{Target: t, Image: o.image, Gates: gates, Live: o.after.live()}, st)
	if err != nil {
		return err
	}
	_, err = execute(ctx, s, &o.g, t, o.gates.opts, "release", p, st, start)
	return err
}

// usage checks release's flags (bad usage, exit 2) and, unless it is a
// dry run, the kubeconfig: the rollout is waited for in every release.
func (o *releaseFlags) usage() error {
	switch {
	case o.image == "":
		return usageError("--image is required")
	case o.g.pullRequest && !o.g.waitMerge:
		return usageError("release with --pull-request needs --wait-merge: the rollout is waited for once the deploy's pull request is merged, and the flip's pull request is opened only then")
	}
	o.gates.noCluster = o.g.dryRun
	o.gates.useCapacity(true) // the rollout is read anyway
	if err := o.gates.validate(); err != nil {
		return err
	}
	return o.after.validate(&o.g, o.gates.opts)
}

func releaseCommand() *command {
	return &command{
		name:    "release",
		summary: "deploy an image, wait for it, gate it and promote it, in one run",
		usage:   "--repo URL --path DIR --image IMAGE [flags] | --fleet FILE --image IMAGE [flags]",
		long:    releaseLong + "\n" + gitopsLong,
		example: releaseExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var o releaseFlags
			o.g.register(fs)
			fs.StringVar(&o.image, "image", "", "the container image to release (required)")
			fs.StringVar(&o.fleet, "fleet", "", "release to every target of a fleet `FILE` (kind: Fleet), wave by wave: each wave's targets in one commit per repository and step, a hold watched by guard, a breach rolled back as the wave's onBreach says; --dry-run prints the plan")
			o.gates = addClusterGates(fs)
			o.after = addLiveFlags(fs, "the active Service selects the released color and its EndpointSlices list only ready pods of it")
			return func(args []string) error {
				o.gates.wait = !o.g.dryRun
				if fs.Changed("fleet") {
					return o.runFleet(s, fs.Changed, args)
				}
				return o.run(s, args)
			}
		},
	}
}
