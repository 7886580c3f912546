package fleet

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// Options are the inputs of a fleet release.
type Options struct {
	Fleet *Fleet
	Image string
	// Open returns the app folder at path in repo on branch, with the
	// command's commit options (author, message template, signing, dry
	// run). Targets that share a repository and branch share a session:
	// the repository is cloned once.
	Open func(repo, branch, path string) (*promote.Target, error)
	// Gates returns the flags' gates for a target's cluster (the rollout
	// gate is always added; its folder's gates are merged in).
	Gates func(opts *cluster.Options) *release.Gates
	// LiveTimeout bounds each wait until a cluster serves a commit.
	LiveTimeout time.Duration
}

// Member is a target of the fleet as the plan read it.
type Member struct {
	Target  *Target
	Wave    *Wave
	Git     *promote.Target
	Folder  *promote.State
	Cluster *cluster.Options
	Gates   *release.Gates
	Refs    []agent.Ref
	// Phase is where Git had the target when the plan was made:
	// released (its live color runs the image), deployed (its idle color
	// does), or pending; in a fleet's promote, refused (nothing deployed
	// to flip to); in its rollback, released (to roll back), rolled back
	// or unchanged. State is where the run left it (see the table).
	Phase, State string
	// Why says why a target is refused, or left unchanged.
	Why string
	// flipped: the image is live on the target (before the run, or by
	// its flip), unless State says it was rolled back.
	flipped bool
}

// Target phases and states.
const (
	Released   = "released"
	Deployed   = "deployed"
	Pending    = "pending"
	Breached   = "breached"
	RolledBack = "rolled back"
	Halted     = "halted"
	Failed     = "failed"
	Refused    = "refused"
	Unchanged  = "unchanged"
)

// Idle is the color the folder did not route to when the plan was read.
func (m *Member) Idle() spec.Color { return m.Folder.Active.Other() }

// New is the color that runs the image: the live one of a target
// released before the run, else the idle one, which the release flips to.
func (m *Member) New() spec.Color {
	if m.Phase == Released {
		return m.Folder.Active
	}
	return m.Idle()
}

// Live is the color the target's live Service selects as the run left
// it.
func (m *Member) Live() spec.Color {
	switch {
	case m.State == RolledBack:
		return m.New().Other()
	case m.flipped:
		return m.New()
	}
	return m.Folder.Active
}

// Plan is a fleet release: the waves, and for each the steps that are
// left.
type Plan struct {
	// Action is release, promote or rollback.
	Action string
	Fleet  *Fleet
	// Image is the image released or promoted (none in a rollback).
	Image   string
	Members []*Member // in the order of the fleet file's waves
	// Waves are in the order they move: a rollback's last first.
	Waves []*WavePlan
	repos map[string]*promote.Target // the group target of each repository
	// liveTimeout bounds the waits of a rollback as the release's.
	liveTimeout time.Duration
}

// WavePlan is one wave: its members and, unless every one is released,
// a step per batch and repository.
type WavePlan struct {
	Wave    *Wave
	Members []*Member
	Steps   []*Step
	// Refused are the members that refuse the wave (a promote with
	// nothing deployed to flip to): it stops there, nothing committed.
	Refused []*Member
	// breach is the reading that breached during the hold, and rollback
	// the steps that reacted to it (for the report).
	breach   string
	rollback []*Step
}

// Done reports whether the wave has nothing left to do: every target
// runs the image live (or, in a rollback, is back).
func (w *WavePlan) Done() bool { return len(w.Steps) == 0 && len(w.Refused) == 0 }

// Step is one batch of a wave in one repository: a release.Plan whose
// commits change every folder of the batch at once.
type Step struct {
	Batch   int
	Repo    string
	Members []*Member
	Target  *promote.Target // the repository; Path lists the folders
	Plan    *release.Plan
	// What the step's run did, for the report.
	commits []*promote.Result
	reports []release.StepReport
}

