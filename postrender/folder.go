package postrender

import (
	"context"

	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// Folder reads the previous state from manifests on disk: the
// post-renderer's previous output as committed to Git (the rendered
// manifests pattern), a folder of YAML files or one file. The live color
// is the one the Service's selector picks (a promote in Git flips the
// selector), else its bgrender.io/active-color annotation.
type Folder struct {
	// Path is a folder, whose .yaml and .yml files (in subfolders too) are
	// read in name order, or one file.
	Path string
	// Namespace is that of objects that name none (the release namespace).
	Namespace string
	// ColorLabel is the selector key that carries the color (default
	// bgrender.io/color).
	ColorLabel string

	once  sync.Once
	err   error
	state *manifestState
}

var _ PreviousObjects = (*Folder)(nil)

func (f *Folder) load() (*manifestState, error) {
	f.once.Do(func() {
		f.state, f.err = f.read()
	})
	return f.state, f.err
}

// read indexes every manifest file under Path. A file that is not valid
// YAML is bad input, named with its path.
func (f *Folder) read() (*manifestState, error) {
	files, err := manifestFiles(f.Path)
	if err != nil {
		return nil, exitcode.Invalidf("previous manifests: %v", err)
	}
	label := f.ColorLabel
	if label == "" {
		label = spec.DefaultColorLabel
	}
	st := newManifestState(label)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, exitcode.Invalidf("previous manifests: %v", err)
		}
		if err := st.index(data, f.Namespace); err != nil {
			return nil, exitcode.Invalidf("previous manifests: %s: %v", name, err)
		}
	}
	return st, nil
}

// manifestFiles lists path itself when it is a file, else the .yaml and
// .yml files under it, sorted.
func manifestFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var names []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// Deployment implements Previous.
func (f *Folder) Deployment(_ context.Context, namespace, name string) (*kyaml.RNode, error) {
	st, err := f.load()
	if err != nil {
		return nil, err
	}
	return st.deployments[namespace+"/"+name], nil
}

// ActiveColor implements Previous.
func (f *Folder) ActiveColor(_ context.Context, namespace, name string) (spec.Color, error) {
	st, err := f.load()
	if err != nil {
		return "", err
	}
	return st.colors[namespace+"/"+name], nil
}

// Object implements PreviousObjects.
func (f *Folder) Object(_ context.Context, kind, namespace, name string) (*kyaml.RNode, error) {
	st, err := f.load()
	if err != nil {
		return nil, err
	}
	return st.others[kind+"/"+namespace+"/"+name], nil
}
