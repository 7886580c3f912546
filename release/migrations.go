package release

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
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
// (contract --wait), the wait for the Job. With Live.Wait, when Git has
// the old color at 0 replicas, the plan first has the agent apply that
// (with Refs) and waits until none of its pods runs (WaitRetired). st is
// the app folder as read before; nil when nothing after the commit needs
// it.
func PlanContract(a *promote.Contract, l Live, st *promote.State) *Plan {
	p := &Plan{Action: "contract", App: appName(st, &a.Target)}
	waits := l.Wait && st != nil && st.ContractJob != ""
	if waits && retiring(st) {
		if len(l.Refs) > 0 {
			p.Add(&Reconcile{Refs: l.Refs, Branch: true}, "", Stop)
		}
		e := p.Add(&WaitRetired{Deployment: st.App + "-" + string(st.Idle()), Color: st.Idle(), Timeout: l.Timeout}, "", Custom)
		e.Wrap = func(_ *Run, err error) error { return fmt.Errorf("%w; nothing committed", err) }
	}
	p.Add(&Commit{Action: a, What: "commit the contract Job of the live image, once the old color is retired"}, "", Stop)
	if len(l.Refs) > 0 {
		p.Add(&Reconcile{Refs: l.Refs}, "", Stop)
	}
	if waits {
		e := p.Add(&WaitMigration{Job: st.ContractJob, Color: st.Active, Contract: true, Timeout: l.Timeout}, "", Custom)
		e.Wrap = func(r *Run, err error) error {
			return fmt.Errorf("%w; the contract stays recorded (%s)", err, Landed(r.Last))
		}
	}
	return p
}

// retiring reports whether Git has the old version retired by 0 replicas
// (rather than by the live image on the idle color).
func retiring(st *promote.State) bool {
	idle := st.Idle()
	return st.Images[idle] != st.Images[st.Active] && st.Replicas[idle] == 0
}

// WaitRetired waits, before a contract's commit, until no pod of the
// retired color runs in the cluster: Git saying 0 replicas is not enough
// while the agent has not applied it, or the pods are still stopping, and
// a contract drops what those pods may read. It reads the color's
// Deployment's selector (list, as the Role allows) and lists its pods.
type WaitRetired struct {
	Deployment string
	Color      spec.Color
	Timeout    time.Duration
}

func (s *WaitRetired) Kind() string { return "wait-retired" }
func (s *WaitRetired) Describe() string {
	return fmt.Sprintf("until no pod of %s (Deployment %s) runs in the cluster (at most %s)", s.Color, s.Deployment, s.Timeout)
}

func (s *WaitRetired) Run(ctx context.Context, r *Run) error {
	if r.Target.DryRun {
		return nil
	}
	dyn, ns, err := r.Dynamic()
	if err != nil {
		return err
	}
	end := r.now().Add(s.Timeout)
	for said := false; ; said = true {
		n, err := colorPods(ctx, dyn, ns, s.Deployment)
		switch {
		case err != nil:
			return err
		case n == 0:
			r.Say("contract: no pod of %s runs: retired", s.Color)
			return nil
		case !r.now().Before(end):
			return exitcode.GateRefused(fmt.Errorf("%s still runs %d pods in %s after %s (has the agent applied its 0 replicas? --reconcile asks it to): the old version is not retired", s.Color, n, ns, s.Timeout))
		case !said:
			r.Say("contract: waiting until %s's %d pods are gone (at most %s)", s.Color, n, s.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// colorPods counts the pods, not yet ended, that Deployment name selects;
// 0 when there is no such Deployment.
func colorPods(ctx context.Context, dyn dynamic.Interface, ns, name string) (int, error) {
	ds, err := dyn.Resource(cluster.Deployments).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return 0, fmt.Errorf("read Deployment %s/%s: %w", ns, name, err)
	}
	if len(ds.Items) == 0 {
		return 0, nil
	}
	sel, found, err := unstructured.NestedStringMap(ds.Items[0].Object, "spec", "selector", "matchLabels")
	if err != nil || !found || len(sel) == 0 {
		return 0, fmt.Errorf("Deployment %s/%s: no spec.selector.matchLabels to find its pods by", ns, name)
	}
	pods, err := dyn.Resource(live.Pods).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return 0, fmt.Errorf("list the pods of Deployment %s/%s: %w", ns, name, err)
	}
	n := 0
	for _, p := range pods.Items {
		if phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase != "Succeeded" && phase != "Failed" {
			n++
		}
	}
	return n, nil
}
