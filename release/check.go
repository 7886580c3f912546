package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// FolderGates are gates read from outside a release (check -f, check
// --repo), with the app and namespace their file names.
type FolderGates struct {
	Gates          *spec.FolderGates
	App, Namespace string
	// Preview is a plain folder's preview Service (see previewOf).
	Preview string
}

// GatesFromFile reads an app spec (its gates, name and namespace) or a
// plain folder's gates file; a folder holds one of them. An empty name
// reads nothing.
func GatesFromFile(name string) (*FolderGates, error) {
	if name == "" {
		return &FolderGates{}, nil
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
		return nil, exitcode.Invalidf("-f %s: %v", name, spec.UnwrapPathError(err))
	}
	if filepath.Ext(name) == filepath.Ext(spec.GatesFile) {
		fg, err := spec.LoadGates(name, data)
		if err != nil {
			return nil, exitcode.InvalidInput(err)
		}
		return &FolderGates{Gates: fg}, nil
	}
	apps, err := spec.Load(name, data)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	if len(apps) != 1 {
		return nil, exitcode.Invalidf("-f %s: holds %d apps; name one spec", name, len(apps))
	}
	return &FolderGates{Gates: spec.GatesOf(apps[0]), App: apps[0].Metadata.Name, Namespace: apps[0].Metadata.Namespace}, nil
}

// GatesFromGit reads the gates of the app folder in Git, as a promotion
// reads them.
func GatesFromGit(ctx context.Context, t *promote.Target) (*FolderGates, error) {
	st, err := t.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
	}
	if st.NamespaceErr != nil {
		return nil, st.NamespaceErr
	}
	return &FolderGates{Gates: st.Gates, App: st.App, Namespace: st.Namespace, Preview: previewOf(st)}, nil
}

// Check runs the promotion gates against the cluster and changes nothing.
type Check struct {
	Cluster *cluster.Options
	App     string
	Color   string // empty: the color the preview Service selects
	// Preview names the preview Service when it is not <App>-preview.
	Preview string
	Checks  *gate.Checks
	// Effective, when the gates came from a file, are said first.
	Effective *gate.Effective
}

// Run runs the gates; env.Out receives the verdict.
func (c *Check) Run(ctx context.Context, env *Env) error {
	app, err := ReadApp(ctx, c.Cluster, c.App, c.Preview)
	if err != nil {
		return err
	}
	subject, err := app.Subject(c.Color, c.Checks)
	if err != nil {
		return fmt.Errorf("%w (--color)", err)
	}
	if c.Effective != nil && c.Effective.Spec != "" {
		env.Say("%s", c.Effective.Describe())
	}
	c.Checks.Progress = func(m string) { env.Say("%s", m) }
	if err := c.Checks.Run(ctx, subject); err != nil {
		return fmt.Errorf("%s %s: %w", app.Name, subject.Color, err)
	}
	_, err = fmt.Fprintf(env.Out, "%s: %s passed %s\n", app.Name, subject.Color, strings.Join(c.Checks.Names(), ", "))
	return err
}
