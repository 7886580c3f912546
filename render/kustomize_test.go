package render_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/render"
)

// TestOutputDirBuildsWithKustomize builds the --output-dir tree with
// kustomize's krusty, in-process and as Argo CD and Flux would, and wants
// exactly the objects of the stream output.
func TestOutputDirBuildsWithKustomize(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*/app.yaml")
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			objs := render.Render(load(t, path))
			files, _, err := render.Dir(objs)
			if err != nil {
				t.Fatal(err)
			}
			fs := filesys.MakeFsInMemory()
			for name, data := range files {
				if err := fs.WriteFile(filepath.Join("/app", name), data); err != nil {
					t.Fatal(err)
				}
			}
			resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/app")
			if err != nil {
				t.Fatalf("kustomize build: %v", err)
			}
			built := map[string]map[string]any{}
			for _, r := range resMap.Resources() {
				m, err := r.Map()
				if err != nil {
					t.Fatal(err)
				}
				built[r.GetKind()+"/"+r.GetNamespace()+"/"+r.GetName()] = m
			}
			if len(built) != len(objs) {
				t.Errorf("kustomize built %d objects, the stream has %d", len(built), len(objs))
			}
			for _, o := range objs {
				key := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetNamespace() + "/" + o.GetName()
				want, err := render.Manifest(o)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := built[key]
				if !ok {
					t.Errorf("kustomize did not build %s", key)
					continue
				}
				if !equality.Semantic.DeepEqual(normalize(t, want), normalize(t, got)) {
					t.Errorf("%s differs after kustomize build", key)
				}
			}
		})
	}
}

// normalize round-trips a manifest through YAML so that number types agree.
func normalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	raw, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(bytes.TrimSpace(raw), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
