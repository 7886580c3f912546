package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/release"
)

// liveFlags are what an action does once its change is on the branch:
// ask the GitOps agent to apply it now (--reconcile), and wait until the
// cluster serves it (--wait-live).
type liveFlags struct {
	wait      bool
	timeout   time.Duration
	reconcile []string
	refs      []agent.Ref
}

func addLiveFlags(fs *pflag.FlagSet, serves string) *liveFlags {
	l := &liveFlags{}
	fs.BoolVar(&l.wait, "wait-live", false, "after the push (with --pull-request, the merge), wait until the cluster serves it — "+serves+" — and print the time from the start; exit 1 on --live-timeout")
	fs.DurationVar(&l.timeout, "live-timeout", 5*time.Minute, "with --wait-live: how long to wait")
	fs.StringArrayVar(&l.reconcile, "reconcile", nil, "after the push, ask the GitOps agent to apply it now: `KIND/NAMESPACE/NAME`, KIND one of kustomization (with its source), gitrepository, ocirepository, bucket (Flux) or application (Argo CD); repeatable; the one write bgrender makes to a cluster (see examples/rbac)")
	return l
}

// any reports whether the action does anything after the push.
func (l *liveFlags) any() bool { return l.wait || len(l.reconcile) > 0 }

// live is what the planners take.
func (l *liveFlags) live() release.Live {
	return release.Live{Wait: l.wait, Timeout: l.timeout, Refs: l.refs}
}

// validate checks the flags (bad usage, exit 2) before anything runs and,
// when the action will read the cluster, the cluster flags and the
// kubeconfig.
func (l *liveFlags) validate(g *gitFlags, opts *cluster.Options) error {
	l.refs = l.refs[:0]
	for _, r := range l.reconcile {
		ref, err := agent.ParseRef(r)
		if err != nil {
			return usageError("--reconcile %v", err)
		}
		l.refs = append(l.refs, ref)
	}
	switch {
	case l.timeout <= 0:
		return usageError("--live-timeout %s: want a positive duration", l.timeout)
	case l.any() && g.dryRun:
		return usageError("--wait-live and --reconcile act on a pushed change: not with --dry-run")
	case l.any() && g.pullRequest && !g.waitMerge:
		return usageError("--wait-live and --reconcile with --pull-request need --wait-merge: the cluster serves only what is merged")
	case !l.any():
		return nil
	}
	if err := validateCluster(opts, ""); err != nil {
		return err
	}
	if err := checkKubeconfig(opts); err != nil {
		return err
	}
	return l.agentNamespace(opts)
}

// agentNamespace reads, when no namespace was asked for, the namespace the
// --reconcile objects apply the folder into (a Flux Kustomization's
// targetNamespace, an Argo CD Application's destination): the cluster is
// read there, as the agent applies there (see release.UseNamespace).
func (l *liveFlags) agentNamespace(opts *cluster.Options) error {
	if opts.Namespace != "" || len(l.refs) == 0 {
		return nil
	}
	dyn, _, err := opts.Dynamic()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cluster.DefaultRequestTimeout)
	defer cancel()
	t, err := agent.TargetNamespace(ctx, dyn, l.refs)
	var conflict *agent.ConflictError
	switch {
	case errors.As(err, &conflict):
		return usageError("%v: pass -n", err)
	case err != nil:
		return err
	}
	opts.Namespace, opts.NamespaceFrom, opts.NamespaceOverrides = t.Namespace, t.From, t.Overrides
	return nil
}
