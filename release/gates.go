package release

import (
	"context"
	"fmt"
	"path"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
	"github.com/bgrender/bgrender/status"
)

// Gates are the promotion gates of an action (promote, deploy --wait, a
// stepped promotion's steps): the checks the flags asked for, merged with
// the app folder's gates once the folder is read (UseFolder), run against
// the cluster on a color.
type Gates struct {
	Cluster *cluster.Options
	// App is the app's name in the cluster (--app); empty: the folder's.
	App    string
	Checks *gate.Checks
	// Changed says which flags the user set; TimeoutFlag names the
	// rollout gate's wait.
	Changed     gate.Changed
	TimeoutFlag string
	// NoSpec leaves the folder's gates out (--no-spec-gates).
	NoSpec bool
	// CapacityOff: --capacity=false; the capacity gate does not run even
	// for a folder whose colors have autoscalers (see ReadFolder).
	CapacityOff bool
	// Wait: the gates run after the commit whatever was asked (deploy
	// --wait); NoCluster: they are only named, never run (a stepped dry
	// run), so the kubeconfig need not be read.
	Wait, NoCluster bool

	// Effective are the gates after UseFolder, with where each setting
	// came from.
	Effective *gate.Effective
	// Results are what the gates measured, in the order they ran (a
	// stepped promotion runs them at every step): the evidence of the
	// pull request and of -o json.
	Results     []gate.Result
	folderApp   string
	preview     string // the folder's preview Service (see previewOf)
	folderGates *spec.FolderGates
	ran         bool
}

// Any reports whether any gate runs.
func (g *Gates) Any() bool { return g.Checks.Any() }

// WantFolder reports whether the app folder must be read before acting:
// for its gates (unless --no-spec-gates), or for the flags' gates (the
// app's name and namespace).
func (g *Gates) WantFolder() bool { return !g.NoSpec || g.Checks.Any() }

// Runs reports whether the command will run gates.
func (g *Gates) Runs() bool { return g.Checks.Any() || g.Wait }

// UseFolder takes what the app folder holds: the app's name, and its
// gates, merged under the flags. When the folder's gates make the command
// run gates that no flag asked for, the kubeconfig is checked now, before
// anything is committed.
func (g *Gates) UseFolder(st *promote.State) error {
	g.folderApp, g.folderGates, g.preview = st.App, st.Gates, previewOf(st)
	before := g.Runs()
	eff, err := gate.Merge(g.Changed, g.Checks, g.TimeoutFlag, st.Gates, g.NoSpec)
	if err != nil {
		return err
	}
	g.Effective = eff
	if g.NoCluster {
		return nil
	}
	if !before && g.Checks.Any() {
		if _, _, err := g.Cluster.Config(); err != nil {
			return fmt.Errorf("%w (the gates of %s read the cluster; --%s leaves them out)", err, eff.Spec, gate.NoSpecGatesFlag)
		}
	}
	return nil
}

// CapacityOnly are the gates of an action that runs the capacity gate
// alone (rollback, shift): none of the folder's other gates, nothing
// merged, on the app and preview Service that the folder st names.
func CapacityOnly(opts *cluster.Options, st *promote.State) *Gates {
	g := &Gates{Cluster: opts, Checks: &gate.Checks{Capacity: true}, NoSpec: true}
	g.folderApp, g.preview = st.App, previewOf(st)
	return g
}

// appName is --app, else the app as the folder names it, else the last
// element of the app folder.
func (g *Gates) appName(dir string) string {
	switch {
	case g.App != "":
		return g.App
	case g.folderApp != "":
		return g.folderApp
	}
	return path.Base(strings.TrimRight(dir, "/"))
}

// Run runs the gates against color (empty: the color the preview Service
// selects) and returns the color they passed.
func (g *Gates) Run(ctx context.Context, env *Env, dir, color string) (string, error) {
	return g.RunChecks(ctx, env, dir, color, g.Checks)
}

// RunChecks runs checks (the gates, or a subset of them) on color.
func (g *Gates) RunChecks(ctx context.Context, env *Env, dir, color string, checks *gate.Checks) (string, error) {
	app, err := ReadApp(ctx, g.Cluster, g.appName(dir), g.preview)
	if err != nil {
		return "", err
	}
	subject, err := app.Subject(color, checks)
	if err != nil {
		return "", err
	}
	checks.Progress = func(m string) { env.Say("%s", m) }
	checks.Record = func(res gate.Result) { g.Results = append(g.Results, res) }
	if checks == g.Checks && g.Effective != nil {
		// deploy --wait adds the rollout gate after UseFolder: say it.
		if g.Effective, err = gate.Merge(g.Changed, g.Checks, g.TimeoutFlag, g.folderGates, g.NoSpec); err != nil {
			return "", err
		}
		if !g.ran && g.Effective.Spec != "" {
			env.Say("%s", g.Effective.Describe())
		}
	}
	g.ran = g.ran || checks == g.Checks
	if err := checks.Run(ctx, subject); err != nil {
		return subject.Color, fmt.Errorf("%s %s: %w", app.Name, subject.Color, err)
	}
	env.Say("%s %s passed %s", app.Name, subject.Color, strings.Join(checks.Names(), ", "))
	return subject.Color, nil
}

// App is an app read from the cluster, with the clients to run gates
// against it.
type App struct {
	*status.App
	Config *rest.Config
	// Client is bounded by the request timeout; WatchClient is for
	// watches (see cluster.ForWatch).
	Client, WatchClient dynamic.Interface
	Namespace           string
}

// ReadApp connects to the cluster and reads the app's live state; preview
// names its preview Service when it is not <name>-preview (see
// status.Reader.GetWithPreview).
func ReadApp(ctx context.Context, opts *cluster.Options, name, preview string) (*App, error) {
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
	app, err := reader.GetWithPreview(ctx, name, preview)
	if err != nil {
		return nil, err
	}
	return &App{App: app, Config: cfg, Client: dyn, WatchClient: watchDyn, Namespace: ns}, nil
}

// Subject is what the gates look at: color (default: the one the preview
// Service selects), through the Service that routes to it.
func (a *App) Subject(color string, checks *gate.Checks) (gate.Subject, error) {
	s := gate.Subject{Config: a.Config, Client: a.Client, WatchClient: a.WatchClient, Namespace: a.Namespace, App: a.Name, Color: color, ColorLabel: a.ColorLabel}
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
	s.Deployment = a.Deployment(s.Color, s.Deployment)
	if a.Live != "" && a.Live != s.Color {
		s.LiveDeployment = a.Deployment(a.Live, a.Name+"-"+a.Live)
	}
	return s, nil
}

// Deployment is the Deployment of color as status found it, else def.
func (a *App) Deployment(color, def string) string {
	for _, c := range a.Colors {
		if c.Color == color && c.Found {
			return c.Deployment
		}
	}
	return def
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
