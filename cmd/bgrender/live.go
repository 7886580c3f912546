package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
)

// liveFlags are what an action does once its change is on the branch:
// ask the GitOps agent to apply it now (--reconcile), and wait until the
// cluster serves it (--wait-live).
type liveFlags struct {
	wait      bool
	timeout   time.Duration
	reconcile []string
	refs      []agent.Ref
	// preview: the action changes the idle color (deploy), whose Service
	// is the preview Service; image is what its pods must run.
	preview bool
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
	return checkKubeconfig(opts)
}

// after runs once the action's change is on the branch (or was already
// there: a no-op still waits for the cluster to serve it). st is what the
// folder held before the action, read for its Services and namespace.
func (l *liveFlags) after(ctx context.Context, s streams, cmd string, opts *cluster.Options, st *promote.State, res *promote.Result, start time.Time, image string) error {
	if !l.any() {
		return nil
	}
	if err := l.reconcileNow(ctx, s, cmd, opts, res); err != nil {
		return err
	}
	if !l.wait {
		return nil
	}
	dyn, ns, err := opts.Dynamic()
	if err != nil {
		return err
	}
	svc := st.Service
	if l.preview && res.To != string(st.Active) { // deploy to the idle color
		svc = st.Preview
	}
	t := &live.Target{Client: dyn, Namespace: ns, Service: svc, ColorLabel: st.ColorLabel, Color: res.To, Image: image, Timeout: l.timeout}
	fmt.Fprintf(s.err, "bgrender %s: waiting until Service %s/%s serves %s\n", cmd, ns, svc, res.To)
	got, err := live.Wait(ctx, t)
	if err != nil {
		return fmt.Errorf("%s: %w; the change stays (%s)", st.App, err, landed(res))
	}
	res.Live = &promote.Live{Namespace: ns, Service: svc, Color: res.To, ReadyEndpoints: got.Ready[res.To], Seconds: time.Since(start).Seconds()}
	fmt.Fprintf(s.err, "bgrender %s: live: Service %s/%s serves %s, %d ready endpoints, %.2fs after the start\n",
		cmd, ns, svc, res.To, res.Live.ReadyEndpoints, res.Live.Seconds)
	return nil
}

// reconcileNow asks the agent to apply a pushed change now (--reconcile).
func (l *liveFlags) reconcileNow(ctx context.Context, s streams, cmd string, opts *cluster.Options, res *promote.Result) error {
	if len(l.refs) == 0 || res.NoOp {
		return nil
	}
	dyn, _, err := opts.Dynamic()
	if err != nil {
		return err
	}
	done, err := agent.Reconcile(ctx, dyn, l.refs, time.Now(), func(msg string) { fmt.Fprintf(s.err, "bgrender %s: warning: %s\n", cmd, msg) })
	for _, r := range done {
		fmt.Fprintf(s.err, "bgrender %s: asked %s to reconcile\n", cmd, r)
	}
	if err != nil {
		return fmt.Errorf("%w; the change stays (%s)", err, landed(res))
	}
	return nil
}

// actThen runs an action and then what l asks for, and reports: in text,
// the action's line at once; with -o json, one document at the end, which
// carries what --wait-live saw.
func (l *liveFlags) actThen(ctx context.Context, s streams, g *gitFlags, cmd string, run func(ctx context.Context) (*promote.Result, error),
	opts *cluster.Options, st *promote.State, start time.Time, image string) (*promote.Result, error) {
	if g.output != "json" || !l.any() {
		res, err := act(ctx, s, g, run)
		if err != nil {
			return nil, err
		}
		return res, l.after(ctx, s, cmd, opts, st, res, start, image)
	}
	res, err := run(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.path, err)
	}
	waitErr := l.after(ctx, s, cmd, opts, st, res, start, image)
	if err := g.report(s, res); err != nil {
		return res, err
	}
	return res, waitErr
}
