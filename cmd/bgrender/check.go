package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
	"github.com/bgrender/bgrender/status"
)

// The --help of -n: a command that reads an app folder looks where the
// folder says the app is (see folderNamespace).
const (
	nsFromKubeconfig = "`NAMESPACE` of the app (default: the kubeconfig's)"
	nsFromFolder     = "`NAMESPACE` of the app (default: the one the app folder names, in bgrender.yaml's metadata.namespace or the manifests', else the kubeconfig's); a -n that disagrees with the folder is an error"
	nsFromRepo       = "`NAMESPACE` of the app (default: with --repo, the one the app folder names, in bgrender.yaml's metadata.namespace or the manifests', else the kubeconfig's); a -n that disagrees with the folder is an error"
)

// addClusterFlags registers the flags that select the cluster and
// namespace; nsUsage is the --help of -n.
func addClusterFlags(fs *pflag.FlagSet, nsUsage string) *cluster.Options {
	var opts cluster.Options
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&opts.Context, "context", "", "kubeconfig `CONTEXT` to use")
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", nsUsage)
	fs.DurationVar(&opts.RequestTimeout, "request-timeout", cluster.DefaultRequestTimeout, "bound on each API request (a watch is bounded by its gate's timeout instead)")
	return &opts
}

// validateCluster checks the cluster flags and the app name, before
// anything contacts the cluster (bad usage, exit 2).
func validateCluster(opts *cluster.Options, app string) error {
	if opts.RequestTimeout <= 0 {
		return usageError("--request-timeout %s: want a positive duration", opts.RequestTimeout)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if app != "" {
		return cluster.ValidName("app name", app)
	}
	return nil
}

// addGateFlags registers the flags of the promotion gates on fs and
// returns the checks they fill. The rollout gate's wait is the flag
// timeoutFlag: check has --timeout, the GitOps commands (whose --timeout
// is --wait-merge's) --rollout-timeout.
func addGateFlags(fs *pflag.FlagSet, timeoutFlag string) *gate.Checks {
	c := &gate.Checks{}
	o := func(field string) string { return fmt.Sprintf(overrides, field) }
	fs.BoolVar(&c.RequireRollout, "require-rollout", false, "gate: the color's Deployment must be fully rolled out (as kubectl rollout status judges it), watched until --"+timeoutFlag+"; =false turns the spec's rollout gate off"+o("rollout"))
	fs.DurationVar(&c.Timeout, timeoutFlag, 5*time.Minute, "with --require-rollout (and deploy --wait): how long to wait for the rollout"+o("rollout.timeout"))
	fs.StringVar(&c.HealthPath, "health-path", "", "gate: GET `PATH` through the API server's service proxy must answer 2xx/3xx; with --health-url, replaces the spec's path and url"+o("health.path"))
	fs.StringVar(&c.HealthURL, "health-url", "", "gate: GET `URL` directly instead (e.g. a preview Ingress)"+o("health.url"))
	fs.StringVar(&c.HealthPort, "health-port", "", "Service `PORT` (name or number) for --health-path and --warm (default: the Service's first port)"+o("health.port"))
	fs.IntVar(&c.HealthAttempts, "health-attempts", 5, "health requests before giving up, with exponential backoff from 1s"+o("health.attempts"))
	fs.StringArrayVar(&c.Warm, "warm", nil, "warm-up: GET `PATH` before the flip (repeatable); a 5xx refuses"+o("warmUp.paths"))
	fs.IntVar(&c.WarmRequests, "warm-requests", 1, "requests per --warm path"+o("warmUp.requests"))
	addErrorRateFlags(fs, c)
	fs.IntVar(&c.Measurements, "measurements", 1, "error-rate gate: how many measurements to take, --measurement-interval apart"+o("errorRate.count"))
	fs.DurationVar(&c.MeasurementInterval, "measurement-interval", 30*time.Second, "error-rate gate: the time between two measurements"+o("errorRate.interval"))
	fs.IntVar(&c.FailureLimit, "failure-limit", 0, "error-rate gate: failed measurements allowed (one more refuses); less than --measurements"+o("errorRate.failureLimit"))
	fs.BoolVar(&c.AllowNoData, "allow-no-data", false, "error-rate gate: pass a measurement without data (no traffic); =false blocks it"+o("errorRate.noData"))
	return c
}

// checkKubeconfig loads the kubeconfig without contacting the cluster, so
// that a command that works on Git first (promote and deploy with gates,
// guard) reports a missing or broken file before it changes anything.
func checkKubeconfig(opts *cluster.Options) error {
	_, _, err := opts.Config()
	return err
}

// validateGateFlags checks the gate flags (bad usage, exit 2). The flags
// default to usable values, so a zero here was asked for.
func validateGateFlags(c *gate.Checks, timeoutFlag string) error {
	switch {
	case c.Timeout < 0:
		return usageError("--%s %s: want a positive duration", timeoutFlag, c.Timeout)
	case c.HealthAttempts <= 0:
		return usageError("--health-attempts %d: want at least 1", c.HealthAttempts)
	case c.WarmRequests <= 0:
		return usageError("--warm-requests %d: want at least 1", c.WarmRequests)
	case c.Measurements <= 0:
		return usageError("--measurements %d: want at least 1", c.Measurements)
	case c.MeasurementInterval <= 0:
		return usageError("--measurement-interval %s: want a positive duration", c.MeasurementInterval)
	}
	return validateErrorRateFlags(c)
}

// validateErrorRateFlags checks the flags of addErrorRateFlags.
func validateErrorRateFlags(c *gate.Checks) error {
	if err := c.Validate(); err != nil {
		return usageError("%v", err)
	}
	if c.Window < time.Second {
		return usageError("--window %s: want a duration of at least 1s", c.Window)
	}
	return nil
}

// addErrorRateFlags registers the flags of the error-rate gate (also
// guard's).
func addErrorRateFlags(fs *pflag.FlagSet, c *gate.Checks) {
	o := func(field string) string { return fmt.Sprintf(overrides, field) }
	fs.StringVar(&c.PrometheusURL, "prometheus-url", "", "gate: Prometheus base `URL` for the error-rate gate"+o("errorRate.prometheusURL"))
	fs.Float64Var(&c.MaxErrorRate, "max-error-rate", 0, "error-rate gate: refuse at or above this `PERCENT` of 5xx answers"+o("errorRate.maxPercent"))
	fs.StringVar(&c.Query, "query", "", "`PROMQL` returning a percentage; {{app}} {{namespace}} {{colorLabel}} {{color}} {{window}} are filled in (default: 5xx share of http_requests_total)"+o("errorRate.query"))
	fs.DurationVar(&c.Window, "window", time.Minute, "rate window of the default query"+o("errorRate.window"))
}

// clusterApp is an app read from the cluster, with the clients to run
// gates against it.
type clusterApp struct {
	*status.App
	cfg      *rest.Config
	dyn      dynamic.Interface // bounded by the request timeout
	watchDyn dynamic.Interface // for watches (see cluster.ForWatch)
	ns       string
}

// readApp connects to the cluster and reads the app's live state.
func readApp(ctx context.Context, opts *cluster.Options, name string) (*clusterApp, error) {
	cfg, ns, err := opts.Config()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	watchDyn, err := dynamic.NewForConfig(cluster.ForWatch(cfg))
	if err != nil {
		return nil, err
	}
	reader, err := status.NewReader(cfg, ns)
	if err != nil {
		return nil, err
	}
	app, err := reader.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return &clusterApp{App: app, cfg: cfg, dyn: dyn, watchDyn: watchDyn, ns: ns}, nil
}

// subject is what the gates look at: color (default: the one the preview
// Service selects), through the Service that routes to it.
func (a *clusterApp) subject(color string, checks *gate.Checks) (gate.Subject, error) {
	s := gate.Subject{Config: a.cfg, Client: a.dyn, WatchClient: a.watchDyn, Namespace: a.ns, App: a.Name, Color: color, ColorLabel: a.ColorLabel}
	if s.Color == "" {
		s.Color = a.Services[1].Selects
	}
	if s.Color == "" {
		return s, fmt.Errorf("%s: the preview Service selects no color (or is missing); name the color to check", a.Name)
	}
	for _, svc := range a.Services {
		if svc.Selects == s.Color {
			s.Service = svc.Name
		}
	}
	if s.Service == "" && (checks.HealthPath != "" || len(checks.Warm) > 0) && checks.HealthURL == "" {
		// The preview Service routes elsewhere: the health and warm-up
		// gates would ask another color's pods in this one's place.
		return s, fmt.Errorf("%s: no Service routes to %s (the active and preview Services select %s and %s), so the health and warm-up gates cannot reach its pods; use --health-url",
			a.Name, s.Color, orNone(a.Services[0].Selects), orNone(a.Services[1].Selects))
	}
	for _, c := range a.Colors {
		if c.Color == s.Color && c.Found {
			s.Deployment = c.Deployment // as status found it
		}
	}
	return s, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func checkCommand() *command {
	return &command{
		name:    "check",
		summary: "run the promotion gates against the cluster without changing anything",
		usage:   "[APP] [-f bgrender.yaml|bgrender.gates | --repo URL --path DIR] [flags]",
		long: `Run the gates that guard a promotion against the live cluster, and change
nothing: the color that would go live (by default the one the preview Service
selects) must be fully rolled out (--require-rollout), answer its health
check through the API server's service proxy (--health-path) or directly
(--health-url), take the warm-up requests (--warm), and keep its 5xx rate in
Prometheus under --max-error-rate.

With -f, the gates come from a file: an app spec (bgrender.yaml, whose
spec.gates run, and whose metadata.name and metadata.namespace are the
defaults of APP and -n) or a plain folder's bgrender.gates; -f DIR reads
DIR/bgrender.yaml, else DIR/bgrender.gates. With --repo and --path they come
from the app folder in the GitOps repository, as promote reads them (the
folder also names the app and its namespace). Each gate flag overrides one
setting of the file's gates; --no-spec-gates leaves them out.

At least one gate is needed. Exits 0 when every gate passes, 3 when one
refuses (the message names the gate and what it saw; an error-rate
measurement without data blocks, and so refuses, unless noData is pass),
1 when the cluster or Prometheus cannot be read, 2 on bad flags or a bad file.
Needs the permissions of bgrender status plus watch on deployments and get on
services/proxy (see examples/rbac/role.yaml).`,
		example: `  bgrender check my-application -n production --require-rollout --timeout 10m \
    --health-path /health --warm / --warm /products \
    --prometheus-url http://prometheus.monitoring:9090 --max-error-rate 1

  # The gates of the spec, with a stricter maximum
  bgrender check -f apps/my-application/bgrender.yaml --max-error-rate 0.5`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			opts := addClusterFlags(fs, nsFromKubeconfig)
			color := fs.String("color", "", "`COLOR` to check (default: the one the preview Service selects)")
			file := fs.StringP("file", "f", "", "read the gates from `FILE`: an app spec (its spec.gates) or a plain folder's bgrender.gates; a folder reads its bgrender.yaml or bgrender.gates")
			noSpec := fs.Bool(noSpecGatesFlag, false, "with -f or --repo: do not run the file's gates, only the gate flags (the spec still names the app and namespace)")
			repo := fs.String("repo", "", "read the gates from the app folder --path of this GitOps repository (as promote does): its bgrender.yaml's spec.gates, or a plain folder's bgrender.gates")
			path := fs.String("path", "", "with --repo: the app's folder in the repository")
			branch := fs.String("branch", "", "with --repo: the branch to read (default: the remote's default branch)")
			sshKey := fs.String("ssh-key", "", "with --repo: private key `FILE` for ssh URLs (default: the SSH agent)")
			knownHosts := fs.StringSlice("known-hosts", nil, "with --repo: known_hosts `FILE`s (default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
			insecure := fs.Bool("insecure-ignore-host-key", false, "with --repo: do not verify the ssh server's host key (unsafe)")
			checks := addGateFlags(fs, "timeout")
			return func(args []string) error {
				if len(args) > 1 {
					return usageError("check takes one app name, got %d arguments", len(args))
				}
				if err := validateGateFlags(flagsOnly(fs, checks), "timeout"); err != nil {
					return err
				}
				var app string
				if len(args) == 1 {
					app = args[0]
				}
				var fg *spec.FolderGates
				var name, ns string
				var err error
				switch {
				case *repo != "" || *path != "":
					if *repo == "" || *path == "" || *file != "" {
						return usageError("--repo and --path go together, and not with -f")
					}
					r, err := openRepo(s, *repo, gitops.RepoOptions{SSHKey: *sshKey, KnownHosts: *knownHosts, InsecureIgnoreHostKey: *insecure})
					if err != nil {
						return err
					}
					t := &promote.Target{Repo: r, Branch: *branch, Path: *path, MaxAttempts: 1}
					st, err := t.Read(context.Background())
					if err != nil {
						return fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
					}
					if st.NamespaceErr != nil {
						return st.NamespaceErr
					}
					fg, name, ns = st.Gates, st.App, st.Namespace
				default:
					if fg, name, ns, err = readGatesFile(*file); err != nil {
						return err
					}
				}
				if app == "" {
					app = name
				}
				if app == "" {
					return usageError("check takes one app name (or -f with an app spec, which names it)")
				}
				if opts.Namespace == "" {
					opts.Namespace = ns
				}
				eff, err := mergeChecks(fs, checks, "timeout", fg, *noSpec)
				if err != nil {
					return err
				}
				if !checks.Any() {
					return usageError("no gate asked for: use --require-rollout, --health-path, --health-url, --warm or --prometheus-url, or -f a spec with spec.gates")
				}
				if *color != "" && *color != "blue" && *color != "green" {
					return usageError("--color must be blue or green, not %q", *color)
				}
				if err := validateCluster(opts, app); err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				live, err := readApp(ctx, opts, app)
				if err != nil {
					return err
				}
				subject, err := live.subject(*color, checks)
				if err != nil {
					return fmt.Errorf("%w (--color)", err)
				}
				if eff.Spec != "" {
					fmt.Fprintf(s.err, "bgrender check: %s\n", eff.describe())
				}
				checks.Progress = func(m string) { fmt.Fprintf(s.err, "bgrender check: %s\n", m) }
				if err := checks.Run(ctx, subject); err != nil {
					return fmt.Errorf("%s %s: %w", live.Name, subject.Color, err)
				}
				fmt.Fprintf(s.out, "%s: %s passed %s\n", live.Name, subject.Color, strings.Join(enabled(checks), ", "))
				return nil
			}
		},
	}
}

// readGatesFile reads check's -f: an app spec (its gates, name and
// namespace) or a GatesFile; a folder holds one of them. An empty name
// reads nothing.
func readGatesFile(name string) (fg *spec.FolderGates, app, ns string, err error) {
	if name == "" {
		return nil, "", "", nil
	}
	if fi, err := os.Stat(name); err == nil && fi.IsDir() {
		dir := name
		name = filepath.Join(dir, promote.SpecFile)
		if _, err := os.Stat(name); err != nil {
			name = filepath.Join(dir, spec.GatesFile)
		}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, "", "", usageError("-f %s: %v", name, unwrapPathError(err))
	}
	if filepath.Ext(name) == filepath.Ext(spec.GatesFile) {
		fg, err := spec.LoadGates(name, data)
		if err != nil {
			return nil, "", "", exitcode.InvalidInput(err)
		}
		return fg, "", "", nil
	}
	apps, err := spec.Load(name, data)
	if err != nil {
		return nil, "", "", exitcode.InvalidInput(err)
	}
	if len(apps) != 1 {
		return nil, "", "", usageError("-f %s: holds %d apps; name one spec", name, len(apps))
	}
	return spec.GatesOf(apps[0]), apps[0].Metadata.Name, apps[0].Metadata.Namespace, nil
}

// enabled names the gates that ran.
func enabled(c *gate.Checks) []string {
	var names []string
	if c.RequireRollout {
		names = append(names, "rollout")
	}
	if c.HealthPath != "" || c.HealthURL != "" {
		names = append(names, "health")
	}
	if len(c.Warm) > 0 {
		names = append(names, "warm-up")
	}
	if c.PrometheusURL != "" {
		names = append(names, "error-rate")
	}
	return names
}
