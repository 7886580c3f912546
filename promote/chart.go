package promote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/postrender"
)

// ChartFile is the file of an app folder that deploy --chart writes: the
// chart's render, post-rendered. bgrender owns it (its first line says so)
// and rewrites it on each deploy --chart; promote, rollback and scale-idle
// edit it as any plain manifest. Every other file of the folder is the
// user's and stays as it is.
const ChartFile = "manifests.yaml"

// chartHeader opens ChartFile; a file of that name without it is the
// user's, and deploy --chart refuses to overwrite it.
const chartHeader = "# Written by bgrender deploy --chart: a Helm chart's render, blue/green."

// DeployChart puts a chart's new render on the idle color: the render is
// post-rendered with the app folder's ChartFile as the previous release,
// so that the live color keeps exactly what it runs, and replaces
// ChartFile. On the first deploy both colors get the render.
type DeployChart struct {
	Target
	// Chart names the chart and its version in the commit message.
	Chart string
	// Rendered is the chart's render, as helm template prints it.
	Rendered []byte
	// PostRender configures the post-render; its Previous is ChartFile.
	PostRender postrender.Options
}

// Run commits the new render.
func (a *DeployChart) Run(ctx context.Context) (*Result, error) {
	editor := gitops.EditorFunc(func(dir string, _ []*object.Commit) (*gitops.Change, error) {
		return a.edit(ctx, dir)
	})
	return a.update(ctx, "deploy", &gitops.Update{Editor: editor, HistoryDepth: 1, Create: true}, nil)
}

// edit rewrites ChartFile in the app folder dir.
func (a *DeployChart) edit(ctx context.Context, dir string) (*gitops.Change, error) {
	if _, err := os.Stat(filepath.Join(dir, SpecFile)); err == nil {
		return nil, exitcode.Invalidf("%s: the folder is bgrender-managed (it has %s), which deploy --chart does not write: render the chart into a folder of its own", a.Path, SpecFile)
	}
	file := filepath.Join(dir, ChartFile)
	old, err := os.ReadFile(file)
	had := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if had && !bytes.HasPrefix(old, []byte(chartHeader)) {
		return nil, exitcode.Invalidf("%s: bgrender did not write it (its first line is not bgrender's header), and deploy --chart writes the chart's render there: rename or move your file", ChartFile)
	}
	opts := a.PostRender
	opts.Source = "chart " + a.Chart
	if had {
		opts.Previous = &postrender.Folder{Path: file, Namespace: opts.Namespace, ColorLabel: opts.ColorLabel}
	}
	out, err := postrender.Run(ctx, a.Rendered, opts)
	if err != nil {
		return nil, err
	}
	if err := checkBeside(dir, out); err != nil {
		return nil, err
	}
	data := append([]byte(chartHeader+" bgrender rewrites this file on each deploy --chart; promote and rollback edit it.\n"), out...)
	c := &gitops.Change{Action: "deploy", App: path.Base(a.Path), State: fingerprint(old, had)}
	if had && bytes.Equal(old, data) {
		c.Done, c.Reason = true, fmt.Sprintf("%s already runs the render of chart %s; nothing to do", c.App, a.Chart)
		return c, nil
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return nil, err
	}
	a.describe(c, dir, had)
	return c, nil
}

// describe fills in the change's app, colors and image from the folder as
// written, when it is one that promote can flip (a chart whose Services
// are not told apart by name needs --service for that).
func (a *DeployChart) describe(c *gitops.Change, dir string, had bool) {
	c.Summary = "render chart " + a.Chart + " on both colors (first deploy)"
	l, err := openPlain(dir, a.Plain)
	if err != nil {
		if had {
			c.Summary = "render chart " + a.Chart + " on the idle color"
		}
		return
	}
	st := l.state()
	c.App = st.App
	if !had {
		c.To = string(st.Active)
		return
	}
	to := st.Idle()
	c.From, c.To, c.Image = string(st.Active), string(to), st.Images[to]
	c.Summary = fmt.Sprintf("render chart %s on %s", a.Chart, to)
}

// fingerprint identifies the ChartFile that a render started from: when
// it changes between two attempts (a promote landed meanwhile), the
// render was planned for another live color.
func fingerprint(data []byte, had bool) string {
	if !had {
		return "none"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// checkBeside refuses a render that the files beside ChartFile would
// spoil: a kustomization.yaml that does not list ChartFile (the agent
// would apply none of the chart), or an object of the user's that the
// chart also renders (the agent would apply one over the other).
func checkBeside(dir string, render []byte) error {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		k, err := yamledit.Parse(data)
		if err != nil {
			return exitcode.Invalidf("%s: %v", name, err)
		}
		listed := false
		for _, doc := range k.Docs() {
			if resources := yamledit.Lookup(doc, "resources"); resources != nil {
				for _, r := range resources.Content {
					listed = listed || path.Clean(r.Value) == ChartFile
				}
			}
		}
		if !listed {
			return exitcode.Invalidf("%s does not list %s in its resources: Flux and Argo CD would apply none of the chart; add it", name, ChartFile)
		}
	}
	names := map[string]bool{}
	for _, key := range objectKeys(render) {
		names[key] = true
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == filepath.Join(dir, ChartFile) {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, key := range objectKeys(data) {
			if names[key] {
				return exitcode.Invalidf("%s: %s is also in the chart's render: the agent would apply one over the other; remove it from %s, or leave it out of the chart", rel, key, rel)
			}
		}
		return nil
	})
}

// objectKeys lists "kind name" of the objects of a YAML stream; a stream
// that does not parse has none (it is not manifests bgrender reads).
func objectKeys(data []byte) []string {
	f, err := yamledit.Parse(data)
	if err != nil {
		return nil
	}
	var keys []string
	for _, doc := range f.Docs() {
		kind, name := yamledit.Scalar(doc, "kind"), yamledit.Scalar(doc, "metadata", "name")
		if kind != "" && name != "" {
			keys = append(keys, kind+" "+name)
		}
	}
	return keys
}
