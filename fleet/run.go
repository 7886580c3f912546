package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/guard"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// Reconcile asks each member's GitOps agent, on its own cluster, to apply
// the last commit now (the members' reconcile refs).
type Reconcile struct {
	Members []*Member
	// Resumed asks even when this run has committed nothing: the commit
	// is the deploy a killed run pushed, which it may not have asked for.
	Resumed bool
}

func (s *Reconcile) Kind() string { return "reconcile" }
func (s *Reconcile) Describe() string {
	var refs []string
	for _, m := range s.Members {
		for _, r := range m.Refs {
			refs = append(refs, m.Target.Name+" "+r.String())
		}
	}
	if len(refs) == 0 {
		return "none asked: each cluster's agent applies the commit at its interval"
	}
	return "ask " + strings.Join(refs, ", ") + " to apply the commit"
}

func (s *Reconcile) Run(ctx context.Context, r *release.Run) error {
	switch {
	case r.Target.DryRun || r.Last != nil && r.Last.DryRun:
		return nil
	case !s.Resumed && (r.Last == nil || r.Last.NoOp):
		return nil
	}
	for _, m := range s.Members {
		if len(m.Refs) == 0 {
			continue
		}
		dyn, _, err := m.Cluster.Dynamic()
		if err != nil {
			return fmt.Errorf("target %s: %w", m.Target.Name, err)
		}
		// Flux reconciles only for a value it has not handled yet: the
		// time of this request, not the run's start, which every
		// request of the run would repeat.
		now := time.Now()
		if r.Now != nil {
			now = r.Now()
		}
		done, err := agent.Reconcile(ctx, dyn, m.Refs, now, func(msg string) { r.Say("warning: %s: %s", m.Target.Name, msg) })
		for _, ref := range done {
			r.Say("asked %s on %s to reconcile", ref, m.Target.Name)
		}
		if err != nil {
			return fmt.Errorf("target %s: %w; the change stays (%s)", m.Target.Name, err, release.Landed(r.Last))
		}
	}
	return nil
}

// Run releases the plan wave by wave with env's collaborators (its
// Target and Cluster are set per step). A gate's refusal or a failure
// stops the fleet where it is; a breach during a hold reacts as the
// wave's onBreach says. The table of every target's state is written to
// env.Out at the end, whatever happened.
//
// With env.JSON, the report (see Report) is written instead of the
// table, and no line per commit.
func (p *Plan) Run(ctx context.Context, env release.Env) error {
	err := p.run(ctx, &env)
	var werr error
	if env.JSON {
		werr = p.Report(err).WriteJSON(env.Out)
	} else {
		werr = p.Table(env.Out)
	}
	if err == nil {
		err = werr
	}
	return err
}

// execute runs one step's plan with env's collaborators and its
// repository's target, and records what it did for the report.
func (p *Plan) execute(ctx context.Context, env *release.Env, s *Step) (*release.Run, error) {
	step := *env
	step.Target = s.Target
	if env.JSON {
		// The fleet's report says it all, at the end.
		step.JSON, step.Out = false, io.Discard
	}
	run, err := (release.Runner{}).Execute(ctx, s.Plan, &step, nil)
	s.ran(run)
	return run, err
}

func (p *Plan) run(ctx context.Context, env *release.Env) error {
	if p.Action == "rollback" {
		return p.runRollback(ctx, env)
	}
	for i, wp := range p.Waves {
		if len(wp.Refused) > 0 {
			return p.refuse(wp)
		}
		if wp.Done() {
			env.Say("wave %d %s: every target runs %s live already", i+1, wp.Wave.Name, p.Image)
			if p.rehold(i) {
				// Git does not say whether this wave's hold passed
				// (a run killed after its flip): hold it again.
				env.Say("wave %d %s: holding it again before wave %d %s starts", i+1, wp.Wave.Name, i+2, p.Waves[i+1].Wave.Name)
				if err := p.hold(ctx, env, i, wp); err != nil {
					return err
				}
			}
			continue
		}
		env.Say("wave %d %s: %s", i+1, wp.Wave.Name, strings.Join(targetNames(wp.Members), ", "))
		for _, s := range wp.Steps {
			if _, err := p.execute(ctx, env, s); err != nil {
				p.stopped(s)
				return err
			}
			for _, m := range s.Members {
				m.State, m.flipped = Released, true
			}
		}
		if err := p.hold(ctx, env, i, wp); err != nil {
			return err
		}
	}
	return nil
}

// refuse stops the fleet at a wave that a member refuses (a promote
// with nothing deployed to flip to there): nothing of the wave is
// committed.
func (p *Plan) refuse(wp *WavePlan) error {
	var why []string
	for _, m := range wp.Refused {
		why = append(why, m.Target.Name+": "+m.Why)
	}
	for _, m := range wp.Members {
		if m.State == Pending || m.State == Deployed {
			m.State = Halted
		}
	}
	return exitcode.GateRefused(fmt.Errorf("wave %s: refused: %s; nothing committed in this wave, the next waves wait", wp.Wave.Name, strings.Join(why, "; ")))
}

