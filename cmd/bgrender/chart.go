package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// deploy --chart: the chart is rendered by bgrender-chart (the Helm SDK,
// in a command of its own so that bgrender's start-up stays fast), then
// post-rendered against the app folder in Git and committed
// (promote.DeployChart).

// EnvChartRenderer names the bgrender-chart executable; unset, it is
// looked for beside bgrender, then on PATH.
const EnvChartRenderer = "BGRENDER_CHART"

// chartFlags are deploy --chart's flags; all but --postrender-config are
// helm template's, passed on to bgrender-chart.
type chartFlags struct {
	chart, version, releaseName, kubeVersion, config string
	values, set, setString, apiVersions              []string
	includeCRDs, noHooks, skipTests                  bool
}

func (c *chartFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.chart, "chart", "", "instead of --image: render the Helm `CHART` (a directory, a .tgz, REPO/NAME from the Helm repositories file, or oci://) as helm template does, post-render it with the app folder's "+promote.ChartFile+" as the previous release, and commit it")
	fs.StringVar(&c.version, "version", "", "with --chart: the chart `VERSION` (constraint) of a repository or OCI chart")
	fs.StringArrayVarP(&c.values, "values", "f", nil, "with --chart: a values `FILE` (repeatable; later files win, as in helm)")
	fs.StringArrayVar(&c.set, "set", nil, "with --chart: set a value, `KEY=VALUE` (repeatable; wins over --values)")
	fs.StringArrayVar(&c.setString, "set-string", nil, "with --chart: set a string value, `KEY=VALUE` (repeatable)")
	fs.StringVar(&c.releaseName, "release-name", "", "with --chart: the release `NAME` (.Release.Name; default: the app folder's name)")
	fs.StringVar(&c.kubeVersion, "kube-version", "", "with --chart: the Kubernetes `VERSION` for .Capabilities.KubeVersion")
	fs.StringArrayVar(&c.apiVersions, "api-versions", nil, "with --chart: a Kubernetes `API` version for .Capabilities.APIVersions (repeatable)")
	fs.BoolVar(&c.includeCRDs, "include-crds", false, "with --chart: include the chart's CRDs (helm template leaves them out)")
	fs.BoolVar(&c.noHooks, "no-hooks", false, "with --chart: leave out the chart's hooks (Flux applies them as plain objects)")
	fs.BoolVar(&c.skipTests, "skip-tests", false, "with --chart: leave out the chart's test hooks")
	fs.StringVar(&c.config, "postrender-config", "", "with --chart: post-render with the settings of a PostRenderConfig `FILE` (color label, NetworkPolicies, quota…)")
}

// usage refuses deploy flags that do not go with --chart, and chart flags
// without it.
func (c *chartFlags) usage(fs *pflag.FlagSet) error {
	chartOnly := []string{"version", "values", "set", "set-string", "release-name", "kube-version", "api-versions", "include-crds", "no-hooks", "skip-tests", "postrender-config"}
	if c.chart == "" {
		for _, name := range chartOnly {
			if fs.Changed(name) {
				return usageError("--%s needs --chart", name)
			}
		}
		return nil
	}
	for _, name := range []string{"image", "color", "force", "wait", "wait-live"} {
		if fs.Changed(name) {
			return usageError("--%s does not go with --chart: the chart's render goes to the idle color, and the live color keeps what it runs (--wait and --wait-live: not with --chart yet)", name)
		}
	}
	for _, name := range []string{"chart", "version", "release-name", "kube-version", "postrender-config"} {
		if fl := fs.Lookup(name); fs.Changed(name) && fl.Value.String() == "" {
			return usageError("--%s: give a value", name)
		}
	}
	return nil
}

// args are bgrender-chart's arguments.
func (c *chartFlags) args(release, namespace string) []string {
	args := []string{"--release-name", release}
	if namespace != "" {
		args = append(args, "--namespace", namespace)
	}
	for _, f := range [][2]string{{"--version", c.version}, {"--kube-version", c.kubeVersion}} {
		if f[1] != "" {
			args = append(args, f[0], f[1])
		}
	}
	for _, f := range []struct {
		flag string
		vs   []string
	}{{"--values", c.values}, {"--set", c.set}, {"--set-string", c.setString}, {"--api-versions", c.apiVersions}} {
		for _, v := range f.vs {
			args = append(args, f.flag, v)
		}
	}
	for _, f := range []struct {
		flag string
		on   bool
	}{{"--include-crds", c.includeCRDs}, {"--no-hooks", c.noHooks}, {"--skip-tests", c.skipTests}} {
		if f.on {
			args = append(args, f.flag)
		}
	}
	return append(args, "--", c.chart)
}

