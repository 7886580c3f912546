package release

import (
	"context"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/status"
)

// clusterReadTimeout bounds the evidence's read of the cluster: the
// evidence describes the release, it must not hold it up.
const clusterReadTimeout = 15 * time.Second

// wantsEvidence says whether a commit carries evidence: when it opens a
// pull request (the body) or the run prints JSON. A dry run carries none:
// nothing is committed, and its plan is the report.
func (r *Run) wantsEvidence() bool {
	return !r.Target.DryRun && (r.Target.PullRequest || r.JSON)
}

// evidence assembles the case for the commit c is about to make: the
// plan as it stands, the gates' readings so far, and both colors as the
// cluster runs them now (when a cluster is configured and answers).
func (r *Run) evidence(ctx context.Context, c *Commit) *evidence.Evidence {
	ev := &evidence.Evidence{Action: r.Plan.Action, App: r.Plan.App, Gates: []gate.Result{}}
	current := -1
	for i := range r.Plan.Entries {
		if r.Plan.Entries[i].Step == Step(c) {
			current = i
		}
	}
	for i, rep := range r.Reports {
		s := evidence.Step{Step: rep.Step, Kind: rep.Kind, Label: rep.Label, Description: rep.Description, Status: rep.Status}
		if i == current {
			s.Status = evidence.ThisChange
		}
		ev.Plan = append(ev.Plan, s)
	}
	gates := c.Gates
	if gates == nil {
		gates = r.gates()
	}
	why := "not asked for"
	if gates != nil {
		ev.Gates = append(ev.Gates, gates.Results...)
		if gates.Effective != nil && gates.Effective.Spec != "" {
			why = "not asked for by the flags or " + gates.Effective.Spec
		}
	}
	ev.NotRun = evidence.NotRunOf(ev.Gates, why)
	r.readColors(ctx, ev, gates)
	ev.ReadAt = r.now().UTC().Truncate(time.Second)
	return ev
}

// gates are the gates of the plan's gate steps, when it has any.
func (r *Run) gates() *Gates {
	for _, e := range r.Plan.Entries {
		if g, ok := e.Step.(*RunGates); ok {
			return g.Gates
		}
	}
	return nil
}

// readColors reads both colors from the cluster into ev, or says in
// ev.ClusterNote why it could not.
func (r *Run) readColors(ctx context.Context, ev *evidence.Evidence, gates *Gates) {
	if r.Cluster == nil || !r.readsCluster() {
		// A release that needs no cluster stays cluster-free.
		ev.ClusterNote = "the release reads no cluster (no gate, no wait)"
		return
	}
	name, preview := r.Plan.App, ""
	if gates != nil {
		name, preview = gates.appName(r.Target.Path), gates.preview
	}
	ctx, cancel := context.WithTimeout(ctx, clusterReadTimeout)
	defer cancel()
	app, err := ReadApp(ctx, r.Cluster, name, preview)
	if err != nil {
		ev.ClusterNote = gate.RedactText(err.Error())
		return
	}
	// The ReplicaSets give each color's age; a role that may not list
	// them shows none, like status shows no HPA it may not list.
	if reader, err := status.NewReader(app.Config, app.Namespace); err == nil {
		_ = reader.ReadReplicaSets(ctx, app.App)
	}
	ev.Namespace, ev.Live, ev.Colors = app.Namespace, app.Live, app.Colors
}

// readsCluster says whether the plan reads the cluster anyway: a step
// that runs gates or waits for it, or guard's reaction to a breach
// (guard has read the cluster all along).
func (r *Run) readsCluster() bool {
	if r.Target.Breach != nil {
		return true
	}
	for _, e := range r.Plan.Entries {
		switch e.Step.Kind() {
		case "gates", "wait-live", "wait-traffic", "reconcile", "hold", "match-capacity", "wait-migration", "wait-retired":
			return true
		}
	}
	return false
}
