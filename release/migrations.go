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
// traffic, on a schema it was not built for. After a contract's commit it
// waits for the contract Job (Contract). A failed Job fails the step with
// its conditions and the tail of its pod's log.
type WaitMigration struct {
	Job   string
	Color spec.Color
	// Contract: the Job is the contract of the live color's image.
	Contract bool
	// Timeout of the wait (default 5m: the rollout gate's).
	Timeout time.Duration
}

func (s *WaitMigration) Kind() string { return "wait-migration" }
func (s *WaitMigration) Describe() string {
	if s.Contract {
		return fmt.Sprintf("until the contract Job %s of %s's image has succeeded (at most %s)", s.Job, s.Color, s.timeout())
	}
	return fmt.Sprintf("until the expand Job %s of %s's new image has succeeded (at most %s)", s.Job, s.Color, s.timeout())
}

func (s *WaitMigration) kind() string {
	if s.Contract {
		return "contract"
	}
	return "expand"
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
	r.Say("migration: waiting for the %s Job %s/%s (at most %s)", s.kind(), ns, s.Job, s.timeout())
	start := time.Now()
	if err := live.WaitJob(ctx, &live.Job{Client: dyn, WatchClient: r.Watching(), Config: cfg, Namespace: ns, Name: s.Job, Timeout: s.timeout()}); err != nil {
		return err
	}
	r.Say("migration: the %s Job %s succeeded after %s", s.kind(), s.Job, time.Since(start).Round(time.Second))
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

// PlanContract plans a contract: the commit of the contract Job and its
// record (promote.Contract), the reconcile request and, with Live.Wait
// (contract --wait), the wait for the Job. st is the app folder as read
// before; nil when nothing after the commit needs it.
func PlanContract(a *promote.Contract, l Live, st *promote.State) *Plan {
	p := &Plan{Action: "contract", App: appName(st, &a.Target)}
	p.Add(&Commit{Action: a, What: "commit the contract Job of the live image, once the old color is retired"}, "", Stop)
	if len(l.Refs) > 0 {
		p.Add(&Reconcile{Refs: l.Refs}, "", Stop)
	}
	if l.Wait && st != nil && st.ContractJob != "" {
		e := p.Add(&WaitMigration{Job: st.ContractJob, Color: st.Active, Contract: true, Timeout: l.Timeout}, "", Custom)
		e.Wrap = func(r *Run, err error) error {
			return fmt.Errorf("%w; the contract stays recorded (%s)", err, Landed(r.Last))
		}
	}
	return p
}