// rehold reports whether wave i, released in an earlier run, is held
// again: it is the last released wave before one that moves next, and
// holds.
func (p *Plan) rehold(i int) bool {
	if !p.Waves[i].Done() || i+1 >= len(p.Waves) || p.Waves[i].Wave.HoldFor() <= 0 {
		return false
	}
	next := p.Waves[i+1]
	return len(next.Steps) > 0 && len(next.Refused) == 0 // a refused wave stops the fleet before any hold

}

// stopped marks the members of a step that stopped without a state of
// their own as halted where Git has them.
func (p *Plan) stopped(s *Step) {
	for _, m := range s.Members {
		if m.State == Pending || m.State == Deployed {
			m.State = Halted
		}
	}
}

// hold watches every target of the wave for its hold, and reacts to the
// first breach.
func (p *Plan) hold(ctx context.Context, env *release.Env, i int, wp *WavePlan) error {
	w := wp.Wave
	if w.HoldFor() <= 0 {
		return nil
	}
	env.Say("wave %d %s: holding %s, every %s: %s", i+1, w.Name, w.HoldFor(), w.Every(), probesOf(wp.Members))
	who, breach, err := watch(ctx, env, wp)
	if err != nil {
		return fmt.Errorf("wave %s: the hold: %w; the wave stays released, the next waves wait (a re-run holds it again)", w.Name, err)
	}
	if breach == nil {
		env.Say("wave %d %s held for %s", i+1, w.Name, w.HoldFor())
		return nil
	}
	who.State = Breached
	reading := fmt.Sprintf("%s on %s (%s): %s", breach.Probe, who.Target.Name, ClusterName(who.Target), breach.Reason)
	env.Say("wave %s: breach: %s", w.Name, reading)
	return p.react(ctx, env, i, who, reading)
}

// react rolls back as the breaching wave's onBreach says.
func (p *Plan) react(ctx context.Context, env *release.Env, wave int, who *Member, reading string) error {
	w := p.Waves[wave].Wave
	var back []*Member
	switch w.Breach() {
	case Halt:
		for _, m := range p.Waves[wave].Members {
			if m.State == Released {
				m.State = Halted
			}
		}
		return exitcode.GateRefused(fmt.Errorf("wave %s: breach: %s; halted (onBreach: halt): nothing rolled back, the next waves wait", w.Name, reading))
	case RollbackAll:
		for _, wp := range p.Waves[:wave+1] {
			back = append(back, moved(wp)...)
		}
	default:
		back = moved(p.Waves[wave])
	}
	reason := fmt.Sprintf("fleet %s: wave %s: breach: %s", p.Fleet.Metadata.Name, w.Name, reading)
	p.Waves[wave].breach = reading
	landed, err := p.rollback(ctx, env, p.Waves[wave], back, reason)
	if err != nil {
		return fmt.Errorf("wave %s: breach: %s; the rollback failed: %w", w.Name, reading, err)
	}
	return exitcode.GateRefused(fmt.Errorf("wave %s: breach: %s; rolled back %s (%s); the next waves are untouched", w.Name, reading, strings.Join(targetNames(back), ", "), strings.Join(landed, ", ")))
}

// moved are the members of a wave that this run left on the image (and
// the breaching one).
func moved(wp *WavePlan) []*Member {
	var out []*Member
	for _, m := range wp.Members {
		if m.State == Released || m.State == Breached {
			out = append(out, m)
		}
	}
	return out
}

// rollback flips members back, after a breach in wave wp, in one commit
// per repository (see rollbackSteps) and waits until each cluster serves
// it; it returns what landed.
func (p *Plan) rollback(ctx context.Context, env *release.Env, wp *WavePlan, members []*Member, reason string) ([]string, error) {
	var landed []string
	for _, s := range p.rollbackSteps(wp.Wave, members, reason) {
		wp.rollback = append(wp.rollback, s)
		run, err := p.execute(ctx, env, s)
		if run != nil && run.Last != nil {
			landed = append(landed, release.Landed(run.Last))
			for _, m := range s.Members {
				m.State = RolledBack
			}
		}
		if err != nil {
			return landed, err
		}
	}
	return landed, nil
}

