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
	// does), or pending. State is where the run left it (see the table).
	Phase, State string
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
	Fleet   *Fleet
	Image   string
	Members []*Member // in the order of the fleet file's waves
	Waves   []*WavePlan
	repos   map[string]*promote.Target // the group target of each repository
	// liveTimeout bounds the waits of a rollback as the release's.
	liveTimeout time.Duration
}

// WavePlan is one wave: its members and, unless every one is released,
// a step per batch and repository.
type WavePlan struct {
	Wave    *Wave
	Members []*Member
	Steps   []*Step
}

// Done reports whether every target of the wave runs the image live.
func (w *WavePlan) Done() bool { return len(w.Steps) == 0 }

// Step is one batch of a wave in one repository: a release.Plan whose
// commits change every folder of the batch at once.
type Step struct {
	Batch   int
	Repo    string
	Members []*Member
	Target  *promote.Target // the repository; Path lists the folders
	Plan    *release.Plan
}

// PlanRelease reads every target's folder in Git and plans the release
// of what is left, wave by wave. A folder that cannot be read, or whose
// idle color runs no replicas, stops it before anything is committed.
func PlanRelease(ctx context.Context, o Options) (*Plan, error) {
	f := o.Fleet
	p := &Plan{Fleet: f, Image: o.Image, repos: map[string]*promote.Target{}, liveTimeout: o.LiveTimeout}
	sessions := map[string]*gitops.Session{}
	for i := range f.Spec.Waves {
		w := &f.Spec.Waves[i]
		wp := &WavePlan{Wave: w}
		for _, t := range w.Members() {
			m, err := p.read(ctx, o, t, w, sessions)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			wp.Members = append(wp.Members, m)
			p.Members = append(p.Members, m)
		}
		p.planWave(o, wp)
		p.Waves = append(p.Waves, wp)
	}
	return p, nil
}

// read reads one target's folder and takes its gates.
func (p *Plan) read(ctx context.Context, o Options, t *Target, w *Wave, sessions map[string]*gitops.Session) (*Member, error) {
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
	if m.Folder, err = release.ReadFolder(ctx, m.Cluster, g); err != nil {
		return nil, err
	}
	m.Gates = o.Gates(m.Cluster)
	m.Gates.Wait = true
	if err := m.Gates.UseFolder(m.Folder); err != nil {
		return nil, err
	}
	idle := m.Idle()
	switch {
	case m.Folder.Images[m.Folder.Active] == o.Image:
		m.Phase = Released
	case m.Folder.Replicas[idle] == 0:
		return nil, exitcode.Invalidf("the idle color %s runs 0 replicas in the app folder %s, so it cannot take the traffic (scale it up first: scale-idle --replicas N); nothing committed", idle, t.Path)
	case m.Folder.Images[idle] == o.Image:
		m.Phase = Deployed
	default:
		m.Phase = Pending
	}
	m.State, m.flipped = m.Phase, m.Phase == Released
	return m, nil
}

// planWave plans the wave's steps: its members not yet released, in
// batches of at most maxParallel, each batch split by repository.
func (p *Plan) planWave(o Options, wp *WavePlan) {
	var left []*Member
	for _, m := range wp.Members {
		if m.Phase != Released {
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
			withMessage(&gt, p.Fleet, wp.Wave, s.Members)
			s.Target = &gt
			s.Plan = s.plan(p.Fleet, wp.Wave, o)
			wp.Steps = append(wp.Steps, s)
		}
	}
}

