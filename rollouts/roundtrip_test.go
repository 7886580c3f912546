package rollouts_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

// specs are every bundled example and the gated spec of testdata/rollouts.
func specs(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("examples: %v (%d)", err, len(paths))
	}
	out := map[string]string{"gates": "../testdata/rollouts/gates.yaml"}
	for _, p := range paths {
		out[filepath.Base(filepath.Dir(p))] = p
	}
	return out
}

func load(t *testing.T, path string) *spec.BlueGreenApp {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return apps[0]
}

// TestRoundTrip renders every example as a Rollout, imports it back, and
// checks that the spec that comes back is the original with exactly the
// losses that Lossy spells out; the imported spec is a golden file.
func TestRoundTrip(t *testing.T) {
	for name, path := range specs(t) {
		t.Run(name, func(t *testing.T) {
			app := load(t, path)
			var stream bytes.Buffer
			if err := render.WriteYAML(&stream, rollouts.Render([]*spec.BlueGreenApp{app})); err != nil {
				t.Fatal(err)
			}
			imported, notes, err := rollouts.Import([]rollouts.File{{Name: "rendered.yaml", Data: stream.Bytes()}})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			for _, n := range notes {
				// The rendered NetworkPolicy is the only object that is not
				// read back.
				if !strings.Contains(n.Msg, "NetworkPolicy "+app.Metadata.Name+" is not imported") {
					t.Errorf("unexpected note: %s", n)
				}
			}
			out, err := rollouts.EncodeSpec(imported)
			if err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, filepath.Join("..", "testdata", "golden", "argo-rollouts", "roundtrip", name+".yaml"), out)

			back, err := spec.Load("imported", out)
			if err != nil {
				t.Fatalf("the imported spec does not load: %v", err)
			}
			got := back[0]
			rollouts.FillGateDefaults(got.Spec.Gates)
			want := rollouts.Lossy(app)
			if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
				t.Errorf("import(render(%s)) is not the spec up to Lossy:\n got: %s\nwant: %s", path, g, w)
			}
			// And the imported spec renders what the spec after its losses does.
			var again, lossy bytes.Buffer
			if err := render.WriteYAML(&again, rollouts.Render(back)); err != nil {
				t.Fatal(err)
			}
			if err := render.WriteYAML(&lossy, rollouts.Render([]*spec.BlueGreenApp{want})); err != nil {
				t.Fatal(err)
			}
			if again.String() != lossy.String() {
				t.Errorf("the imported spec renders another stream than Lossy(spec)")
			}
			if want.Spec.NetworkPolicy.Enabled != nil && !strings.Contains(again.String(), "kind: Rollout") {
				t.Errorf("no Rollout rendered")
			}
		})
	}
}

func jsonOf(t *testing.T, app *spec.BlueGreenApp) string {
	t.Helper()
	raw, err := json.Marshal(struct {
		M spec.ObjectMeta
		S spec.AppSpec
	}{app.Metadata, app.Spec})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
