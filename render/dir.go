package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// KustomizationHeader marks a kustomization.yaml that bgrender wrote, so
// that a later run may remove the files it listed and no longer renders.
const KustomizationHeader = "# Written by bgrender render --output-dir; edits are overwritten.\n"

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
		Resources:  names,
	})
	if err != nil {
		return nil, nil, err
	}
	files["kustomization.yaml"] = append([]byte(KustomizationHeader), k...)
	return files, append(names, "kustomization.yaml"), nil
}

// WriteDir writes the objects into dir (created if needed) as Dir lays
// them out. Files that an earlier bgrender run listed in its
// kustomization.yaml and that are no longer rendered are removed; other
// files in dir are left alone. Each file is replaced atomically.
func WriteDir(dir string, objs []Object) error {
	files, order, err := Dir(objs)
	if err != nil {
		return err
	}
	stale, err := previousResources(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	for _, name := range order {
		if err := writeFileAtomic(filepath.Join(dir, name), files[name]); err != nil {
			return err
		}
	}
	for _, name := range stale {
		if _, keep := files[name]; keep || name != filepath.Base(name) || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", name, err)
		}
	}
	return nil
}

// previousResources lists the resources of a kustomization.yaml in dir
// that bgrender wrote; a hand-written one is never taken as ours.
func previousResources(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte(KustomizationHeader)) {
		return nil, fmt.Errorf("%s already holds a kustomization.yaml that bgrender did not write; choose an empty directory", dir)
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, "kustomization.yaml"), err)
	}
	return k.Resources, nil
}

func writeFileAtomic(path string, data []byte) error {
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
