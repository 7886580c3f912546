package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamlerr"
)

// KustomizationHeader marks a kustomization.yaml that bgrender wrote, so
// that a later run may remove the files it listed and no longer renders.
const KustomizationHeader = "# Written by bgrender render --output-dir; edits are overwritten.\n"

// ErrForeignKustomization: the output directory holds a kustomization.yaml
// that bgrender did not write, which it will not overwrite.
var ErrForeignKustomization = errors.New("a kustomization.yaml without bgrender's header")

type foreignKustomization struct{ dir string }

func (e foreignKustomization) Error() string {
	return e.dir + " already holds a kustomization.yaml that bgrender did not write; choose an empty directory"
}

func (e foreignKustomization) Is(target error) bool { return target == ErrForeignKustomization }

// FileName is the file that WriteDir writes an object to: kind and name in
// lower case, such as deployment-my-application-blue.yaml.
func FileName(o Object) string {
	return strings.ToLower(kindOf(o)) + "-" + o.GetName() + ".yaml"
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// Dir returns the files of an output directory: one per object and a
// kustomization.yaml listing them in render order, ready for Argo CD or Flux.
func Dir(objs []Object) (map[string][]byte, []string, error) {
	return dirFiles(objs, nil)
}

// dirFiles is Dir with more resources (the user's) listed after bgrender's.
func dirFiles(objs []Object, extra []string) (map[string][]byte, []string, error) {
	files := map[string][]byte{}
	names := make([]string, 0, len(objs)+1)
	for _, o := range objs {
		name := FileName(o)
		if _, dup := files[name]; dup {
			return nil, nil, fmt.Errorf("two objects would be written to %s (%s in namespaces that differ); render them into separate directories", name, o.GetName())
		}
		doc, err := EncodeYAML(o)
		if err != nil {
			return nil, nil, err
		}
		files[name] = doc
		names = append(names, name)
	}
	k, err := yaml.Marshal(kustomization{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Resources:  append(names[:len(names):len(names)], extra...),
	})
	if err != nil {
		return nil, nil, err
	}
	files["kustomization.yaml"] = append([]byte(KustomizationHeader), k...)
	return files, append(names, "kustomization.yaml"), nil
}

// WriteDir writes the objects into dir (created if needed) as Dir lays
// them out; other fields of a kustomization.yaml bgrender wrote before
// (patches, images, ...) are kept. A file that an earlier bgrender run wrote (listed in its
// kustomization.yaml, and labeled app.kubernetes.io/managed-by=bgrender)
// and that is no longer rendered is removed. Resources that the user added
// to that kustomization.yaml stay listed, after bgrender's, and their files
// are never touched; other files in dir are left alone. Each file is
// replaced atomically.
func WriteDir(dir string, objs []Object) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return exitcode.Invalidf("%s is a file, not a directory", dir)
	}
	previous, more, err := previousKustomization(dir)
	if errors.Is(err, syscall.ENOTDIR) {
		return exitcode.Invalidf("%s: a part of the path is a file, not a directory", dir)
	}
	if err != nil {
		return err
	}
	rendered := map[string]bool{}
	for _, o := range objs {
		rendered[FileName(o)] = true
	}
	var stale, extra []string
	for _, name := range previous {
		switch {
		case rendered[name]:
		case writtenByBgrender(dir, name):
			stale = append(stale, name)
		default:
			extra = append(extra, name)
		}
	}
	files, order, err := dirFiles(objs, extra)
	if err != nil {
		return exitcode.InvalidInput(err)
	}
	// Fields the user added to bgrender's kustomization.yaml (patches,
	// images, ...) are kept after bgrender's.
	files["kustomization.yaml"] = append(files["kustomization.yaml"], more...)
	// Never overwrite a file that bgrender did not write.
	listed := map[string]bool{}
	for _, name := range previous {
		listed[name] = true
	}
	for _, name := range order {
		if name == "kustomization.yaml" || listed[name] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil && !writtenByBgrender(dir, name) {
			return exitcode.Invalidf("%s already holds %s, which bgrender did not write and would overwrite; move it, or choose another directory", dir, name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, name := range order {
		if err := writeFileAtomic(filepath.Join(dir, name), files[name]); err != nil {
			return err
		}
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", name, err)
		}
	}
	return nil
}

// writtenByBgrender reports whether the resource name in dir is a file
// that bgrender wrote: a plain .yaml file right in dir holding one object
// labeled app.kubernetes.io/managed-by=bgrender.
func writtenByBgrender(dir, name string) bool {
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".yaml") || name == "kustomization.yaml" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return false
	}
	var obj struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if yamlerr.CheckStream(name, data) != nil || yaml.Unmarshal(data, &obj) != nil {
		return false // bgrender writes no duplicate key: a person edited it
	}
	return obj.Metadata.Labels[LabelManagedBy] == ManagedBy
}

// previousKustomization reads the kustomization.yaml in dir that bgrender
// wrote: its resources, and its other fields than apiVersion, kind and
// resources (patches, images, ... that the user added) as YAML to append,
// or nil. A hand-written one is never taken as ours.
func previousKustomization(dir string) (resources []string, more []byte, err error) {
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !bytes.HasPrefix(data, []byte(KustomizationHeader)) {
		return nil, nil, exitcode.InvalidInput(foreignKustomization{dir})
	}
	// sigs.k8s.io/yaml keeps the last of two equal keys without a word.
	if err := yamlerr.CheckStream("kustomization.yaml", data); err != nil {
		return nil, nil, exitcode.InvalidInput(err)
	}
	var fields map[string]any
	if err := yaml.Unmarshal(data, &fields); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if list, ok := fields["resources"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok {
				resources = append(resources, name)
			}
		}
	}
	for _, k := range []string{"apiVersion", "kind", "resources"} {
		delete(fields, k)
	}
	if len(fields) > 0 {
		if more, err = yaml.Marshal(fields); err != nil {
			return nil, nil, err
		}
	}
	return resources, more, nil
}

func writeFileAtomic(path string, data []byte) error {
	if err := writeTemp(path, data); err != nil {
		// Name the file, not the temporary one beside it.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeTemp(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
