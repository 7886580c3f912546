package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// fake is a step that records that it ran and returns err; commit makes
// it act as a commit (it sets the run's last result).
type fake struct {
	name   string
	ran    *[]string
	err    error
	commit bool
}

func (f *fake) Kind() string     { return "fake" }
func (f *fake) Describe() string { return f.name }
func (f *fake) Run(_ context.Context, r *Run) error {
	*f.ran = append(*f.ran, f.name)
	if f.commit && f.err == nil {
		r.Last = &promote.Result{Action: f.name, Commit: "0123456789abcdef", Branch: "main"}
		r.shifted = true
	}
	return f.err
}

// env is a run's collaborators for tests: a target that never pushes, a
// fixed clock.
func env(out, log *bytes.Buffer, json bool) *Env {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	return &Env{Target: &promote.Target{Path: "apps/demo"}, Command: "test", Out: out, Log: log, JSON: json,
		Start: t0, Now: func() time.Time { return t0 }}
}

func TestRunnerRunsStepsInOrder(t *testing.T) {
	var ran []string
	p := &Plan{Action: "promote", App: "demo"}
	for _, n := range []string{"gates", "commit", "reconcile", "wait"} {
		p.Add(&fake{name: n, ran: &ran, commit: n == "commit"}, "", Stop)
	}
	var out, log bytes.Buffer
	r, err := Runner{}.Execute(context.Background(), p, env(&out, &log, false), &promote.State{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, " "); got != "gates commit reconcile wait" {
		t.Errorf("ran %q", got)
	}
	for i, rep := range r.Reports {
		if rep.Status != Done || rep.Step != i+1 {
			t.Errorf("step %d reported %+v", i+1, rep)
		}
	}
}

func TestRunnerStopsAtTheFirstFailure(t *testing.T) {
	tests := map[string]struct {
		err      error
		onError  OnError
		shifted  bool
		wantCode int
		wantRan  string
		wantMsg  string
	}{
		"refusal before any shift commits nothing": {
			err: exitcode.GateRefused(errors.New("error rate 5%")), onError: Return,
			wantCode: exitcode.Refused, wantRan: "commit-10 gates-50", wantMsg: "step 2 (50%): error rate 5%; nothing committed",
		},
		"refusal after a shift commits the fallback": {
			err: exitcode.GateRefused(errors.New("error rate 5%")), onError: Return, shifted: true,
			wantCode: exitcode.Refused, wantRan: "commit-10 gates-50 back", wantMsg: "step 2 (50%): error rate 5%; traffic returned to blue (commit 0123456789ab on main)",
		},
		"a failure to read leaves Git for a re-run": {
			err: errors.New("prometheus unreachable"), onError: Return, shifted: true,
			wantCode: exitcode.Failure, wantRan: "commit-10 gates-50", wantMsg: "Git keeps the weight of the last step (a re-run with --to green resumes)",
		},
		"a wait that fails keeps the step": {
			err: errors.New("timed out"), onError: Stays,
			wantCode: exitcode.Failure, wantRan: "commit-10 gates-50", wantMsg: "step 2 (50%): timed out; the step stays (commit 0123456789ab on main)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var ran []string
			p := &Plan{Action: "promote", App: "demo", From: spec.Blue, To: spec.Green, Stepped: true}
			first := &fake{name: "commit-10", ran: &ran, commit: tc.shifted}
			if !tc.shifted {
				first.commit = false
			}
			p.Add(first, "step 1 (10%)", Return)
			p.Add(&fake{name: "gates-50", ran: &ran, err: tc.err}, "step 2 (50%)", tc.onError).Reason = "step 2 of 2 (50%)"
			p.Add(&fake{name: "never", ran: &ran}, "step 2 (50%)", Return)
			var reason string
			p.Fallback = func(r string, why error) []Step {
				reason = r
				return []Step{&fake{name: "back", ran: &ran, commit: true}}
			}
			var out, log bytes.Buffer
			if !tc.shifted {
				// A wait's message names the last commit.
				first.commit = tc.onError == Stays
			}
			r, err := Runner{}.Execute(context.Background(), p, env(&out, &log, true), &promote.State{})
			if got := exitcode.Of(err); got != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", got, tc.wantCode, err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %v, want it to say %q", err, tc.wantMsg)
			}
			if got := strings.Join(ran, " "); got != tc.wantRan {
				t.Errorf("ran %q, want %q", got, tc.wantRan)
			}
			if strings.HasSuffix(tc.wantRan, "back") && reason != "step 2 of 2 (50%)" {
				t.Errorf("fallback given %q", reason)
			}
			if r.Reports[2].Status != Planned {
				t.Errorf("the step after the failure is %q, want planned", r.Reports[2].Status)
			}
			// A stepped plan always reports, with its plan.
			var doc struct {
				Plan []StepReport `json:"plan"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Plan) != 3 {
				t.Errorf("report %s: %v", out.String(), err)
			}
		})
	}
}

// The planners resume from Git: a stepped promotion whose folder already
// sends 25% plans only the steps above it, and a finished one nothing.
func TestPlanStepsResumesFromGit(t *testing.T) {
	weight := func(n int32) *int32 { return &n }
	tests := map[string]struct {
		st        promote.State
		to        spec.Color
		wantLabel []string
		wantNote  string
	}{
		"from the start": {
			st:        promote.State{App: "demo", Active: spec.Blue, Weight: weight(0), RouteServices: map[spec.Color]string{spec.Blue: "demo-blue", spec.Green: "demo-green"}},
			wantLabel: []string{"step 1 (25%)", "step 2 (50%)", "step 3 (100%)"},
		},
		"resumed at 25%": {
			st:        promote.State{App: "demo", Active: spec.Blue, Weight: weight(25)},
			wantLabel: []string{"step 2 (50%)", "step 3 (100%)"},
			wantNote:  "resuming: Git already sends 25% to green; next step 50%",
		},
		"already promoted": {
			st: promote.State{App: "demo", Active: spec.Green, Weight: weight(0)}, to: spec.Green,
			wantNote: "demo is already live on green with no share shifted; nothing to do",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := PlanSteps(StepsOptions{Target: &promote.Target{Path: "apps/demo"}, Steps: []int32{25, 50, 100}, To: tc.to,
				Live: Live{Timeout: time.Minute}}, &tc.st)
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, e := range p.Entries {
				if _, ok := e.Step.(*Commit); ok {
					labels = append(labels, e.Label)
				}
			}
			if strings.Join(labels, ",") != strings.Join(tc.wantLabel, ",") {
				t.Errorf("commits %q, want %q", labels, tc.wantLabel)
			}
			if p.Note != tc.wantNote {
				t.Errorf("note %q, want %q", p.Note, tc.wantNote)
			}
		})
	}
}

func TestPlanStepsRefusesWhatItCannotSplit(t *testing.T) {
	_, err := PlanSteps(StepsOptions{Target: &promote.Target{Path: "apps/demo"}, Steps: []int32{100}}, &promote.State{App: "demo", Active: spec.Blue})
	if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "splits no traffic") {
		t.Errorf("got %v", err)
	}
}
