package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/promote"
)

// clusterGates are the cluster and gate flags of promote and deploy
// --wait. Their rollout wait is --rollout-timeout: --timeout is
// --wait-merge's.
type clusterGates struct {
	opts   *cluster.Options
	app    string
	checks *gate.Checks
	// fs is the command's flag set: validate reads --path and --wait
	// there, to check the app name before anything is committed.
	fs *pflag.FlagSet
}

func addClusterGates(fs *pflag.FlagSet) *clusterGates {
	g := &clusterGates{opts: addClusterFlags(fs), fs: fs}
	fs.StringVar(&g.app, "app", "", "the app's `NAME` in the cluster, for the gates (default: the last element of --path)")
	g.checks = addGateFlags(fs, "rollout-timeout")
	return g
}

// validate checks the gate and cluster flags, and the app name when the
// gates will run (a gate asked for, or deploy --wait), before Git or the
// cluster is touched (bad usage, exit 2).
func (g *clusterGates) validate() error {
	if err := validateGateFlags(g.checks, "rollout-timeout"); err != nil {
		return err
	}
	if err := validateCluster(g.opts, g.app); err != nil {
		return err
	}
	if !g.gatesRun() {
		return nil
	}
	if f := g.fs.Lookup("path"); g.app == "" && f != nil && f.Value.String() != "" {
		name := g.appName(f.Value.String())
		if err := cluster.ValidName("app name", name); err != nil {
			return usageError("%v (the last element of --path; pass --app NAME)", err)
		}
	}
	return checkKubeconfig(g.opts)
}

// gatesRun reports whether the command will run gates.
func (g *clusterGates) gatesRun() bool {
	if g.checks.Any() {
		return true
	}
	wait := g.fs.Lookup("wait")
	return wait != nil && wait.Value.String() == "true"
}

// appName is --app, else the last element of the app folder.
func (g *clusterGates) appName(dir string) string {
	if g.app != "" {
		return g.app
	}
	return path.Base(strings.TrimRight(dir, "/"))
}

// run runs the gates against color (empty: the color the preview Service
// selects) and returns the color they passed.
func (g *clusterGates) run(ctx context.Context, s streams, cmd, dir, color string) (string, error) {
	app, err := readApp(ctx, g.opts, g.appName(dir))
	if err != nil {
		return "", err
	}
	subject, err := app.subject(color, g.checks)
	if err != nil {
		return "", err
	}
	g.checks.Progress = func(m string) { fmt.Fprintf(s.err, "bgrender %s: %s\n", cmd, m) }
	if err := g.checks.Run(ctx, subject); err != nil {
		return subject.Color, fmt.Errorf("%s %s: %w", app.Name, subject.Color, err)
	}
	fmt.Fprintf(s.err, "bgrender %s: %s %s passed %s\n", cmd, app.Name, subject.Color, strings.Join(enabled(g.checks), ", "))
	return subject.Color, nil
}

// landed says where an action's change is, for a message.
func landed(res *promote.Result) string {
	switch {
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
