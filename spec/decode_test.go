package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

func TestLoadExamples(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*/app.yaml")
	if len(paths) < 3 {
		t.Fatalf("found %d examples", len(paths))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		apps, err := spec.Load(p, data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(apps) != 1 || apps[0].Source.File != p {
			t.Errorf("%s: %d apps, source %+v", p, len(apps), apps[0].Source)
		}
	}
}

func TestSeedMatchesArticle(t *testing.T) {
	data, err := os.ReadFile("../examples/seed/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load("seed", data)
	if err != nil {
		t.Fatal(err)
	}
	s := apps[0].Spec
	checks := map[string]bool{
		"name":              apps[0].Metadata.Name == "my-application" && apps[0].Metadata.Namespace == "production",
		"3 replicas each":   s.ReplicasOf(spec.Blue) == 3 && s.ReplicasOf(spec.Green) == 3,
		"image":             s.Blue.Image == "myapp:v1.2.3" && s.Green.Image == "myapp:v1.2.3",
		"port 80 to 8080":   s.Ports[0].ServicePort == 80 && s.Ports[0].ContainerPort == 8080,
		"probe":             s.HealthCheck.Path == "/health" && s.HealthCheck.InitialDelaySeconds == 10 && s.HealthCheck.PeriodSeconds == 5,
		"LoadBalancer":      s.Service.Type == "LoadBalancer",
		"ClientIP 300s":     s.Service.SessionAffinity == "ClientIP" && *s.Service.SessionAffinityTimeoutSeconds == 300,
		"color label":       s.ColorLabel == "version",
		"article quota cpu": s.Quota.Hard.Name("requests.cpu", "").String() == "8",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("seed example: %s does not match the article", what)
		}
	}
}

func TestDefaults(t *testing.T) {
	apps, err := spec.Load("min.yaml", []byte(`apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: hello}
spec:
  blue: {image: hello:1}
  green: {image: hello:1}
  ports: [{containerPort: 8080}]
  healthCheck: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := apps[0].Spec
	if s.Active != spec.Blue || s.ColorLabel != "bgrender.io/color" || s.ContainerName != "hello" {
		t.Errorf("active %q, colorLabel %q, containerName %q", s.Active, s.ColorLabel, s.ContainerName)
	}
	if s.Ports[0].Name != "http" || s.Ports[0].ServicePort != 8080 || s.Ports[0].Protocol != "TCP" {
		t.Errorf("port defaults %+v", s.Ports[0])
	}
	if s.HealthCheck.Path != "/health" || s.HealthCheck.Port.StrVal != "http" {
		t.Errorf("health check defaults %+v", s.HealthCheck)
	}
	if *s.Drain.PreStopSleepSeconds != 5 || *s.Drain.TerminationGracePeriodSeconds != 30 || !*s.NetworkPolicy.Enabled {
		t.Errorf("drain/networkPolicy defaults")
	}
	if s.SelectorLabels["app.kubernetes.io/name"] != "hello" {
		t.Errorf("selector labels %v", s.SelectorLabels)
	}
	// Default is idempotent.
	before := *apps[0]
	spec.Default(apps[0])
	if before.Spec.ContainerName != apps[0].Spec.ContainerName || len(before.Spec.Ports) != len(apps[0].Spec.Ports) {
		t.Errorf("Default changed a defaulted app")
	}
}

func TestErrorsAreFieldErrors(t *testing.T) {
	_, err := spec.Load("x.yaml", []byte("apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: a}\nspec: {replicas: nope}\n"))
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one FieldError, got %v", err)
	}
	e := list[0]
	if e.File != "x.yaml" || e.Line != 4 || e.Path != "spec.replicas" {
		t.Errorf("got %+v", e)
	}
	if e.Error() != `x.yaml:4: spec.replicas: expected integer, got string "nope"` {
		t.Errorf("message %q", e.Error())
	}
}

func TestLineNumbersInLaterDocuments(t *testing.T) {
	doc := "apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: a}\nspec:\n  blue: {image: a}\n  green: {image: a}\n  ports: [{containerPort: 80}]\n"
	bad := strings.Replace(doc, "name: a", "name: b", 1) + "  idleReplicas: -2\n"
	_, err := spec.Load("multi.yaml", []byte(doc+"---\n"+bad))
	if err == nil || !strings.HasPrefix(err.Error(), "multi.yaml:16: spec.idleReplicas:") {
		t.Fatalf("got %v", err)
	}
}

func TestSchemaIsValidJSONAndStrict(t *testing.T) {
	s := string(spec.JSONSchema())
	for _, want := range []string{`"additionalProperties": false`, `"const": "bgrender.io/v1alpha1"`, `"enum": [`, `"io.k8s.api.core.v1.EnvVar"`} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s", want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic,
// every error must name the file, and anything it accepts must validate
// the same way twice.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("../examples/*/app.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: a}\nspec: {blue: {image: a}, green: {image: a}, ports: [{containerPort: 1}]}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("\t- x"))
	f.Add([]byte("apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: a, labels: {x: y, x: z}}\nkind: BlueGreenApp\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		apps, err := spec.Load("fuzz.yaml", data)
		if err != nil {
			var list spec.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a located ErrorList: %v", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
			}
			return
		}
		for _, app := range apps {
			if errs := spec.Validate(app); len(errs) > 0 {
				t.Fatalf("an accepted app fails validation: %v", errs)
			}
		}
	})
}
