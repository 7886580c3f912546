package main

import (
	"os"
	"time"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// Fleets: release --fleet FILE reads a fleet file (package fleet) and
// releases the image to its targets wave by wave; each target names its
// repository, folder and cluster, so the flags that name one are refused.

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

// fleetUsage refuses the flags that name one app folder or cluster, and
// those a fleet release does not take yet.
func (o *releaseFlags) fleetUsage(changed func(string) bool) error {
	for _, name := range []string{"repo", "path", "branch", "kubeconfig", "context", "namespace", "app", "reconcile", "service", "preview-service", "file", "color-label", "container"} {
		if changed(name) {
			return usageError("--%s names one app folder or cluster: with --fleet, each target of the fleet file names its own", name)
		}
	}
	switch {
	case o.image == "":
		return usageError("--image is required")
	case o.g.pullRequest:
		return usageError("--fleet commits each step of a wave directly: --pull-request is not supported with it yet")
	case o.g.output != "text":
		return usageError("--fleet prints its plan and a table of the targets: -o json is not supported with it yet")
	case changed("wait-live"):
		return usageError("--fleet always waits until each cluster serves each commit: drop --wait-live")
	}
	if err := o.g.checkCommit(); err != nil {
		return err
	}
	// The gate flags only: each target's kubeconfig is checked with the
	// fleet file, against the field that names it.
	o.gates.noCluster = true
	if err := o.gates.validate(); err != nil {
		return err
	}
	o.gates.noCluster = o.g.dryRun
	return o.after.validate(&o.g, o.gates.opts)
}

// runFleet releases the image to the fleet; with --dry-run it prints the
// plan (read from Git, no cluster contacted) and commits nothing.
func (o *releaseFlags) runFleet(s streams, changed func(string) bool, args []string) error {
	start := time.Now()
	if err := noArgs(args); err != nil {
		return err
	}
	if err := o.fleetUsage(changed); err != nil {
		return err
	}
	f, err := loadFleet(o.fleet, !o.g.dryRun)
	if err != nil {
		return err
	}
	f.RequestTimeout = o.gates.opts.RequestTimeout
	ctx, stop := interruptible()
	defer stop()
	p, err := fleet.PlanRelease(ctx, o.fleetOptions(s, f))
	if err != nil {
		return nothingCommitted(err)
	}
	if o.g.dryRun {
		return p.Describe(s.out)
	}
	if err := p.Describe(s.err); err != nil {
		return err
	}
	n, err := o.g.notify.notifier(s, "release")
	if err != nil {
		return err
	}
	return p.Run(ctx, release.Env{Command: "release", Log: s.err, Out: s.out, Start: start, Notify: n})
}

// fleetOptions are the planner's inputs: each target's folder opened with
// the commit flags, and the gate flags for each target's cluster.
func (o *releaseFlags) fleetOptions(s streams, f *fleet.Fleet) fleet.Options {
	gates := o.gates.release()
	gates.NoCluster = o.g.dryRun
	return fleet.Options{
		Fleet: f, Image: o.image, LiveTimeout: o.after.timeout,
		Open: func(repo, branch, path string) (*promote.Target, error) {
			t, err := o.g.targetAt(s, repo, path)
			if err != nil {
				return nil, err
			}
			t.Branch = branch
			return t, nil
		},
		Gates: gates.ForApp,
	}
}