// plan is the step's release.Plan: the deploy of every member not yet
// deployed in one commit, each member's rollout and gates on its own
// cluster, the flip of every member in one commit, and a wait until each
// member's cluster serves it.
func (s *Step) plan(f *Fleet, w *Wave, o Options) *release.Plan {
	names := targetNames(s.Members)
	p := &release.Plan{Action: "release", App: strings.Join(names, ", ")}
	deploy := &promote.Group{Target: *s.Target}
	var deployed []string
	for _, m := range s.Members {
		if m.Phase == Deployed {
			continue
		}
		deploy.Members = append(deploy.Members, &promote.Deploy{Target: *m.Git, Image: o.Image, Color: m.Idle()})
		deployed = append(deployed, fmt.Sprintf("%s (%s)", m.Target.Name, m.Idle()))
	}
	if len(deploy.Members) > 0 {
		what := fmt.Sprintf("deploy %s to %s in one commit", o.Image, strings.Join(deployed, ", "))
		p.Add(&release.Commit{Action: deploy, What: what}, "wave "+w.Name, release.Stop)
		reconcile(p, s.Members)
	}
	flip := &promote.Group{Target: *s.Target}
	c := &release.Commit{Action: flip, What: fmt.Sprintf("flip %s to the color that runs %s in one commit", strings.Join(names, ", "), o.Image)}
	for _, m := range s.Members {
		gates := &release.RunGates{Gates: m.Gates, Color: m.Idle(), Image: o.Image, Share: 100, Dir: m.Target.Path}
		if m.Git.DryRun {
			gates.DryRunSays = fmt.Sprintf("dry run: the rollout of %s on %s's %s and its gates would run here", o.Image, m.Target.Name, m.Idle())
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
	reconcile(p, s.Members)
	for i, m := range s.Members {
		rm := &release.Member{Path: m.Target.Path, State: m.Folder, Cluster: m.Cluster}
		p.Add(&release.WaitApp{Member: rm, Index: i, Timeout: o.LiveTimeout}, "target "+m.Target.Name, release.Stop)
	}
	return p
}

// withMessage gives a step's commits a subject that names the fleet, the
// wave and its targets (every target runs the same app, so the app's
// name alone does not tell them apart), unless --message-template set
// one.
func withMessage(t *promote.Target, f *Fleet, w *Wave, ms []*Member) {
	if t.Message != nil {
		return
	}
	text := fmt.Sprintf("{{.Action}} fleet %s, wave %s: %s\n\n{{.Summary}}\n\n{{.Action}} of {{.App}} in {{.Path}} on {{.Branch}}, written by bgrender release --fleet.\n",
		f.Metadata.Name, w.Name, strings.Join(targetNames(ms), ", "))
	t.Message = template.Must(gitops.ParseMessageTemplate("fleet", text))
}

// reconcile adds the request to the members' agents, when any names one.
func reconcile(p *release.Plan, ms []*Member) {
	for _, m := range ms {
		if len(m.Refs) > 0 {
			p.Add(&Reconcile{Members: ms}, "", release.Stop)
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
	f := p.Fleet
	fmt.Fprintf(&b, "fleet %s: release %s to %d targets in %d waves\n", f.Metadata.Name, p.Image, len(p.Members), len(p.Waves))
	for i, wp := range p.Waves {
		wv := wp.Wave
		fmt.Fprintf(&b, "\nwave %d %s: %d %s, %s, %s\n", i+1, wv.Name, len(wp.Members), plural(len(wp.Members), "target"), parallel(wv), holding(wv))
		for _, m := range wp.Members {
			fmt.Fprintf(&b, "  %s: cluster %s, %s in %s: %s\n", m.Target.Name, ClusterName(m.Target), m.Target.Path, f.RepoOf(m.Target), m.describe(p.Image))
		}
		if wp.Done() {
			fmt.Fprintf(&b, "  nothing to do: every target runs %s live\n", p.Image)
			if p.rehold(i) {
				fmt.Fprintf(&b, "  hold %s again before the next wave (Git does not say whether its hold passed): %s\n", wv.HoldFor(), probesOf(wp.Members))
			}
			continue
		}
		for _, s := range wp.Steps {
			fmt.Fprintf(&b, "  batch %d, %s:\n", s.Batch, s.Repo)
			for j, e := range s.Plan.Entries {
				label := ""
				if e.Label != "" {
					label = e.Label + ": "
				}
				fmt.Fprintf(&b, "    %d. %s%s: %s\n", j+1, label, e.Step.Kind(), e.Step.Describe())
			}
		}
		if wv.HoldFor() > 0 {
			fmt.Fprintf(&b, "  hold %s: guard watches %s, each on its own cluster: %s\n", wv.HoldFor(), strings.Join(targetNames(wp.Members), ", "), probesOf(wp.Members))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describe says where Git has the member.
func (m *Member) describe(image string) string {
	st := m.Folder
	at := fmt.Sprintf("%s live (%s), %s idle (%s)", st.Active, st.Images[st.Active], m.Idle(), st.Images[m.Idle()])
	switch m.Phase {
	case Released:
		return at + ": released"
	case Deployed:
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
