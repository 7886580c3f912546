package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/notify"
	"github.com/bgrender/bgrender/promote"
)

// Env are the collaborators of a run, injected by the caller.
type Env struct {
	// Target is the app folder in Git and how commits are made.
	Target *promote.Target
	// Cluster reads and watches the cluster; nil when no step needs it.
	Cluster *cluster.Options
	// Command names the command in progress lines ("bgrender promote: ...").
	Command string
	// Log receives progress lines; Out each commit's line (text) or the
	// report (JSON).
	Log, Out io.Writer
	// JSON prints one report at the end instead of a line per commit.
	JSON bool
	// Start is when the command started: waits report their time from it.
	Start time.Time
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Notify, when set, is told of each transition (see package notify).
	Notify *notify.Notifier
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Say writes a progress line.
func (e *Env) Say(format string, args ...any) {
	fmt.Fprintf(e.Log, "bgrender "+e.Command+": "+format+"\n", args...)
}

// since is the time from the command's start, in seconds.
func (e *Env) since() float64 { return e.now().Sub(e.Start).Seconds() }

// Run is one execution of a plan: the collaborators, the app folder as it
// was read before the plan, and what the steps did so far.
type Run struct {
	*Env
	Plan *Plan
	// State is the app folder as Git held it when the plan was made.
	State *promote.State
	// Last is the last commit's result; Commits are all of them.
	Last    *promote.Result
	Commits []*promote.Result
	// Milestones are the steps of traffic the cluster served.
	Milestones []Milestone
	// Reports are the steps run so far, for -o json.
	Reports []StepReport
	shifted bool
	// told is how many gate results the notifications have carried;
	// statused the commits marked pending (see commitstatus.go).
	told     int
	statused []*promote.Result
	dyn      dynamic.Interface
	// watching watches: no request timeout (see Dynamic).
	watching dynamic.Interface
	ns       string
}

// Dynamic is the cluster client of the run and the namespace, made once
// (with the run's client for watches: see Watching).
func (r *Run) Dynamic() (dynamic.Interface, string, error) {
	if r.dyn != nil {
		return r.dyn, r.ns, nil
	}
	if r.Cluster == nil {
		return nil, "", errors.New("no cluster to read (a step needs one)")
	}
	cfg, ns, err := r.Cluster.Config()
	if err != nil {
		return nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("create Kubernetes client: %w", err)
	}
	watching, err := dynamic.NewForConfig(cluster.ForWatch(cfg))
	if err != nil {
		return nil, "", fmt.Errorf("create Kubernetes client: %w", err)
	}
	r.dyn, r.watching, r.ns = dyn, watching, ns
	return dyn, ns, nil
}

// Watching is the run's client for watches, without the per-request
// timeout (see cluster.ForWatch); nil before Dynamic succeeded.
func (r *Run) Watching() dynamic.Interface { return r.watching }

// StepReport is a step as -o json reports it: the plan before a run, the
// result and time of each step after it.
type StepReport struct {
	Step        int    `json:"step"`
	Kind        string `json:"kind"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description"`
	// Status: planned (a dry run, or not reached), done, refused, failed.
	Status string `json:"status"`
	// Seconds is how long the step took; At when it ended, from the
	// command's start.
	Seconds float64 `json:"seconds,omitempty"`
	At      float64 `json:"at,omitempty"`
	// Diff is a commit's diff, on a dry run.
	Diff string `json:"diff,omitempty"`
}

// Step statuses.
const (
	Planned = "planned"
	Done    = "done"
	Refused = "refused"
	Failed  = "failed"
)

// Planned are the plan's steps as -o json reports them before a run.
func (p *Plan) Planned() []StepReport {
	var out []StepReport
	for i, e := range p.Entries {
		out = append(out, StepReport{Step: i + 1, Kind: e.Step.Kind(), Label: e.Label, Description: e.Step.Describe(), Status: Planned})
	}
	return out
}

// Runner executes plans.
type Runner struct{}

// Execute runs the plan's steps in order against env, st being the app
// folder the plan was made from. It stops at the first failure, with the
// exit code the failure carries (a gate's refusal is 3); a refusal after
// the plan shifted traffic first commits the plan's fallback. The report
// (-o json) is written before it returns.
func (Runner) Execute(ctx context.Context, p *Plan, env *Env, st *promote.State) (*Run, error) {
	r := &Run{Env: env, Plan: p, State: st, shifted: p.Shifted, Reports: p.Planned()}
	if p.Note != "" {
		env.Say("%s", p.Note)
	}
	r.statusGating(ctx)
	var err error
	for i := range p.Entries {
		if err = r.step(ctx, i); err != nil {
			break
		}
	}
	r.statusEnd(ctx, err)
	r.notifyEnd(ctx, err)
	if rerr := r.report(err); err == nil {
		err = rerr
	}
	return r, err
}

// step runs the plan's entry i and records it.
func (r *Run) step(ctx context.Context, i int) error {
	e := &r.Plan.Entries[i]
	began := r.now()
	err := e.Step.Run(ctx, r)
	rep := &r.Reports[i]
	rep.Seconds = r.now().Sub(began).Seconds()
	rep.At = r.since()
	switch {
	case err == nil:
		rep.Status = Done
		if c, ok := e.Step.(*Commit); ok {
			r.statusCommitted(ctx)
			r.notifyCommit(ctx, c)
		}
		if _, ok := e.Step.(*Commit); ok && r.Last != nil && r.Last.DryRun {
			rep.Diff = r.Last.Diff
		}
		if e.Milestone != nil && r.Last != nil {
			m := *e.Milestone
			m.Result, m.Seconds = r.Last, r.since()
			r.Milestones = append(r.Milestones, m)
		}
		return nil
	case IsRefusal(err):
		rep.Status = Refused
	default:
		rep.Status = Failed
	}
	return r.fail(ctx, e, err)
}

// fail ends the release after entry e failed with err, as e.OnError says.
func (r *Run) fail(ctx context.Context, e *Entry, err error) error {
	switch e.OnError {
	case Return:
		if !IsRefusal(err) {
			return fmt.Errorf("%s: %w; Git keeps the weight of the last step (a re-run with --to %s resumes)", e.Label, err, r.Plan.To)
		}
		if !r.shifted || r.Plan.Fallback == nil {
			return exitcode.GateRefused(fmt.Errorf("%s: %w; nothing committed", e.Label, err))
		}
		return r.fallback(ctx, e, err)
	case Stays:
		return fmt.Errorf("%s: %w; the step stays (%s)", e.Label, err, Landed(r.Last))
	case StaysResume:
		return fmt.Errorf("%s: %w; the commit stays (%s) and a re-run with --to %s resumes", e.Label, err, Landed(r.Last), r.Plan.To)
	case Custom:
		return e.Wrap(r, err)
	}
	if e.Label != "" {
		return fmt.Errorf("%s: %w", e.Label, err)
	}
	return err
}

// fallback commits the plan's fallback after entry e refused with why.
func (r *Run) fallback(ctx context.Context, e *Entry, why error) error {
	for _, back := range r.Plan.Fallback(e.Reason, why) {
		if err := back.Run(ctx, r); err != nil {
			return fmt.Errorf("%s: %v; the return to weight 0 failed: %w", e.Label, why, err)
		}
	}
	r.Milestones = append(r.Milestones, Milestone{Weight: 0, Result: r.Last, Seconds: r.since()})
	return exitcode.GateRefused(fmt.Errorf("%s: %w; traffic returned to %s (%s)", e.Label, why, r.Plan.From, Landed(r.Last)))
}

// report writes the JSON report: for a stepped promotion, whenever it ran;
// for another plan, once a commit was made.
func (r *Run) report(failed error) error {
	// A plan of several commits (a release, a matched promotion) lists them.
	release := r.Plan.Action == "release" || (!r.Plan.Stepped && len(r.Commits) > 1)
	if !r.JSON || (!r.Plan.Stepped && !release && r.Last == nil) {
		return nil
	}
	var doc any
	switch {
	case release:
		doc = releaseReport{App: r.Plan.App, From: r.Plan.From, To: r.Plan.To, Commits: r.Commits, Plan: r.Reports}
	case r.Plan.Stepped:
		doc = struct {
			App   string       `json:"app"`
			From  string       `json:"from"`
			To    string       `json:"to"`
			Steps []Milestone  `json:"steps"`
			Plan  []StepReport `json:"plan"`
		}{r.Plan.App, string(r.Plan.From), string(r.Plan.To), r.Milestones, r.Reports}
	default:
		res := *r.Last
		if !res.DryRun {
			res.Diff = ""
		}
		doc = struct {
			*promote.Result
			Plan []StepReport `json:"plan"`
		}{&res, r.Reports}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(r.Out, "%s\n", data)
	return err
}

// IsRefusal reports whether err is a gate's refusal (exit 3), not a
// failure to read what the gate needs.
func IsRefusal(err error) bool {
	var coded *exitcode.Error
	return errors.As(err, &coded) && coded.Code == exitcode.Refused
}

// Landed says where a commit's change is, for a message.
func Landed(res *promote.Result) string {
	switch {
	case res == nil:
		return "nothing committed"
	case res.PullRequest != "":
		return "pull request " + res.PullRequest
	case res.Commit != "":
		c := res.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		return "commit " + c + " on " + res.Branch
	}
	return "already on " + res.Branch
}
