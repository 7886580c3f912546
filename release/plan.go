package release

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// Step is one thing a release does. A step says what it is (Kind, and
// Describe in a line) and does it against the run's collaborators.
type Step interface {
	// Kind names the step's type: gates, commit, reconcile, wait-live,
	// wait-traffic, hold.
	Kind() string
	// Describe says what the step does, in one line.
	Describe() string
	// Run does the step. A gate's refusal is an error with exit code 3
	// (internal/exitcode).
	Run(ctx context.Context, r *Run) error
}

// OnError says how a step's failure ends the release.
type OnError int

const (
	// Stop returns the error as it is (prefixed with the step's label).
	Stop OnError = iota
	// Return is for a step before the traffic of a stepped promotion
	// moves again (its gates, its commit, the hold after it): a refusal
	// commits the plan's Fallback (the share back to the live color) when
	// Git already shifts traffic, else ends with nothing committed; any
	// other error leaves Git at the last step, for a re-run to resume.
	Return
	// Stays is for a wait after a commit: the step stays.
	Stays
	// StaysResume is for a wait after a commit of a hand-over: the commit
	// stays, and a re-run resumes.
	StaysResume
	// Custom ends the release with the entry's Wrap.
	Custom
)

// Entry is a step of a plan and how it is reported.
type Entry struct {
	Step Step
	// Label prefixes the step's errors, e.g. "step 2 (50%)".
	Label string
	// OnError is how a failure of the step ends the release.
	OnError OnError
	// Reason names the step in the fallback's commit message, e.g.
	// "step 2 of 4 (50%)".
	Reason string
	// Wrap, with OnError Custom, says what a failure leaves.
	Wrap func(r *Run, err error) error
	// Milestone, on a wait, records the last commit as a step of traffic
	// once the cluster serves it (a stepped promotion's -o json "steps").
	Milestone *Milestone
}

// Plan is an ordered list of steps that release one change of one app.
type Plan struct {
	Action string // deploy, promote, rollback, scale-idle, shift, guard
	App    string
	// From and To are the colors the plan moves traffic between, when it
	// does.
	From, To spec.Color
	Entries  []Entry
	// Fallback, when set, is committed after a step with OnError Return
	// refuses while Git shifts traffic to the idle color: it returns the
	// share to the live color. It is given the refused entry's Reason and
	// the refusal.
	Fallback func(reason string, why error) []Step
	// Shifted says Git already sends a share of traffic to the idle color
	// when the plan starts.
	Shifted bool
	// Stepped: the plan is a promotion in steps of traffic; -o json prints
	// its milestones as "steps".
	Stepped bool
	// Note, when set, is said before the plan runs (a resume, or why there
	// is nothing to do).
	Note string
}

// Add appends a step to the plan.
func (p *Plan) Add(s Step, label string, onError OnError) *Entry {
	p.Entries = append(p.Entries, Entry{Step: s, Label: label, OnError: onError})
	return &p.Entries[len(p.Entries)-1]
}

// Milestone is a step of traffic that the cluster served, as -o json of a
// stepped promotion lists it.
type Milestone struct {
	Weight int32 `json:"weight"`
	// Phase, in the NGINX canary mode's last step, names its commit:
	// canary (to 100%), flip (the Services, the canary kept), end (the
	// canary back to 0%: on the new idle color; in plain manifests still
	// through the preview Service) and, in plain manifests, preview (the
	// preview Service on to the new idle color).
	Phase   string          `json:"phase,omitempty"`
	Result  *promote.Result `json:"result"`
	Seconds float64         `json:"seconds"` // from the command's start, when the cluster showed it
}

// Describe writes the plan, one numbered step a line.
func (p *Plan) Describe(w io.Writer) error {
	var b strings.Builder
	steps := "steps"
	if len(p.Entries) == 1 {
		steps = "step"
	}
	fmt.Fprintf(&b, "plan: %s %s, %d %s\n", p.Action, p.App, len(p.Entries), steps)
	for i, e := range p.Entries {
		label := ""
		if e.Label != "" {
			label = e.Label + ": "
		}
		fmt.Fprintf(&b, "  %d. %s%s: %s\n", i+1, label, e.Step.Kind(), e.Step.Describe())
	}
	_, err := io.WriteString(w, b.String())
	return err
}
