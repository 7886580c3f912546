package release

import (
	"context"
	"fmt"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// MatchCapacity raises the floor of color To to what the live color runs
// now, when To has fewer ready pods, and waits until it has that many:
// read the cluster (as the capacity gate does), commit the raised floor
// (promote.RaiseFloor), ask the agent to apply it, and watch To's
// Deployment. A color that can take the traffic already is left as it is.
type MatchCapacity struct {
	Gates  *Gates
	Target *promote.Target
	To     spec.Color
	Refs   []agent.Ref
	// Timeout bounds the wait for the pods.
	Timeout time.Duration
	// Raised says the step committed a raised floor (SettleFloor reads it).
	Raised bool
}

func (s *MatchCapacity) Kind() string { return "match-capacity" }
func (s *MatchCapacity) Describe() string {
	return fmt.Sprintf("raise %s's floor to what the live color runs now, when it has fewer ready pods, and wait until they are ready (at most %s)", s.To, s.Timeout)
}

func (s *MatchCapacity) Run(ctx context.Context, r *Run) error {
	app, err := ReadApp(ctx, s.Gates.Cluster, s.Gates.appName(s.Target.Path), s.Gates.preview)
	if err != nil {
		return err
	}
	if app.Live == "" || app.Live == string(s.To) {
		r.Say("match-capacity: %s is live already (or no color is): nothing to match", s.To)
		return nil
	}
	to := app.Deployment(string(s.To), app.Name+"-"+string(s.To))
	reading, err := gate.Capacity{Client: app.Client, Namespace: app.Namespace, Live: app.Deployment(app.Live, app.Name+"-"+app.Live), To: to, Share: 100}.Run(ctx)
	if err == nil {
		r.Say("match-capacity: %s: %s", s.To, reading)
		return nil
	}
	if !IsRefusal(err) {
		return err
	}
	r.Say("match-capacity: %s: %s", s.To, reading)
	raise := &promote.RaiseFloor{Target: *s.Target, Color: s.To, Min: reading.Need}
	if err := (&Commit{Action: raise, What: "raise the floor"}).Run(ctx, r); err != nil {
		return err
	}
	s.Raised = r.Last != nil && !r.Last.NoOp
	if err := (&Reconcile{Refs: s.Refs}).Run(ctx, r); err != nil {
		return err
	}
	if r.Target.DryRun {
		return nil
	}
	r.Say("match-capacity: waiting until Deployment %s/%s has %d ready pods", app.Namespace, to, reading.Need)
	n, err := live.WaitReady(ctx, &live.Ready{Client: app.Client, WatchClient: app.WatchClient, Namespace: app.Namespace, Deployment: to, Replicas: reading.Need, Timeout: s.Timeout})
	if err != nil {
		return fmt.Errorf("%w; the raised floor stays (%s), nothing promoted", err, Landed(r.Last))
	}
	r.Say("match-capacity: %s has %d ready pods", to, n)
	return nil
}

// SettleFloor waits, between the flip and the restore of a floor that
// MatchCapacity raised, until the color's autoscaler has read what the
// traffic asks for (see live.WaitSettled): lowered before that, its floor
// could let it shrink the color at once, on the recommendations it made
// while the color was idle.
type SettleFloor struct {
	Gates *Gates
	Color spec.Color
	Match *MatchCapacity
	// Hold bounds the wait (see live.Autoscaler).
	Hold time.Duration
}

func (s *SettleFloor) Kind() string { return "settle-floor" }
func (s *SettleFloor) Describe() string {
	return fmt.Sprintf("wait until %s's autoscaler reads the traffic's metrics before its raised floor is restored (at most %s)", s.Color, s.Hold)
}

func (s *SettleFloor) Run(ctx context.Context, r *Run) error {
	f := r.State.Floors[s.Color]
	switch {
	case f.Autoscaler == "":
		return nil // no autoscaler, nothing to restore
	case !s.Match.Raised && f.Configured == 0:
		r.Say("settle-floor: %s's floor was not raised: nothing to restore", s.Color)
		return nil
	case r.Target.DryRun:
		r.Say("dry run: here the run would wait until HorizontalPodAutoscaler %s reads the traffic's metrics (at most %s)", f.Autoscaler, s.Hold)
		return nil
	}
	app, err := ReadApp(ctx, s.Gates.Cluster, s.Gates.appName(r.Target.Path), s.Gates.preview)
	if err != nil {
		return err
	}
	since := r.now()
	r.Say("settle-floor: waiting until HorizontalPodAutoscaler %s/%s reads the traffic (at most %s)", app.Namespace, f.Autoscaler, s.Hold)
	why, err := live.WaitSettled(ctx, &live.Autoscaler{Client: app.Client, WatchClient: app.WatchClient, Namespace: app.Namespace, Name: f.Autoscaler, Since: since, Hold: s.Hold})
	if err != nil {
		return fmt.Errorf("%w; the raised floor stays (%s): restore it when the load allows (%s)", err, Landed(r.Last), restoreHow(r.State))
	}
	r.Say("settle-floor: %s: %s", f.Autoscaler, why)
	return nil
}

// restoreHow says how to restore by hand a floor the match raised.
func restoreHow(st *promote.State) string {
	if st.Plain {
		return "minReplicas back to the annotation " + promote.AnnotationConfiguredMin + ", and the annotation removed"
	}
	return "delete the color's autoscaling.matchedMinReplicas in " + promote.SpecFile
}
