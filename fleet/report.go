package fleet

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// Report is a fleet's plan, or its run, as -o json prints it: every
// target's state (the table's rows), and each wave's steps with their
// commits and the status of each of their steps.
type Report struct {
	Fleet   string         `json:"fleet"`
	Action  string         `json:"action"`
	Image   string         `json:"image,omitempty"`
	DryRun  bool           `json:"dryRun,omitempty"`
	Targets []TargetReport `json:"targets"`
	Waves   []WaveReport   `json:"waves"`
	// Error is why the run stopped, when it did; the exit code says how.
	Error string `json:"error,omitempty"`
}

// TargetReport is one target as the table shows it.
type TargetReport struct {
	Wave    string `json:"wave"`
	Target  string `json:"target"`
	Cluster string `json:"cluster"`
	Path    string `json:"path"`
	Live    string `json:"live"`
	Image   string `json:"image"`
	State   string `json:"state"`
	// Why says why a target is refused, or left unchanged.
	Why string `json:"why,omitempty"`
}

// WaveReport is one wave: its steps, the targets that refuse it, and the
// rollback a breach during its hold made.
type WaveReport struct {
	Wave    string       `json:"wave"`
	Steps   []StepReport `json:"steps"`
	Refused []string     `json:"refused,omitempty"`
	// Breach is the reading that breached during the hold, and Rollback
	// the steps that reacted to it.
	Breach   string       `json:"breach,omitempty"`
	Rollback []StepReport `json:"rollback,omitempty"`
}

// StepReport is one step of a wave: a batch of its targets in one
// repository, the commits it made and its steps.
type StepReport struct {
	Batch   int                  `json:"batch"`
	Repo    string               `json:"repo"`
	Targets []string             `json:"targets"`
	Commits []*promote.Result    `json:"commits"`
	Plan    []release.StepReport `json:"plan"`
}

// Report is the plan as it stands: before a run, every step planned;
// after it, what each step did. failed is the run's error, if any.
func (p *Plan) Report(failed error) *Report {
	r := &Report{Fleet: p.Fleet.Metadata.Name, Action: p.Action, Image: p.Image, Waves: []WaveReport{}}
	for _, m := range p.Members {
		live, image := m.shown(p.Image)
		r.Targets = append(r.Targets, TargetReport{Wave: m.Wave.Name, Target: m.Target.Name, Cluster: ClusterName(m.Target),
			Path: m.Target.Path, Live: string(live), Image: image, State: m.State, Why: m.Why})
		r.DryRun = r.DryRun || m.Git.DryRun
	}
	for _, wp := range p.Waves {
		w := WaveReport{Wave: wp.Wave.Name, Steps: stepReports(wp.Steps), Refused: targetNames(wp.Refused), Breach: wp.breach, Rollback: stepReports(wp.rollback)}
		r.Waves = append(r.Waves, w)
	}
	if failed != nil {
		r.Error = failed.Error()
	}
	return r
}

func stepReports(steps []*Step) []StepReport {
	out := []StepReport{}
	for _, s := range steps {
		plan := s.reports
		if plan == nil {
			plan = s.Plan.Planned()
		}
		commits := s.commits
		if commits == nil {
			commits = []*promote.Result{}
		}
		out = append(out, StepReport{Batch: s.Batch, Repo: s.Repo, Targets: targetNames(s.Members), Commits: commits, Plan: plan})
	}
	return out
}

// ran records what a step's run did, for the report.
func (s *Step) ran(r *release.Run) {
	if r != nil {
		s.commits, s.reports = r.Commits, r.Reports
	}
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}
