package release

import (
	"context"
	"fmt"
	"time"

	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// WaitMigration waits, after the commit of a new image, until the image's
// expand migration Job (spec.migrations.expand, rendered into the same
// commit) has succeeded: the new color must not start, let alone get
// traffic, on a schema it was not built for. A failed Job fails the step
// with its conditions and the tail of its pod's log.
type WaitMigration struct {
	Job   string
	Color spec.Color
	// Timeout of the wait (default 5m: the rollout gate's).
	Timeout time.Duration
}

func (s *WaitMigration) Kind() string { return "wait-migration" }
func (s *WaitMigration) Describe() string {
	return fmt.Sprintf("until the expand Job %s of %s's new image has succeeded (at most %s)", s.Job, s.Color, s.timeout())
}

func (s *WaitMigration) timeout() time.Duration {
	if s.Timeout <= 0 {
		return 5 * time.Minute
	}
	return s.Timeout
}

func (s *WaitMigration) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun {
		return nil
	}
	dyn, ns, err := r.Dynamic()
	if err != nil {
		return err
	}
	cfg, _, err := r.Cluster.Config()
	if err != nil {
		return err
	}
	r.Say("migration: waiting for the expand Job %s/%s (at most %s)", ns, s.Job, s.timeout())
	start := time.Now()
	if err := live.WaitJob(ctx, &live.Job{Client: dyn, WatchClient: r.Watching(), Config: cfg, Namespace: ns, Name: s.Job, Timeout: s.timeout()}); err != nil {
		return err
	}
	r.Say("migration: the expand Job %s succeeded after %s", s.Job, time.Since(start).Round(time.Second))
	return nil
}

// migrationWait is the wait for the expand Job that a deploy of o.Image
// commits, when the folder has spec.migrations.expand and the deploy
// waits (--wait or --wait-live); nil otherwise.
func migrationWait(o DeployOptions, st *promote.State) *WaitMigration {
	if st == nil || st.ExpandJob == nil || !(o.Wait || o.Live.Wait) {
		return nil
	}
	color := o.Color
	if color == "" {
		color = st.Active.Other()
	}
	timeout := o.Live.Timeout
	if o.Gates != nil && o.Gates.Checks.Timeout > 0 {
		timeout = o.Gates.Checks.Timeout
	}
	return &WaitMigration{Job: st.ExpandJob(color, o.Image), Color: color, Timeout: timeout}
}