// rollbackSteps are the steps that flip members of wave w back, one per
// repository: the commit of every member's rollback, each from the color
// the plan found (or the release made) live — a folder Git already routes
// elsewhere is left alone —, and a wait until each cluster serves it.
// reason, when set, ends each rollback's summary.
func (p *Plan) rollbackSteps(w *Wave, members []*Member, reason string) []*Step {
	var order []string
	byRepo := map[string][]*Member{}
	for _, m := range members {
		key := p.Fleet.RepoOf(m.Target) + "#" + p.Fleet.BranchOf(m.Target)
		if byRepo[key] == nil {
			order = append(order, key)
		}
		byRepo[key] = append(byRepo[key], m)
	}
	var steps []*Step
	for _, key := range order {
		ms := byRepo[key]
		gt := *p.repos[key]
		gt.Path = strings.Join(paths(ms), ", ")
		p.withMessage(&gt, w, ms)
		p.withBranch(&gt, w, 1)
		g := &promote.Group{Target: gt}
		plan := &release.Plan{Action: "rollback", App: strings.Join(targetNames(ms), ", ")}
		for _, m := range ms {
			g.Members = append(g.Members, &promote.Rollback{Target: *m.Git, Reason: reason, From: m.New()})
		}
		what := "roll back " + strings.Join(targetNames(ms), ", ") + " in one commit"
		if reason != "" {
			what += ": " + reason
		}
		plan.Add(&release.Commit{Action: g, What: what}, "wave "+w.Name, release.Stop)
		reconcile(plan, ms, false)
		for i, m := range ms {
			rm := &release.Member{Path: m.Target.Path, State: m.Folder, Cluster: m.Cluster}
			plan.Add(&release.WaitApp{Member: rm, Index: i, Timeout: p.liveTimeout}, "target "+m.Target.Name, release.Stop)
		}
		steps = append(steps, &Step{Batch: 1, Repo: p.Fleet.RepoOf(ms[0].Target), Members: ms, Target: &gt, Plan: plan})
	}
	return steps
}

// probesOf says what the hold watches on each member.
func probesOf(ms []*Member) string {
	var parts []string
	for _, m := range ms {
		s := m.Target.Name + ": deployment available"
		if c := m.Gates.Checks; c.PrometheusURL != "" {
			s += ", error rate under " + gate.FormatPercent(c.MaxErrorRate) + "%"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// watch runs guard's probes on every member of the wave at once, each on
// its own cluster, and returns the first breach (the others stop then).
func watch(ctx context.Context, env *release.Env, wp *WavePlan) (*Member, *guard.Breach, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type found struct {
		m      *Member
		breach *guard.Breach
		err    error
	}
	results := make(chan found, len(wp.Members))
	var wg sync.WaitGroup
	for _, m := range wp.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := watchOne(ctx, env, wp.Wave, m)
			results <- found{m, b, err}
			if b != nil {
				cancel() // one breach is enough: the others stop
			}
		}()
	}
	wg.Wait()
	close(results)
	var errs []error
	var first *found
	for r := range results {
		switch {
		case r.breach != nil && first == nil:
			f := r
			first = &f
		case r.err != nil && !errors.Is(r.err, context.Canceled):
			errs = append(errs, fmt.Errorf("%s: %w", r.m.Target.Name, r.err))
		}
	}
	if first != nil {
		return first.m, first.breach, nil
	}
	return nil, nil, errors.Join(errs...)
}

// watchOne watches one member for the wave's hold: its live Deployment
// available and, when its gates read Prometheus, its error rate.
func watchOne(ctx context.Context, env *release.Env, w *Wave, m *Member) (*guard.Breach, error) {
	app, err := release.ReadApp(ctx, m.Cluster, m.Folder.App, "")
	if err != nil {
		return nil, err
	}
	live := string(m.New())
	deployment := app.Deployment(live, app.Name+"-"+live)
	probes := []guard.Probe{guard.Ready(app.Client, app.Namespace, deployment)}
	if c := m.Gates.Checks; c.PrometheusURL != "" {
		q := c.Query
		if q == "" {
			q = gate.DefaultErrorRateQuery
		}
		q = gate.ExpandQuery(q, gate.QueryVars{App: app.Name, Namespace: app.Namespace, ColorLabel: app.ColorLabel, Color: live, Window: c.Window})
		probes = append(probes, guard.ErrorRate(gate.ErrorRate{URL: c.PrometheusURL, Query: q, Max: c.MaxErrorRate, Attempts: 1}, nil))
	}
	gw := guard.Watch{For: w.HoldFor(), Interval: w.Every(), Probes: probes, Report: func(msg string) { env.Say("%s: %s", m.Target.Name, msg) }}
	return gw.Run(ctx)
}

// Table writes every target's state, one row each, in the order of the
// waves.
func (p *Plan) Table(w io.Writer) error {
	rows := [][]string{{"WAVE", "TARGET", "CLUSTER", "PATH", "LIVE", "IMAGE", "STATE"}}
	for _, m := range p.Members {
		live, image := m.shown(p.Image)
		rows = append(rows, []string{m.Wave.Name, m.Target.Name, ClusterName(m.Target), m.Target.Path, string(live), image, m.State})
	}
	return writeTable(w, rows)
}

// shown is the color the member's live Service selects as the run left
// it, and the image that color runs (image, when the run flipped to it).
func (m *Member) shown(image string) (spec.Color, string) {
	live := m.Live()
	if live == m.New() && m.flipped {
		return live, image
	}
	return live, m.Folder.Images[live]
}

// writeTable writes rows aligned in columns, as status does.
func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
