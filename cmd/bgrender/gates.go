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
	"github.com/bgrender/bgrender/spec"
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
	// noSpec is --no-spec-gates; effective are the gates after useFolder,
	// and ran says they ran (for -o json).
	noSpec      bool
	folderGates *spec.FolderGates
	effective   *effectiveGates
	ran         bool
}

func addClusterGates(fs *pflag.FlagSet) *clusterGates {
	g := &clusterGates{opts: addClusterFlags(fs, nsFromFolder), fs: fs}
	fs.StringVar(&g.app, "app", "", "the app's `NAME` in the cluster, for the gates (default: the app folder's: bgrender.yaml's metadata.name, or a plain folder's live Service)")
	g.checks = addGateFlags(fs, "rollout-timeout")
	fs.BoolVar(&g.noSpec, noSpecGatesFlag, false, noSpecGatesUsage)
	return g
}

// wantFolder reports whether the command must read the app folder before
// it acts: for the folder's gates (unless --no-spec-gates), or for the
// flags' gates (the app's name and namespace).
func (g *clusterGates) wantFolder() bool { return !g.noSpec || g.checks.Any() }

// useFolder takes what the app folder holds: the app's name, and its
// gates, merged under the flags. When the folder's gates make the command
// run gates that no flag asked for, the kubeconfig is checked now, before
// anything is committed.
func (g *clusterGates) useFolder(st *promote.State) error {
	g.folderApp, g.folderGates = st.App, st.Gates
	before := g.gatesRun()
	eff, err := mergeChecks(g.fs, g.checks, "rollout-timeout", st.Gates, g.noSpec)
	if err != nil {
		return err
	}
	g.effective = eff
	if dry := g.fs.Lookup("dry-run"); dry != nil && dry.Value.String() == "true" && g.fs.Changed("steps") {
		return nil // a stepped dry run names the gates and runs none: no cluster
	}
	if !before && g.checks.Any() {
		if err := checkKubeconfig(g.opts); err != nil {
			return fmt.Errorf("%w (the gates of %s read the cluster; --%s leaves them out)", err, eff.Spec, noSpecGatesFlag)
		}
	}
	return nil
}

// reported wraps an action so that its result carries the gates that ran
// before it (-o json shows them).
func (g *clusterGates) reported(run func(context.Context) (*promote.Result, error)) func(context.Context) (*promote.Result, error) {
	return func(ctx context.Context) (*promote.Result, error) {
		res, err := run(ctx)
		if res != nil && g.ran && g.effective != nil {
			res.Gates = g.effective
		}
		return res, err
	}
}

// validate checks the gate and cluster flags, and the app name when the
// gates will run (a gate asked for, or deploy --wait), before Git or the
// cluster is touched (bad usage, exit 2).
func (g *clusterGates) validate() error {
	if err := validateGateFlags(flagsOnly(g.fs, g.checks), "rollout-timeout"); err != nil {
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
	if checks == g.checks && g.effective != nil {
		// deploy --wait adds the rollout gate after useFolder: say it.
		if g.effective, err = mergeChecks(g.fs, g.checks, "rollout-timeout", g.folderGates, g.noSpec); err != nil {
			return "", err
		}
		if !g.ran && g.effective.Spec != "" {
			fmt.Fprintf(s.err, "bgrender %s: %s\n", cmd, g.effective.describe())
		}
	}
	g.ran = g.ran || checks == g.checks
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
	return st, useNamespace(opts, t, st)
}

// useNamespace applies the namespace the folder names (see folderNamespace).
func useNamespace(opts *cluster.Options, t *promote.Target, st *promote.State) error {
	if st.NamespaceErr != nil {
		return fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, st.NamespaceErr)
	}
	ns := st.Namespace
	if ns == "" {
		return nil
	}
	if err := cluster.ValidName("namespace", ns); err != nil {
		return fmt.Errorf("%s in %s: %s: %w", t.Path, t.Repo.URL, st.NamespaceFrom, err)
	}
	switch {
	case opts.Namespace == "":
		opts.Namespace = ns
	case opts.Namespace != ns:
		return usageError("-n %s disagrees with the app folder %s in %s, whose namespace is %s (%s): drop -n, or pass -n %s",
			opts.Namespace, t.Path, t.Repo.URL, ns, st.NamespaceFrom, ns)
	}
	return nil
}

// readFolder reads the app folder for promote before it acts, and takes
// its gates (see useFolder). With no gate flag and nothing to do after the
// push (after), a folder that declares no gates (or --no-spec-gates) is
// read for nothing: readFolder returns nil, and the action runs as it
// would without gates, needing no cluster and no namespace.
func (g *clusterGates) readFolder(ctx context.Context, t *promote.Target, after bool) (*promote.State, error) {
	if !after && !g.wantFolder() {
		return nil, nil
	}
	st, err := t.Read(ctx)
	if err != nil {
		if !after && !g.checks.Any() {
			return nil, fmt.Errorf("%s: %w", t.Path, err) // as the action would say it
		}
		return nil, fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
	}
	if !after && !g.checks.Any() && (st.Gates == nil || g.noSpec) {
		return nil, nil
	}
	if err := useNamespace(g.opts, t, st); err != nil {
		return nil, err
	}
	return st, g.useFolder(st)
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
