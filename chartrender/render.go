package chartrender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

// Options are the inputs of a render, as `helm template`'s flags name
// them.
type Options struct {
	// Chart is a chart directory, a packaged chart (.tgz), REPO/NAME from
	// the repositories file, or an oci:// reference.
	Chart string
	// Version constrains the chart version of a repository or OCI chart
	// (empty: the latest stable one).
	Version string
	// ReleaseName is .Release.Name; Namespace is .Release.Namespace.
	ReleaseName string
	Namespace   string
	// ValueFiles (-f), then Values (--set) and StringValues
	// (--set-string), override the chart's values.yaml in that order.
	ValueFiles   []string
	Values       []string
	StringValues []string
	// KubeVersion is .Capabilities.KubeVersion (empty: Helm's default);
	// APIVersions adds to .Capabilities.APIVersions.
	KubeVersion string
	APIVersions []string
	// IncludeCRDs adds the chart's crds/ folder; NoHooks leaves out the
	// hooks; SkipTests leaves out the test hooks.
	IncludeCRDs, NoHooks, SkipTests bool
	// Log hears Helm's warnings (a deprecated chart, a chart with CRDs);
	// nil discards them.
	Log io.Writer
}

// InputError is a render that failed on its inputs (the chart, its
// values, its templates): bad input, exit code 2. Other errors (a
// repository that cannot be reached) are runtime failures.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Render renders the chart and returns what `helm template` prints.
func Render(ctx context.Context, o Options) ([]byte, error) {
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	settings := cli.New() // reads HELM_REPOSITORY_CONFIG, HELM_REPOSITORY_CACHE, HELM_REGISTRY_CONFIG as helm does
	install, err := newInstall(o, settings, logw)
	if err != nil {
		return nil, err
	}
	path, err := install.ChartPathOptions.LocateChart(o.Chart, settings)
	if err != nil {
		return nil, classify(fmt.Errorf("chart %s: %w", o.Chart, err))
	}
	if err := checkValueFiles(o.ValueFiles); err != nil {
		return nil, err
	}
	vals, err := (&values.Options{ValueFiles: o.ValueFiles, Values: o.Values, StringValues: o.StringValues}).MergeValues(getter.All(settings))
	if err != nil {
		return nil, classify(err)
	}
	ch, err := load(path, o.Chart, logw)
	if err != nil {
		return nil, err
	}
	rel, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("chart %s: %w", o.Chart, err)}
	}
	return output(rel, o), nil
}

// newInstall sets up the client-only install that `helm template` runs.
func newInstall(o Options, settings *cli.EnvSettings, logw io.Writer) (*action.Install, error) {
	cfg := &action.Configuration{Log: func(format string, v ...interface{}) {
		fmt.Fprintf(logw, format+"\n", v...)
	}}
	install := action.NewInstall(cfg)
	install.DryRun, install.DryRunOption = true, "true"
	install.ClientOnly, install.Replace = true, true
	install.ReleaseName = o.ReleaseName
	install.Namespace = o.Namespace
	install.Version = strings.TrimSpace(o.Version)
	install.IncludeCRDs = o.IncludeCRDs
	install.DisableHooks = o.NoHooks
	install.APIVersions = chartutil.VersionSet(o.APIVersions)
	kubeVersion := o.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--kube-version %q: %w", kubeVersion, err)}
	}
	install.KubeVersion = kv
	rc, err := registry.NewClient(registry.ClientOptEnableCache(true), registry.ClientOptWriter(logw),
		registry.ClientOptCredentialsFile(settings.RegistryConfig))
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	install.SetRegistryClient(rc)
	return install, nil
}

// DefaultKubeVersion is the Kubernetes version that a release build of
// helm assumes without --kube-version: that of the client-go it links
// (k8s.io/client-go v0.37.x → v1.37.0), which Helm's Makefile writes into
// chartutil with -ldflags. bgrender links the same client-go; a test
// keeps the two in step with go.mod.
const DefaultKubeVersion = "v1.37.0"

// load reads the chart and refuses what helm install refuses: a library
// chart, missing dependencies.
func load(path, name string, logw io.Writer) (*chart.Chart, error) {
	ch, err := loader.Load(path)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("chart %s: %w", name, err)}
	}
	switch ch.Metadata.Type {
	case "", "application":
	default:
		return nil, &InputError{Err: fmt.Errorf("chart %s: %s charts are not installable", name, ch.Metadata.Type)}
	}
	if ch.Metadata.Deprecated {
		fmt.Fprintf(logw, "WARNING: This chart is deprecated\n")
	}
	if req := ch.Metadata.Dependencies; req != nil {
		if err := action.CheckDependencies(ch, req); err != nil {
			return nil, &InputError{Err: fmt.Errorf("chart %s: %w (run `helm dependency build` on the chart)", name, err)}
		}
	}
	return ch, nil
}

// output is the release as `helm template` prints it: the manifests, then
// each hook under its source.
func output(rel *release.Release, o Options) []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, strings.TrimSpace(rel.Manifest))
	if o.NoHooks {
		return b.Bytes()
	}
	for _, h := range rel.Hooks {
		if o.SkipTests && isTest(h) {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.Bytes()
}

func isTest(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

// classify tells a failure to reach a repository or registry (a runtime
// failure) from a chart or values file that is not there or not valid
// (bad input).
func classify(err error) error {
	var (
		netErr  net.Error
		urlErr  *url.Error
		pathErr *os.PathError
	)
	switch {
	case errors.As(err, &pathErr):
		return &InputError{Err: err}
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return err
	}
	return &InputError{Err: err}
}

// checkValueFiles refuses a local values file with a key written twice,
// which Helm would take silently (the last value wins): bad input, as
// everywhere bgrender reads YAML. Files Helm fetches by URL are Helm's.
func checkValueFiles(files []string) error {
	for _, f := range files {
		if strings.Contains(f, "://") || f == "-" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			continue // Helm says what is wrong with it
		}
		if err := yamlerr.CheckStream(f, data); err != nil {
			return &InputError{Err: err}
		}
	}
	return nil
}
