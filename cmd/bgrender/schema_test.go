package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/goldenfile"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/spec"
)

// schemaFile is the schema that the examples' yaml-language-server
// modelines point at; `bgrender schema` must print exactly it.
const schemaFile = "../../schema/bluegreenapp.schema.json"

func TestSchemaFileIsCurrent(t *testing.T) {
	res := runCLI(t, "", "schema")
	if res.code != 0 {
		t.Fatal(res.stderr)
	}
	if goldenfile.Update() {
		if err := os.WriteFile(schemaFile, []byte(res.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, []byte(res.stdout)) {
		t.Errorf("%s is out of date: run go test ./cmd/bgrender -update", schemaFile)
	}
}

// TestSchemaAcceptsExamplesAndRejectsMistakes checks the schema with a real
// JSON Schema validator, as an editor would use it.
func TestSchemaAcceptsExamplesAndRejectsMistakes(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec.JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(spec.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(spec.SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	check := func(name string, data []byte) error {
		raw, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(v)
	}
	paths, _ := filepath.Glob(filepath.Join(examplesDir, "*", "app.yaml"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(p, data); err != nil {
			t.Errorf("%s does not validate against the schema: %v", p, err)
		}
	}
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(base, "  replicas: 2", "  replicaz: 2", 1),
		"bad color":     strings.Replace(base, "active: blue", "active: red", 1),
		"string port":   strings.Replace(base, "containerPort: 8080", `containerPort: "8080"`, 1),
		"wrong kind":    strings.Replace(base, "kind: BlueGreenApp", "kind: App", 1),
		"unknown gate":  base + "  gates: {canary: {}}\n",
		"gate field":    base + "  gates: {rollout: {timout: 5m}}\n",
		"zero count":    base + "  gates: {errorRate: {prometheusURL: \"http://p:9090\", maxPercent: 1, count: 0}}\n",
		"noData":        base + "  gates: {errorRate: {prometheusURL: \"http://p:9090\", maxPercent: 1, noData: skip}}\n",
		"maxPercent 0":  base + "  gates: {errorRate: {prometheusURL: \"http://p:9090\", maxPercent: 0}}\n",
		"no URL":        base + "  gates: {errorRate: {maxPercent: 1}}\n",
		"window":        base + "  gates: {errorRate: {prometheusURL: \"http://p:9090\", maxPercent: 1, window: 1 minute}}\n",
		"no paths":      base + "  gates: {warmUp: {paths: []}}\n",
		"min 0":         base + "  autoscaling: {minReplicas: 0, maxReplicas: 3}\n",
		"no max":        base + "  autoscaling: {minReplicas: 2}\n",
		"metric type":   base + "  autoscaling: {maxReplicas: 3, metrics: [{type: Cpu}]}\n",
		"metric field":  base + "  autoscaling: {maxReplicas: 3, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilisation: 50}}}]}\n",
	} {
		if err := check(name, []byte(bad)); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}
