package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rolloutSpecs are the examples and the gated spec of testdata/rollouts.
func rolloutSpecs(t *testing.T) map[string]string {
	t.Helper()
	out := examples(t)
	out["gates"] = filepath.Join("..", "..", "testdata", "rollouts", "gates.yaml")
	return out
}

func TestRenderArgoRolloutsGolden(t *testing.T) {
	for name, path := range rolloutSpecs(t) {
		t.Run(name, func(t *testing.T) {
			res := runCLI(t, "", "render", "--format", "argo-rollouts", path)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			golden(t, filepath.Join("argo-rollouts", name+".yaml"), []byte(res.stdout))
			if again := runCLI(t, "", "render", "--format", "argo-rollouts", path); again.stdout != res.stdout {
				t.Errorf("a second render differs from the first")
			}
			for _, want := range []string{"kind: Rollout\n", "activeService: ", "autoPromotionEnabled: false\n"} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("no %q in the output", want)
				}
			}
			if strings.Contains(res.stdout, "kind: Deployment\n") {
				t.Errorf("a Deployment in the Rollout format")
			}
			// A spec with traffic weights is rendered without them, and says so.
			if hasTraffic := strings.Contains(mustRead(t, path), "\n  traffic:\n"); hasTraffic != strings.Contains(res.stderr, "spec.traffic is not rendered") {
				t.Errorf("traffic warning: %q", res.stderr)
			}

			js := runCLI(t, "", "render", "--format", "argo-rollouts", "-o", "json", path)
			var list struct{ Items []map[string]any }
			if js.code != 0 || json.Unmarshal([]byte(js.stdout), &list) != nil || len(list.Items) != strings.Count(res.stdout, "\nkind: ")+boolInt(strings.HasPrefix(res.stdout, "kind: ")) {
				t.Errorf("-o json: exit %d, %d items", js.code, len(list.Items))
			}

			dir := filepath.Join(t.TempDir(), "out")
			if d := runCLI(t, "", "render", "--format", "argo-rollouts", path, "--output-dir", dir); d.code != 0 || d.stdout != "" {
				t.Fatalf("--output-dir: exit %d, stdout %q, stderr %q", d.code, d.stdout, d.stderr)
			}
			if got := concatResources(t, dir); got != res.stdout {
				t.Errorf("the files of --output-dir differ from the stream output")
			}
			if _, err := os.Stat(filepath.Join(dir, "rollout-"+appName(t, res.stdout)+".yaml")); err != nil {
				t.Errorf("no Rollout file: %v", err)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// appName is the name of the Rollout in a rendered stream.
func appName(t *testing.T, stream string) string {
	t.Helper()
	doc := stream[strings.Index(stream, "kind: Rollout\n"):]
	i := strings.Index(doc, "\n  name: ")
	if i < 0 {
		t.Fatal("no Rollout name")
	}
	return strings.SplitN(doc[i+len("\n  name: "):], "\n", 2)[0]
}

func TestRenderFormatUnknown(t *testing.T) {
	res := runCLI(t, "", "render", "--format", "helm", examples(t)["seed"])
	if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, `--format "helm": expected deployments or argo-rollouts`) {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

// TestImportArticle imports the article's Rollout with its Services and
// the success-rate template: the spec on stdout and the list of what is
// not mapped on stderr are golden files, and the spec is valid.
func TestImportArticle(t *testing.T) {
	dir := filepath.Join(examplesDir, "argo-rollouts")
	files := []string{filepath.Join(dir, "rollout.yaml"), filepath.Join(dir, "services.yaml"), filepath.Join(dir, "analysis-template.yaml")}
	res := runCLI(t, "", append([]string{"import"}, files...)...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	golden(t, filepath.Join("argo-rollouts", "import-article.yaml"), []byte(res.stdout))
	golden(t, filepath.Join("argo-rollouts", "import-article.stderr"), []byte(strings.ReplaceAll(res.stderr, examplesDir, "examples")))
	if v := runCLI(t, res.stdout, "validate", "-"); v.code != 0 {
		t.Errorf("the imported spec does not validate: %s", v.stderr)
	}
	// One multi-document file is the same input as three files.
	var all []string
	for _, f := range files {
		all = append(all, mustRead(t, f))
	}
	multi := runCLI(t, strings.Join(all, "---\n"), "import", "-")
	if multi.code != 0 || multi.stdout != res.stdout {
		t.Errorf("a multi-document input imports differently: exit %d\n%s", multi.code, multi.stderr)
	}
}

// TestImportRoundTrip: the CLI's import of the CLI's render gives a spec
// that renders the same Rollout.
func TestImportRoundTrip(t *testing.T) {
	path := rolloutSpecs(t)["gates"]
	rendered := runCLI(t, "", "render", "--format", "argo-rollouts", path)
	imported := runCLI(t, rendered.stdout, "import", "-")
	if imported.code != 0 {
		t.Fatalf("import: exit %d: %s", imported.code, imported.stderr)
	}
	again := runCLI(t, imported.stdout, "render", "--format", "argo-rollouts", "-")
	if again.stdout != rendered.stdout {
		t.Errorf("render(import(render(gates))) differs from render(gates)")
	}
}

const goodRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    blueGreen:
      activeService: web
      previewService: web-preview
      autoPromotionEnabled: false
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: example/web:1.0.0
        ports:
        - containerPort: 8080
`

func TestImportBadInput(t *testing.T) {
	if res := runCLI(t, goodRollout, "import", "-"); res.code != 0 {
		t.Fatalf("the good Rollout does not import: %s", res.stderr)
	}
	for _, tc := range []struct {
		name, input, want string
	}{
		{"canary", strings.Replace(goodRollout, "    blueGreen:\n      activeService: web\n      previewService: web-preview\n      autoPromotionEnabled: false\n", "    canary:\n      steps: [{setWeight: 20}]\n", 1),
			"<stdin>:10: spec.strategy.canary: a canary strategy cannot be imported"},
		{"workloadRef", strings.Replace(goodRollout, "  template:\n", "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  template:\n", 1),
			"<stdin>:14: spec.workloadRef: the Rollout takes its pods from Deployment web"},
		{"wrong type", strings.Replace(goodRollout, "replicas: 2", "replicas: two", 1),
			"<stdin>:6: spec.replicas: expected int32, got string"},
		{"wrong type in a list", strings.Replace(goodRollout, "containerPort: 8080", "containerPort: http", 1),
			"<stdin>:22: spec.template.spec.containers[0].ports[0].containerPort: expected int32, got string"},
		{"unknown pod field", strings.Replace(goodRollout, "image: example", "imagee: example", 1),
			"<stdin>:20: spec.template.spec.containers[0].imagee: unknown field"},
		{"no strategy", strings.Replace(goodRollout, "    blueGreen:\n      activeService: web\n      previewService: web-preview\n      autoPromotionEnabled: false\n", "    {}\n", 1),
			"spec.strategy: missing blueGreen"},
		{"no active Service", strings.Replace(goodRollout, "      activeService: web\n", "", 1),
			"spec.strategy.blueGreen.activeService: missing"},
		{"syntax", strings.Replace(goodRollout, "  replicas: 2\n", "  replicas: [2\n", 1),
			"<stdin>:6: invalid YAML"},
		{"duplicate key", strings.Replace(goodRollout, "        image: example/web:1.0.0\n", "        image: example/web:1.0.0\n        image: example/web:2.0.0\n", 1),
			"<stdin>:21: spec.template.spec.containers[0].image: duplicate key (first defined on line 20)"},
		{"no Rollout", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
			"no Rollout (argoproj.io/v1alpha1) found"},
		{"two Rollouts", goodRollout + "---\n" + strings.Replace(goodRollout, "name: web\n", "name: api\n", 1),
			"a second Rollout (api)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, tc.input, "import", "-")
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) || strings.Contains(res.stderr, "goroutine") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
	if res := runCLI(t, "", "import"); res.code != 2 || !strings.Contains(res.stderr, "no input") {
		t.Errorf("import without files: exit %d, %s", res.code, res.stderr)
	}
	if res := runCLI(t, "", "import", filepath.Join(t.TempDir(), "missing.yaml")); res.code != 2 || !strings.Contains(res.stderr, "missing.yaml") {
		t.Errorf("import of a missing file: exit %d, %s", res.code, res.stderr)
	}
}

// TestImportNotes: what the spec cannot carry is listed with file, line
// and field, and the import still succeeds.
func TestImportNotes(t *testing.T) {
	in := strings.Replace(goodRollout, "      autoPromotionEnabled: false\n", "      autoPromotionSeconds: 30\n      scaleDownDelaySeconds: 600\n      antiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: {weight: 1}}\n", 1)
	in = strings.Replace(in, "      containers:\n", "      hostNetwork: true\n      containers:\n", 1)
	res := runCLI(t, in, "import", "-")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		"<stdin>:13: spec.strategy.blueGreen.autoPromotionSeconds: not mapped",
		"<stdin>:14: spec.strategy.blueGreen.scaleDownDelaySeconds: not mapped",
		"<stdin>:15: spec.strategy.blueGreen.antiAffinity: not mapped",
		"autoPromotionEnabled is true",
		"<stdin>:20: spec.template.spec.hostNetwork: not mapped",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}
