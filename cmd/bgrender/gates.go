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
	// fs is the command's flag set: validate reads --wait there.
	fs *pflag.FlagSet
	// folderApp is the app's name in the cluster as the app folder says
	// it: the spec's name, or a plain folder's live Service.
	folderApp string
}

func addClusterGates(fs *pflag.FlagSet) *clusterGates {
	g := &clusterGates{opts: addClusterFlags(fs, nsFromFolder), fs: fs}
	fs.StringVar(&g.app, "app", "", "the app's `NAME` in the cluster, for the gates (default: the app folder's: bgrender.yaml's metadata.name, or a plain folder's live Service)")
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

// appName is --app, else the app as the folder names it (read by
// folderNamespace before any gate runs), else the last element of the app
// folder.
func (g *clusterGates) appName(dir string) string {
	switch {
	case g.app != "":
		return g.app
	case g.folderApp != "":
		return g.folderApp
	}
	return path.Base(strings.TrimRight(dir, "/"))
}

// run runs the gates against color (empty: the color the preview Service
// selects) and returns the color they passed.
func (g *clusterGates) run(ctx context.Context, s streams, cmd, dir, color string) (string, error) {
	return g.runChecks(ctx, s, cmd, dir, color, g.checks)
}

// runChecks runs checks (the flags' gates, or a subset of them) on color.
func (g *clusterGates) runChecks(ctx context.Context, s streams, cmd, dir, color string, checks *gate.Checks) (string, error) {
	app, err := readApp(ctx, g.opts, g.appName(dir))
	if err != nil {
		return "", err
	}
	subject, err := app.subject(color, checks)
	if err != nil {
		return "", err
	}
	checks.Progress = func(m string) { fmt.Fprintf(s.err, "bgrender %s: %s\n", cmd, m) }
	if err := checks.Run(ctx, subject); err != nil {
		return subject.Color, fmt.Errorf("%s %s: %w", app.Name, subject.Color, err)
	}
	fmt.Fprintf(s.err, "bgrender %s: %s %s passed %s\n", cmd, app.Name, subject.Color, strings.Join(enabled(checks), ", "))
	return subject.Color, nil
}

// folderNamespace reads the app folder in Git and, when -n is not given,
// makes the namespace it names (the spec's metadata.namespace, or that of
// a plain folder's Service and Deployments) the one the cluster is read
// in: the kubeconfig's namespace is only the default of a folder that
// names none. A -n that disagrees with the folder is bad usage, found
// before anything is committed. It returns what the folder holds.
func folderNamespace(ctx context.Context, opts *cluster.Options, t *promote.Target) (*promote.State, error) {
	st, err := t.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
	}
	ns := st.Namespace
	if ns == "" {
		return st, nil
	}
	if err := cluster.ValidName("namespace", ns); err != nil {
		return nil, fmt.Errorf("%s in %s: %s: %w", t.Path, t.Repo.URL, st.NamespaceFrom, err)
	}
	switch {
	case opts.Namespace == "":
		opts.Namespace = ns
	case opts.Namespace != ns:
		return nil, usageError("-n %s disagrees with the app folder %s in %s, whose namespace is %s (%s): drop -n, or pass -n %s",
			opts.Namespace, t.Path, t.Repo.URL, ns, st.NamespaceFrom, ns)
	}
	return st, nil
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