// render runs bgrender-chart. Its warnings go to stderr; its failure on
// the chart or the values is bad input (exit 2).
func (c *chartFlags) render(ctx context.Context, s streams, release, namespace string) ([]byte, error) {
	bin, err := chartRenderer()
	if err != nil {
		return nil, err
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, c.args(release, namespace)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	msg := strings.TrimSpace(strings.TrimPrefix(errOut.String(), "bgrender-chart: "))
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == exitcode.Invalid:
		return nil, exitcode.Invalidf("render chart %s: %s", c.chart, msg)
	case errors.As(err, &exit):
		return nil, fmt.Errorf("render chart %s: %s", c.chart, msg)
	case err != nil:
		return nil, fmt.Errorf("render chart %s: run %s: %w", c.chart, bin, err)
	}
	if msg != "" {
		fmt.Fprintln(s.err, msg)
	}
	return out.Bytes(), nil
}

// chartRenderer finds bgrender-chart: $BGRENDER_CHART, beside bgrender,
// or on PATH.
func chartRenderer() (string, error) {
	if p := os.Getenv(EnvChartRenderer); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "bgrender-chart")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("bgrender-chart")
	if err != nil {
		return "", fmt.Errorf("deploy --chart renders with bgrender-chart, found neither beside bgrender nor on PATH (install it with bgrender: go install ./cmd/bgrender-chart, or set %s)", EnvChartRenderer)
	}
	return p, nil
}

// postRender is the post-render's settings: --postrender-config, without
// a previous state of its own (the app folder is it).
func (c *chartFlags) postRender(namespace string, stderr io.Writer) (postrender.Options, error) {
	cfg := &postrender.Config{}
	if c.config != "" {
		loaded, err := postrender.LoadConfig(c.config)
		if err != nil {
			return postrender.Options{}, exitcode.InvalidInput(err)
		}
		if loaded.FromRelease != "" || loaded.FromCluster || loaded.FromDir != "" || loaded.FromFile != "" {
			return postrender.Options{}, exitcode.Invalidf("%s: deploy --chart reads the previous release from the app folder; remove fromRelease, fromCluster, fromDir and fromFile", c.config)
		}
		cfg = loaded
	}
	if namespace != "" {
		cfg.Namespace = namespace
	}
	return cfg.Options(context.Background(), 0, stderr)
}

// runChart is deploy --chart: render, then commit the post-rendered
// render to the app folder.
func (o *deployFlags) runChart(s streams, start time.Time) error {
	if o.gates.checks.Any() {
		return usageError("the gates of deploy run with --wait, which does not go with --chart yet")
	}
	if err := o.after.validate(&o.g, o.gates.opts); err != nil {
		return err
	}
	t, err := o.g.target(s)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	c := o.chart
	name := c.releaseName
	if name == "" {
		name = path.Base(path.Clean("/" + t.Path))
	}
	if name == "/" || name == "." {
		return usageError("--release-name: the app folder %q names no release; give one", t.Path)
	}
	ns := o.gates.opts.Namespace
	opts, err := c.postRender(ns, s.err)
	if err != nil {
		return err
	}
	opts.Warn = func(msg string) { fmt.Fprintf(s.err, "bgrender deploy: warning: %s\n", msg) }
	rendered, err := c.render(ctx, s, name, ns)
	if err != nil {
		return nothingCommitted(err)
	}
	label := c.chart
	if c.version != "" {
		label += " " + c.version
	}
	a := &promote.DeployChart{Target: *t, Chart: label, Rendered: rendered, PostRender: opts}
	_, err = execute(ctx, s, &o.g, t, o.gates.opts, "deploy", release.PlanDeployChart(a, o.after.live()), nil, start)
	return err
}
