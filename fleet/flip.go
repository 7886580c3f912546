package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// A fleet's promote and rollback: the flip of what is deployed already,
// and the flip back, wave by wave. Both read each folder's history in Git
// (promote.History) to resume: a target already flipped, or already
// rolled back, is left as it is.

// PlanPromote reads every target's folder and its history in Git and
// plans the flip of what is deployed, wave by wave, as a release's steps
// without the deploy: each target's gates on its own cluster, the flip
// of a batch's targets in one commit per repository, a wait until each
// cluster serves it, the wave's hold.
//
// The image promoted is the one deployed to the idle color of the first
// target, in the order of the waves, whose idle color runs an image it
// did not run when it was last live; when no target has one, the one the
// first target runs live (a promote that ended, or never began). A
// target whose live color runs it is promoted already; one whose idle
// color runs it, new, is flipped; any other refuses its wave (exit code
// 3 when the run gets there, nothing committed for the wave): nothing is
// deployed there to flip to.
func PlanPromote(ctx context.Context, o Options) (*Plan, error) {
	p := newPlan("promote", o)
	news := map[*Member]bool{}
	err := p.read(o, nil, func(m *Member) error {
		h, err := p.readHistory(ctx, m)
		if err != nil {
			return err
		}
		news[m] = h.IdleNew
		return m.useGates(o)
	})
	if err != nil {
		return nil, err
	}
	p.Image = promoted(p.Members, news)
	for _, m := range p.Members {
		if err := p.promotePhase(m, news[m]); err != nil {
			return nil, fmt.Errorf("target %s: %w", m.Target.Name, err)
		}
	}
	p.settle()
	for _, wp := range p.Waves {
		p.planWave(wp)
	}
	return p, nil
}

// readHistory reads the member's folder with its history, and the
// namespace it names.
func (p *Plan) readHistory(ctx context.Context, m *Member) (*promote.History, error) {
	st, h, err := m.Git.ReadHistory(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", m.Git.Path, m.Git.Repo.URL, err)
	}
	m.Folder = st
	return h, release.UseNamespace(m.Cluster, m.Git, st)
}

// promoted is the image a fleet's promote flips to (see PlanPromote).
func promoted(ms []*Member, news map[*Member]bool) string {
	for _, m := range ms {
		if news[m] {
			return m.Folder.Images[m.Idle()]
		}
	}
	if len(ms) == 0 {
		return ""
	}
	return ms[0].Folder.Images[ms[0].Folder.Active]
}

// promotePhase says where a promote finds the member: promoted already
// (released), deployed (to flip), or refused, and why.
func (p *Plan) promotePhase(m *Member, idleNew bool) error {
	st, idle := m.Folder, m.Idle()
	switch {
	case st.Images[st.Active] == p.Image:
		m.Phase = Released
	case idleNew && st.Images[idle] == p.Image:
		m.Phase = Deployed
		return idleServes(m)
	case idleNew:
		m.Phase, m.Why = Refused, fmt.Sprintf("its idle color %s runs %s, not %s, which this promote flips to (the first wave's)", idle, st.Images[idle], p.Image)
	default:
		m.Phase, m.Why = Refused, fmt.Sprintf("nothing deployed to flip to: its idle color %s runs %s, as when it was last live (deploy %s first)", idle, st.Images[idle], p.Image)
	}
	return nil
}

// PlanRollback reads the folder of every target (of wave only, when it
// is set) and its history in Git, and plans their flip back, wave by
// wave, the last wave first: for each wave, one commit per repository
// that names the targets, and a wait until each cluster serves it.
//
// A target whose live color a promote made live, and whose idle color
// runs what it ran when it was last live, is rolled back. One a rollback
// made live is back already; one whose idle color runs an image deployed
// since (a wave the release did not reach), or whose live color no
// promote made live in the history read, is left unchanged: there is no
// release of it to roll back.
func PlanRollback(ctx context.Context, o Options, wave string) (*Plan, error) {
	p := newPlan("rollback", o)
	waves, err := p.rollbackWaves(wave)
	if err != nil {
		return nil, err
	}
	err = p.read(o, waves, func(m *Member) error {
		h, err := p.readHistory(ctx, m)
		if err != nil {
			return err
		}
		rollbackPhase(m, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.settle()
	for _, wp := range p.Waves {
		var back []*Member
		for _, m := range wp.Members {
			if m.Phase == Released {
				back = append(back, m)
			}
		}
		if len(back) > 0 {
			wp.Steps = p.rollbackSteps(wp.Wave, back, "")
		}
	}
	return p, nil
}

// rollbackWaves are the waves a rollback moves, the last first: every
// wave, or the one named.
func (p *Plan) rollbackWaves(name string) ([]*Wave, error) {
	f := p.Fleet
	var waves, named []*Wave
	var names []string
	for i := range f.Spec.Waves {
		w := &f.Spec.Waves[i]
		waves = append(waves, w)
		names = append(names, w.Name)
		if w.Name == name {
			named = append(named, w)
		}
	}
	if name != "" {
		if named == nil {
			return nil, exitcode.Invalidf("--wave %s: the fleet %s has no wave %s (its waves: %s)", name, f.File, name, strings.Join(names, ", "))
		}
		return named, nil
	}
	slices.Reverse(waves)
	return waves, nil
}

// rollbackPhase says where a rollback finds the member (see
// PlanRollback).
func rollbackPhase(m *Member, h *promote.History) {
	st, idle := m.Folder, m.Idle()
	switch {
	case h.Flip == "rollback":
		m.Phase, m.Why = RolledBack, fmt.Sprintf("a rollback made %s live already", st.Active)
	case h.IdleNew:
		m.Phase, m.Why = Unchanged, fmt.Sprintf("its idle color %s runs %s, deployed since it was last live: the release did not reach it", idle, st.Images[idle])
	case h.Flip != "promote":
		m.Phase, m.Why = Unchanged, fmt.Sprintf("no promote made %s live in the history read: no release to roll back", st.Active)
	default:
		m.Phase = Released
	}
}

// runRollback runs a rollback's waves in their order, the last first,
// and stops at the first failure or refusal.
func (p *Plan) runRollback(ctx context.Context, env *release.Env) error {
	for _, wp := range p.Waves {
		n := p.number(wp.Wave)
		if wp.Done() {
			env.Say("wave %d %s: nothing to roll back", n, wp.Wave.Name)
			continue
		}
		var back []*Member
		for _, s := range wp.Steps {
			back = append(back, s.Members...)
		}
		env.Say("wave %d %s: rolling back %s", n, wp.Wave.Name, strings.Join(targetNames(back), ", "))
		for _, s := range wp.Steps {
			run, err := p.execute(ctx, env, s)
			if run != nil && run.Last != nil {
				for _, m := range s.Members {
					m.State = RolledBack
				}
			}
			if err != nil {
				return fmt.Errorf("wave %s: %w; the waves before it are not rolled back (a re-run resumes)", wp.Wave.Name, err)
			}
		}
	}
	return nil
}

// number is the wave's place in the fleet file, from 1.
func (p *Plan) number(w *Wave) int {
	for i := range p.Fleet.Spec.Waves {
		if &p.Fleet.Spec.Waves[i] == w {
			return i + 1
		}
	}
	return 0
}
