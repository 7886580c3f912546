package fleet_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/internal/exitcode"
)

const example = "../examples/fleet/fleet.yaml"

func TestLoadExample(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load("fleet.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"canary": {"canary"}, "europe": {"eu-west", "eu-central"}, "rest": {"us-east"}}
	for _, w := range f.Spec.Waves {
		var got []string
		for _, m := range w.Members() {
			got = append(got, m.Name)
		}
		if strings.Join(got, ",") != strings.Join(want[w.Name], ",") {
			t.Errorf("wave %s: %v, want %v", w.Name, got, want[w.Name])
		}
	}
	if w := f.Spec.Waves[1]; w.HoldFor().String() != "15m0s" || w.Breach() != fleet.RollbackAll || w.Every().String() != "10s" {
		t.Errorf("europe: hold %s, every %s, on breach %s", w.HoldFor(), w.Every(), w.Breach())
	}
	if got := f.Spec.Waves[0].Breach(); got != fleet.RollbackWave {
		t.Errorf("the default onBreach is %s", got)
	}
}

// base is a valid fleet; each bad case edits it.
const base = `apiVersion: bgrender.io/v1alpha1
kind: Fleet
metadata:
  name: shop
spec:
  repo: https://git.example.com/gitops.git
  targets:
    - name: canary
      path: canary/shop
      labels: {tier: canary}
    - name: eu
      path: eu/shop
      labels: {region: eu}
  waves:
    - name: first
      targets: [canary]
    - name: second
      selector: {matchLabels: {region: eu}}
`

// TestLoadRefuses: each mistake is bad input (exit 2) naming the file,
// the line and the field.
func TestLoadRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ from, to, want string }{
		"a target in two waves": {"targets: [canary]", "targets: [canary, eu]",
			"fleet.yaml:18: spec.waves[1].selector: target \"eu\" is in two waves: first and second"},
		"an unknown target": {"targets: [canary]", "targets: [canary, asia]",
			"fleet.yaml:16: spec.waves[0].targets[1]: unknown target \"asia\" (the targets are canary, eu)"},
		"an empty wave": {"targets: [canary]", "targets: []",
			"fleet.yaml:15: spec.waves[0]: an empty wave"},
		"a selector that selects nothing": {"region: eu}}", "region: us}}",
			"fleet.yaml:18: spec.waves[1].selector: an empty wave: no target has the labels region=us"},
		"a duplicate key": {"      path: eu/shop\n", "      path: eu/shop\n      path: eu/web\n",
			"fleet.yaml:13: spec.targets[1].path: duplicate key (first defined on line 12)"},
		"an unknown field": {"      path: eu/shop\n", "      paht: eu/shop\n",
			"fleet.yaml:12: spec.targets[1].paht: unknown field"},
		"a target in no wave": {"      labels: {region: eu}\n", "      labels: {region: asia}\n",
			"fleet.yaml:11: spec.targets[1].name: target \"eu\" is in no wave"},
		"a bad onBreach": {"      targets: [canary]\n", "      targets: [canary]\n      onBreach: rollback\n",
			"fleet.yaml:17: spec.waves[0].onBreach: \"rollback\": want rollback-wave, rollback-all or halt"},
		"a bad hold": {"      targets: [canary]\n", "      targets: [canary]\n      hold: 5 minutes\n",
			"fleet.yaml:17: spec.waves[0].hold: \"5 minutes\" is not a duration"},
		"two targets of one name": {"name: eu\n", "name: canary\n",
			"fleet.yaml:11: spec.targets[1].name: target \"canary\" is named twice"},
		"no repository": {"  repo: https://git.example.com/gitops.git\n", "",
			"fleet.yaml:7: spec.targets[0].repo: no repository"},
		"a path outside the repository": {"path: eu/shop", "path: ../shop",
			"fleet.yaml:12: spec.targets[1].path: \"../shop\": name the app folder inside the repository"},
		"a bad reconcile ref": {"      path: eu/shop\n", "      path: eu/shop\n      reconcile: [deployment/x/y]\n",
			"fleet.yaml:13: spec.targets[1].reconcile[0]:"},
		"names and a selector": {"      targets: [canary]\n", "      targets: [canary]\n      selector: {matchLabels: {tier: canary}}\n",
			"fleet.yaml:17: spec.waves[0].selector: a wave names its targets or selects them, not both"},
		"another kind": {"kind: Fleet", "kind: BlueGreenApp", "fleet.yaml:2: kind: expected Fleet, got \"BlueGreenApp\""},
		"a tab":        {"  name: shop", "\tname: shop", "fleet.yaml:4: tab character in indentation"},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(base, tc.from) {
				t.Fatalf("the base has no %q", tc.from)
			}
			_, err := fleet.Load("fleet.yaml", []byte(strings.Replace(base, tc.from, tc.to, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			if code := exitcode.Of(err); code != exitcode.Invalid {
				t.Errorf("exit code %d, want 2: %v", code, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// TestCheckContexts: a context the kubeconfig lacks, or a kubeconfig
// that is not there, is bad input at the field that names it; a
// kubeconfig is found relative to the fleet file.
func TestCheckContexts(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {}
contexts:
- name: canary
  context: {cluster: one, user: u}
- name: eu
  context: {cluster: one, user: u}
`
	if err := os.WriteFile(filepath.Join(dir, "clusters.yaml"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "fleet.yaml")
	withContexts := strings.Replace(base, "  targets:\n", "  kubeconfig: clusters.yaml\n  targets:\n", 1)
	withContexts = strings.Replace(withContexts, "      path: canary/shop\n", "      path: canary/shop\n      context: canary\n", 1)
	for name, tc := range map[string]struct{ doc, want string }{
		"known":        {strings.Replace(withContexts, "      path: eu/shop\n", "      path: eu/shop\n      context: eu\n", 1), ""},
		"unknown":      {strings.Replace(withContexts, "      path: eu/shop\n", "      path: eu/shop\n      context: asia\n", 1), ":15: spec.targets[1].context: context \"asia\" does not exist in the kubeconfig " + filepath.Join(dir, "clusters.yaml")},
		"no such file": {strings.Replace(withContexts, "clusters.yaml", "missing.yaml", 1), ":7: spec.kubeconfig: kubeconfig " + filepath.Join(dir, "missing.yaml") + ": no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := fleet.Load(file, []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckContexts()
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "":
				if o := f.Cluster(&f.Spec.Targets[1]); o.Context != "eu" || o.Kubeconfig != filepath.Join(dir, "clusters.yaml") {
					t.Errorf("cluster options %+v", o)
				}
			case err == nil:
				t.Fatal("accepted")
			case exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), file+tc.want):
				t.Errorf("exit %d: %v\nwant %s%s", exitcode.Of(err), err, file, tc.want)
			}
		})
	}
}

// TestSchema checks the fleet file's schema with a real JSON Schema
// validator: the example passes, the mistakes it can see are refused.
func TestSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(fleet.JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(fleet.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(fleet.SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	validate := func(text string) error {
		var v any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Fatal(err)
		}
		return sch.Validate(v)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"the example": string(data), "the base": base} {
		if err := validate(text); err != nil {
			t.Errorf("%s does not validate: %v", name, err)
		}
	}
	for name, text := range map[string]string{
		"an unknown field":   strings.Replace(base, "path: eu/shop", "paht: eu/shop", 1),
		"an empty wave":      strings.Replace(base, "targets: [canary]", "targets: []", 1),
		"names and selector": strings.Replace(base, "      targets: [canary]\n", "      targets: [canary]\n      selector: {matchLabels: {tier: canary}}\n", 1),
		"a bad onBreach":     strings.Replace(base, "      targets: [canary]\n", "      targets: [canary]\n      onBreach: rollback\n", 1),
		"a bad hold":         strings.Replace(base, "      targets: [canary]\n", "      targets: [canary]\n      hold: 5 minutes\n", 1),
		"another kind":       strings.Replace(base, "kind: Fleet", "kind: BlueGreenApp", 1),
	} {
		if validate(text) == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}