// PlanRelease reads every target's folder in Git and plans the release
// of what is left, wave by wave. A folder that cannot be read, or whose
// idle color runs no replicas, stops it before anything is committed.
func PlanRelease(ctx context.Context, o Options) (*Plan, error) {
	p := newPlan("release", o)
	err := p.read(o, nil, func(m *Member) error {
		if err := p.readFolder(ctx, o, m); err != nil {
			return err
		}
		switch {
		case m.Folder.Images[m.Folder.Active] == o.Image:
			m.Phase = Released
		case m.Folder.Images[m.Idle()] == o.Image:
			m.Phase = Deployed
		default:
			m.Phase = Pending
		}
		if m.Phase != Released {
			return idleServes(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.settle()
	for _, wp := range p.Waves {
		p.planWave(wp)
	}
	return p, nil
}

// idleServes refuses a member whose idle color, which the fleet flips
// to, runs no replicas: bad input, found before anything is committed.
func idleServes(m *Member) error {
	if idle := m.Idle(); m.Folder.Replicas[idle] == 0 {
		return exitcode.Invalidf("the idle color %s runs 0 replicas in the app folder %s, so it cannot take the traffic (scale it up first: scale-idle --replicas N); nothing committed", idle, m.Target.Path)
	}
	return nil
}

// settle starts each member's state where the plan found it.
func (p *Plan) settle() {
	for _, m := range p.Members {
		m.State, m.flipped = m.Phase, m.Phase == Released && p.Action != "rollback"
	}
}

func newPlan(action string, o Options) *Plan {
	return &Plan{Action: action, Fleet: o.Fleet, Image: o.Image, repos: map[string]*promote.Target{}, liveTimeout: o.LiveTimeout}
}

// read opens the folder of every target of waves (nil: every wave),
// wave by wave, and reads it with each: each sets the member's Folder
// and gates.
func (p *Plan) read(o Options, waves []*Wave, each func(*Member) error) error {
	f := p.Fleet
	if waves == nil {
		for i := range f.Spec.Waves {
			waves = append(waves, &f.Spec.Waves[i])
		}
	}
	sessions := map[string]*gitops.Session{}
	for _, w := range waves {
		wp := &WavePlan{Wave: w}
		for _, t := range w.Members() {
			m, err := p.open(o, t, w, sessions)
			if err == nil {
				err = each(m)
			}
			if err != nil {
				return fmt.Errorf("target %s: %w", t.Name, err)
			}
			wp.Members = append(wp.Members, m)
			p.Members = append(p.Members, m)
		}
		p.Waves = append(p.Waves, wp)
	}
	return nil
}

// open opens one target's folder in Git: the targets of one repository
// and branch share a session, so the repository is cloned once.
func (p *Plan) open(o Options, t *Target, w *Wave, sessions map[string]*gitops.Session) (*Member, error) {
	repo, branch := p.Fleet.RepoOf(t), p.Fleet.BranchOf(t)
	g, err := o.Open(repo, branch, t.Path)
	if err != nil {
		return nil, err
	}
	key := repo + "#" + branch
	if sessions[key] == nil {
		sessions[key] = &gitops.Session{}
		gt := *g
		p.repos[key] = &gt
	}
	g.Session = sessions[key]
	m := &Member{Target: t, Wave: w, Git: g, Cluster: p.Fleet.Cluster(t)}
	for _, r := range t.Reconcile {
		ref, _ := agent.ParseRef(r) // checked by Load
		m.Refs = append(m.Refs, ref)
	}
	return m, nil
}

// readFolder reads the member's folder and takes its gates.
func (p *Plan) readFolder(ctx context.Context, o Options, m *Member) error {
	var err error
	if m.Folder, err = release.ReadFolder(ctx, m.Cluster, m.Git); err != nil {
		return err
	}
	return m.useGates(o)
}

// useGates takes the flags' gates for the member's cluster, with the
// rollout gate and its folder's gates.
func (m *Member) useGates(o Options) error {
	m.Gates = o.Gates(m.Cluster)
	m.Gates.Wait = true
	return m.Gates.UseFolder(m.Folder)
}

// planWave plans the wave's steps: its members not yet released, in
// batches of at most maxParallel, each batch split by repository.
func (p *Plan) planWave(wp *WavePlan) {
	var left []*Member
	for _, m := range wp.Members {
		switch m.Phase {
		case Released:
		case Refused:
			wp.Refused = append(wp.Refused, m)
		default:
			left = append(left, m)
		}
	}
	size := wp.Wave.MaxParallel
	if size <= 0 {
		size = len(left)
	}
	for b := 0; len(left) > 0; b++ {
		batch := left[:min(size, len(left))]
		left = left[len(batch):]
		var order []string
		byRepo := map[string][]*Member{}
		for _, m := range batch {
			key := p.Fleet.RepoOf(m.Target) + "#" + p.Fleet.BranchOf(m.Target)
			if byRepo[key] == nil {
				order = append(order, key)
			}
			byRepo[key] = append(byRepo[key], m)
		}
		for _, key := range order {
			s := &Step{Batch: b + 1, Repo: p.Fleet.RepoOf(byRepo[key][0].Target), Members: byRepo[key]}
			gt := *p.repos[key]
			gt.Session = byRepo[key][0].Git.Session
			gt.Path = strings.Join(paths(s.Members), ", ")
			p.withMessage(&gt, wp.Wave, s.Members)
			p.withBranch(&gt, wp.Wave, s.Batch)
			s.Target = &gt
			s.Plan = s.plan(p.Action, wp.Wave, p.Image, p.liveTimeout)
			wp.Steps = append(wp.Steps, s)
		}
	}
}

// plan is the step's release.Plan: the deploy of every member not yet
// deployed in one commit, each member's rollout and gates on its own
// cluster, the flip of every member in one commit, and a wait until each
// member's cluster serves it.
func (s *Step) plan(action string, w *Wave, image string, liveTimeout time.Duration) *release.Plan {
	names := targetNames(s.Members)
	p := &release.Plan{Action: action, App: strings.Join(names, ", ")}
	deploy := &promote.Group{Target: *s.Target}
	var deployed []string
	for _, m := range s.Members {
		if m.Phase == Deployed {
			continue
		}
		deploy.Members = append(deploy.Members, &promote.Deploy{Target: *m.Git, Image: image, Color: m.Idle()})
		deployed = append(deployed, fmt.Sprintf("%s (%s)", m.Target.Name, m.Idle()))
	}
	switch {
	case len(deploy.Members) > 0:
		what := fmt.Sprintf("deploy %s to %s in one commit", image, strings.Join(deployed, ", "))
		p.Add(&release.Commit{Action: deploy, What: what}, "wave "+w.Name, release.Stop)
		reconcile(p, s.Members, false)
	case action == "release":
		// Every member resumes after its deploy: a run killed between the
		// push and the reconcile request never asked the agent to apply
		// it, so ask again rather than wait for the agent's poll.
		reconcile(p, s.Members, true)
	}
	flip := &promote.Group{Target: *s.Target}
	c := &release.Commit{Action: flip, What: fmt.Sprintf("flip %s to the color that runs %s in one commit", strings.Join(names, ", "), image)}
	for _, m := range s.Members {
		gates := &release.RunGates{Gates: m.Gates, Color: m.Idle(), Image: image, Share: 100, Dir: m.Target.Path}
		if m.Git.DryRun {
			gates.DryRunSays = fmt.Sprintf("dry run: the rollout of %s on %s's %s and its gates would run here", image, m.Target.Name, m.Idle())
		}
		e := p.Add(gates, "target "+m.Target.Name+" ("+ClusterName(m.Target)+")", release.Custom)
		e.Wrap = func(r *release.Run, err error) error {
			m.State = Refused
			if !release.IsRefusal(err) {
				m.State = Failed
			}
			return fmt.Errorf("wave %s: target %s: %w; nothing promoted in this step (%s); a re-run resumes", w.Name, m.Target.Name, err, release.Landed(r.Last))
		}
		flip.Members = append(flip.Members, &promote.Promote{Target: *m.Git, To: m.Idle()})
		c.AppGates = append(c.AppGates, m.Gates)
	}
	p.Add(c, "wave "+w.Name, release.Stop)
	reconcile(p, s.Members, false)
	for i, m := range s.Members {
		rm := &release.Member{Path: m.Target.Path, State: m.Folder, Cluster: m.Cluster}
		p.Add(&release.WaitApp{Member: rm, Index: i, Timeout: liveTimeout}, "target "+m.Target.Name, release.Stop)
	}
	return p
}

// withMessage gives a step's commits a subject that names the fleet, the
// wave and its targets (every target runs the same app, so the app's
// name alone does not tell them apart), unless --message-template set
// one.
func (p *Plan) withMessage(t *promote.Target, w *Wave, ms []*Member) {
	if t.Message != nil {
		return
	}
	text := fmt.Sprintf("{{.Action}} fleet %s, wave %s: %s\n\n{{.Summary}}\n\n{{.Action}} of {{.App}} in {{.Path}} on {{.Branch}}, written by bgrender %s --fleet.\n",
		p.Fleet.Metadata.Name, w.Name, strings.Join(targetNames(ms), ", "), p.Action)
	t.Message = template.Must(gitops.ParseMessageTemplate("fleet", text))
}

// withBranch names a step's pull-request branches after the fleet, the
// wave and the batch: bgrender/<action>-fleet-<fleet>-<wave>[-<batch>]-<color>,
// so that each step of each wave has its own pull request (its targets
// all run the same app, which names a single app's branch).
func (p *Plan) withBranch(t *promote.Target, w *Wave, batch int) {
	name := "fleet-" + p.Fleet.Metadata.Name + "-" + w.Name
	if batch > 1 {
		name += fmt.Sprintf("-%d", batch)
	}
	t.PullRequestBranch = func(c *gitops.Change) string { return promote.PullRequestBranch(c.Action, name, c.To) }
}

// reconcile adds the request to the members' agents, when any names one;
// resumed asks even if the run has committed nothing (see Reconcile).
func reconcile(p *release.Plan, ms []*Member, resumed bool) {
	for _, m := range ms {
		if len(m.Refs) > 0 {
			p.Add(&Reconcile{Members: ms, Resumed: resumed}, "", release.Stop)
			return
		}
	}
}

func targetNames(ms []*Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Target.Name
	}
	return out
}

func paths(ms []*Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Target.Path
	}
	return out
}

// Describe writes the plan: each wave, its targets and where Git has
// them, then each step's commits, waits and gates.
func (p *Plan) Describe(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintln(&b, p.headline())
	for i, wp := range p.Waves {
		wv := wp.Wave
		fmt.Fprintf(&b, "\nwave %d %s: %d %s", p.number(wv), wv.Name, len(wp.Members), plural(len(wp.Members), "target"))
		if p.Action != "rollback" {
			fmt.Fprintf(&b, ", %s, %s", parallel(wv), holding(wv))
		}
		fmt.Fprintln(&b)
		for _, m := range wp.Members {
			fmt.Fprintf(&b, "  %s: cluster %s, %s in %s: %s\n", m.Target.Name, ClusterName(m.Target), m.Target.Path, p.Fleet.RepoOf(m.Target), p.describe(m))
		}
		switch {
		case len(wp.Refused) > 0:
			fmt.Fprintf(&b, "  refused: %s; the fleet stops here, nothing committed in this wave\n", strings.Join(targetNames(wp.Refused), ", "))
			continue
		case wp.Done() && p.Action == "rollback":
			fmt.Fprintln(&b, "  nothing to roll back")
			continue
		case wp.Done():
			fmt.Fprintf(&b, "  nothing to do: every target runs %s live\n", p.Image)
			if p.rehold(i) {
				fmt.Fprintf(&b, "  hold %s again before the next wave (Git does not say whether its hold passed): %s\n", wv.HoldFor(), probesOf(wp.Members))
			}
			continue
		}
		for _, s := range wp.Steps {
			if p.Action == "rollback" {
				fmt.Fprintf(&b, "  %s:\n", s.Repo)
			} else {
				fmt.Fprintf(&b, "  batch %d, %s:\n", s.Batch, s.Repo)
			}
			for j, e := range s.Plan.Entries {
				label := ""
				if e.Label != "" {
					label = e.Label + ": "
				}
				fmt.Fprintf(&b, "    %d. %s%s: %s\n", j+1, label, e.Step.Kind(), e.Step.Describe())
			}
		}
		if wv.HoldFor() > 0 && p.Action != "rollback" {
			fmt.Fprintf(&b, "  hold %s: guard watches %s, each on its own cluster: %s\n", wv.HoldFor(), strings.Join(targetNames(wp.Members), ", "), probesOf(wp.Members))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// headline is the plan's first line.
func (p *Plan) headline() string {
	f := p.Fleet
	n, waves := len(p.Members), len(p.Waves)
	switch p.Action {
	case "promote":
		return fmt.Sprintf("fleet %s: promote %s, deployed to the idle colors, on %d %s in %d %s", f.Metadata.Name, p.Image, n, plural(n, "target"), waves, plural(waves, "wave"))
	case "rollback":
		if waves == 1 {
			return fmt.Sprintf("fleet %s: roll back %d %s in wave %s", f.Metadata.Name, n, plural(n, "target"), p.Waves[0].Wave.Name)
		}
		return fmt.Sprintf("fleet %s: roll back %d %s in %d waves, the last wave first", f.Metadata.Name, n, plural(n, "target"), waves)
	}
	return fmt.Sprintf("fleet %s: release %s to %d targets in %d waves", f.Metadata.Name, p.Image, n, waves)
}

// describe says where Git has the member, and what the plan does with
// it.
func (p *Plan) describe(m *Member) string {
	st := m.Folder
	at := fmt.Sprintf("%s live (%s), %s idle (%s)", st.Active, st.Images[st.Active], m.Idle(), st.Images[m.Idle()])
	switch {
	case m.Phase == Refused:
		return at + ": refused: " + m.Why
	case m.Phase == RolledBack || m.Phase == Unchanged:
		return at + ": " + m.Phase + ": " + m.Why
	case p.Action == "rollback":
		return at + ": roll back to " + string(m.Idle())
	case m.Phase == Released:
		return at + ": released"
	case m.Phase == Deployed && p.Action == "promote":
		return at + ": flip to " + string(m.Idle())
	case m.Phase == Deployed:
		return at + ": deployed, resumes with the gates"
	}
	return at + ": deploy to " + string(m.Idle())
}

func holding(w *Wave) string {
	if w.HoldFor() <= 0 {
		return "no hold"
	}
	return fmt.Sprintf("hold %s (every %s), on breach %s", w.HoldFor(), w.Every(), w.Breach())
}

func parallel(w *Wave) string {
	if w.MaxParallel <= 0 || w.MaxParallel >= len(w.Members()) {
		return "all at once"
	}
	return fmt.Sprintf("at most %d at once", w.MaxParallel)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
