package main

import (
	"context"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// Fleets: release --fleet FILE reads a fleet file (package fleet) and
// releases the image to its targets wave by wave; promote --fleet flips
// what is deployed, and rollback --fleet flips back, the last wave first.
// Each target names its repository, folder and cluster, so the flags
// that name one are refused.

// loadFleet reads and checks the fleet file (bad input, exit 2), its
// kubeconfig contexts too unless the run reads no cluster.
func loadFleet(file string, contexts bool) (*fleet.Fleet, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError("--fleet %s: %v", file, spec.UnwrapPathError(err))
	}
	f, err := fleet.Load(file, data)
	if err != nil {
		return nil, err
	}
	if contexts {
		if err := f.CheckContexts(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// fleetFlags are the flags of a fleet run, which release, promote and
// rollback share.
type fleetFlags struct {
	file  string
	g     *gitFlags
	gates *clusterGates // nil: rollback, which runs no gate
	opts  *cluster.Options
	after *liveFlags
	// own are the command's flags that --fleet refuses, with why.
	own map[string]string
}

// oneTarget are the flags that name one app folder or cluster: each
// target of a fleet file names its own.
var oneTarget = []string{"repo", "path", "branch", "kubeconfig", "context", "namespace", "app", "reconcile", "service", "preview-service", "file", "color-label", "container"}

// usage refuses the flags that name one app folder or cluster, and those
// a fleet run does not take (yet).
func (o *fleetFlags) usage(changed func(string) bool) error {
	for _, name := range oneTarget {
		if changed(name) {
			return usageError("--%s names one app folder or cluster: with --fleet, each target of the fleet file names its own", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.own)) {
		if changed(name) {
			return usageError("--%s %s: not with --fleet", name, o.own[name])
		}
	}
	switch {
	case o.g.pullRequest && !o.g.waitMerge:
		return usageError("--fleet with --pull-request needs --wait-merge: each cluster is waited for once the step's pull request is merged, and the next one is opened only then")
	case changed("wait-live"):
		return usageError("--fleet always waits until each cluster serves each commit: drop --wait-live")
	}
	if err := o.g.checkCommit(); err != nil {
		return err
	}
	if o.gates != nil {
		// The gate flags only: each target's kubeconfig is checked with
		// the fleet file, against the field that names it.
		o.gates.noCluster = true
		if err := o.gates.validate(); err != nil {
			return err
		}
		o.gates.noCluster = o.g.dryRun
	}
	return o.after.validate(o.g, o.opts)
}

// run plans the fleet's action with plan and runs it; with --dry-run it
// prints the plan (read from Git, no cluster contacted) and commits
// nothing. -o json prints the report (fleet.Report) instead of the plan
// or the table.
func (o *fleetFlags) run(s streams, cmd string, changed func(string) bool, args []string, plan func(context.Context, fleet.Options) (*fleet.Plan, error)) error {
	start := time.Now()
	if err := noArgs(args); err != nil {
		return err
	}
	if err := o.usage(changed); err != nil {
		return err
	}
	f, err := loadFleet(o.file, !o.g.dryRun)
	if err != nil {
		return err
	}
	f.RequestTimeout = o.opts.RequestTimeout
	ctx, stop := interruptible()
	defer stop()
	p, err := plan(ctx, o.options(s, f))
	if err != nil {
		return nothingCommitted(err)
	}
	json := o.g.output == "json"
	switch {
	case o.g.dryRun && json:
		return p.Report(nil).WriteJSON(s.out)
	case o.g.dryRun:
		return p.Describe(s.out)
	}
	if err := p.Describe(s.err); err != nil {
		return err
	}
	n, err := o.g.notify.notifier(s, cmd)
	if err != nil {
		return err
	}
	return p.Run(ctx, release.Env{Command: cmd, Log: s.err, Out: s.out, JSON: json, Start: start, Notify: n})
}

// options are the planner's inputs: each target's folder opened with the
// commit flags, and the gate flags for each target's cluster.
func (o *fleetFlags) options(s streams, f *fleet.Fleet) fleet.Options {
	fo := fleet.Options{
		Fleet: f, LiveTimeout: o.after.timeout,
		Open: func(repo, branch, path string) (*promote.Target, error) {
			t, err := o.g.targetAt(s, repo, path)
			if err != nil {
				return nil, err
			}
			t.Branch = branch
			return t, nil
		},
	}
	if o.gates != nil {
		gates := o.gates.release()
		gates.NoCluster = o.g.dryRun
		fo.Gates = gates.ForApp
	}
	return fo
}

// runFleet releases the image to the fleet.
func (o *releaseFlags) runFleet(s streams, changed func(string) bool, args []string) error {
	if o.image == "" {
		return usageError("--image is required")
	}
	ff := &fleetFlags{file: o.fleet, g: &o.g, gates: o.gates, opts: o.gates.opts, after: o.after}
	return ff.run(s, "release", changed, args, func(ctx context.Context, fo fleet.Options) (*fleet.Plan, error) {
		fo.Image = o.image
		return fleet.PlanRelease(ctx, fo)
	})
}
