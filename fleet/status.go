package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/status"
)

// DefaultParallel bounds how many clusters status reads at once.
const DefaultParallel = 8

// TargetStatus is one target of a fleet as status reads it: its folder
// in Git and its app in its cluster, with the drift between them.
type TargetStatus struct {
	Wave    string `json:"wave"`
	Target  string `json:"target"`
	Cluster string `json:"cluster"`
	Repo    string `json:"repo"`
	Path    string `json:"path"`
	// App is what the cluster runs, with Git's wants in App.Git.
	App *status.App `json:"app,omitempty"`
	// Error says why the target could not be read.
	Error string `json:"error,omitempty"`
}

// Status reads every target: each folder in Git (one clone per
// repository), then each cluster, at most parallel at once. A target
// that cannot be read has its Error set; the others are read anyway, and
// the error returned names every one.
func Status(ctx context.Context, f *Fleet, open func(repo, branch, path string) (*promote.Target, error), parallel int) ([]*TargetStatus, error) {
	if parallel < 1 {
		parallel = DefaultParallel
	}
	type read struct {
		ts     *TargetStatus
		t      *Target
		git    *promote.Target
		wanted *promote.State
	}
	var reads []*read
	sessions := map[string]*gitops.Session{}
	for i := range f.Spec.Waves {
		w := &f.Spec.Waves[i]
		for _, t := range w.Members() {
			r := &read{t: t, ts: &TargetStatus{Wave: w.Name, Target: t.Name, Cluster: ClusterName(t), Repo: f.RepoOf(t), Path: t.Path}}
			reads = append(reads, r)
			g, err := open(f.RepoOf(t), f.BranchOf(t), t.Path)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			key := f.RepoOf(t) + "#" + f.BranchOf(t)
			if sessions[key] == nil {
				sessions[key] = &gitops.Session{}
			}
			g.Session = sessions[key]
			r.git = g
		}
	}
	// Git first, one repository's clone for all its folders; then the
	// clusters, which do not share anything, in parallel.
	for _, r := range reads {
		st, err := r.git.Read(ctx)
		if err != nil {
			r.ts.Error = fmt.Sprintf("read %s: %v", r.t.Path, err)
			continue
		}
		r.wanted = st
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, r := range reads {
		if r.wanted == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			app, err := readTarget(ctx, f, r.t, r.git, r.wanted)
			if err != nil {
				r.ts.Error = err.Error()
				return
			}
			r.ts.App = app
		}()
	}
	wg.Wait()
	out := make([]*TargetStatus, len(reads))
	var failed []string
	for i, r := range reads {
		out[i] = r.ts
		if r.ts.Error != "" {
			failed = append(failed, r.t.Name)
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("fleet %s: could not read %s", f.Metadata.Name, strings.Join(failed, ", "))
	}
	return out, nil
}

// readTarget reads one target's app in its cluster, compared with Git.
func readTarget(ctx context.Context, f *Fleet, t *Target, git *promote.Target, wanted *promote.State) (*status.App, error) {
	opts := f.Cluster(t)
	if err := release.UseNamespace(opts, git, wanted); err != nil {
		return nil, err
	}
	cfg, ns, err := opts.Config()
	if err != nil {
		return nil, err
	}
	r, err := status.NewReader(cfg, ns)
	if err != nil {
		return nil, err
	}
	return release.AppStatus(ctx, r, wanted.App, git, wanted)
}

// WriteStatus writes the targets as a table: one row each, with the
// cluster, the live color, each color's image and ready/desired pods,
// and the drift from Git.
func WriteStatus(w io.Writer, rows []*TargetStatus) error {
	table := [][]string{{"WAVE", "TARGET", "CLUSTER", "NAMESPACE", "LIVE", "BLUE", "GREEN", "DRIFT"}}
	for _, r := range rows {
		if r.App == nil {
			table = append(table, []string{r.Wave, r.Target, r.Cluster, "-", "-", "-", "-", "unreadable: " + r.Error})
			continue
		}
		a := r.App
		row := []string{r.Wave, r.Target, r.Cluster, a.Namespace, orNone(a.Live), colorCell(a, "blue"), colorCell(a, "green"), drift(a)}
		table = append(table, row)
	}
	return writeTable(w, table)
}

// WriteStatusJSON writes the targets as JSON.
func WriteStatusJSON(w io.Writer, fleet string, rows []*TargetStatus) error {
	data, err := json.MarshalIndent(struct {
		Fleet   string          `json:"fleet"`
		Targets []*TargetStatus `json:"targets"`
	}{fleet, rows}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// colorCell is a color's image and ready/desired pods.
func colorCell(a *status.App, color string) string {
	for _, c := range a.Colors {
		if c.Color != color {
			continue
		}
		if !c.Found {
			return "missing"
		}
		return fmt.Sprintf("%s %d/%d", strings.Join(c.Images, ","), c.Ready, c.Desired)
	}
	return "-"
}

func drift(a *status.App) string {
	switch {
	case a.Git == nil:
		return "-"
	case len(a.Git.Drift) == 0:
		return "none"
	}
	return strings.Join(a.Git.Drift, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
