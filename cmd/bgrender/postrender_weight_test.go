package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// weightChart is a Deployment, its Service and an HTTPRoute to it.
const weightChart = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: public}]
  rules:
    - matches: [{headers: [{name: x-test, value: "1"}]}]
      backendRefs: [{name: other, port: 80}]
    - backendRefs: [{name: web, port: 80}]
`

// TestPostrenderWeight: --weight splits the rule whose only backend is the
// transformed Service between per-color Services, the idle color getting
// the weight (also after --active green); leaves other rules alone; and is
// exit 2 with nothing on stdout for what it cannot split: a rule that
// shares the Service with another backend, an Ingress to the Service, a
// chart without a route, a weight outside 0–100. The config file takes it
// too.
func TestPostrenderWeight(t *testing.T) {
	res := runCLI(t, weightChart, "postrender", "--weight", "30")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		"backendRefs: [{name: other, port: 80}]",
		`{name: web-blue, port: 80, group: "", kind: Service, weight: 70}, {name: web-green, port: 80, group: "", kind: Service, weight: 30}`,
		"name: web-blue", "name: web-green", "selector: {app: web, bgrender.io/color: green}",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
	if again := runCLI(t, weightChart, "postrender", "--weight", "30"); again.stdout != res.stdout {
		t.Error("the same input gave another output")
	}
	flipped := runCLI(t, weightChart, "postrender", "--weight", "10", "--active", "green")
	if !strings.Contains(flipped.stdout, `{name: web-green, port: 80, group: "", kind: Service, weight: 90}, {name: web-blue, port: 80, group: "", kind: Service, weight: 10}`) {
		t.Errorf("--active green:\n%s", flipped.stdout)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("apiVersion: bgrender.io/v1alpha1\nkind: PostRenderConfig\nweight: 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if byFile := runCLI(t, weightChart, "postrender", "--config", cfg); byFile.code != 0 || byFile.stdout != res.stdout {
		t.Errorf("weight from the config file: exit %d %s", byFile.code, byFile.stderr)
	}

	// A GRPCRoute is split as an HTTPRoute is; a backendRef that names the
	// route's own namespace is the same Service.
	grpc := strings.Replace(weightChart, "kind: HTTPRoute", "kind: GRPCRoute", 1)
	if res := runCLI(t, grpc, "postrender", "--weight", "30"); res.code != 0 || !strings.Contains(res.stdout, "name: web-green, port: 80, group: \"\", kind: Service, weight: 30") {
		t.Errorf("a GRPCRoute: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	sameNS := strings.Replace(strings.Replace(weightChart, "metadata: {name: web}\nspec:\n  parentRefs", "metadata: {name: web, namespace: shop}\nspec:\n  parentRefs", 1),
		"[{name: web, port: 80}]", "[{name: web, namespace: shop, port: 80}]", 1)
	if res := runCLI(t, sameNS, "postrender", "--weight", "30", "--namespace", "shop"); res.code != 0 || !strings.Contains(res.stdout, "{name: web-green, namespace: shop, port: 80") {
		t.Errorf("a backendRef naming the route's namespace: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	ingress := "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec: {rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}\n"
	for _, c := range []struct{ name, chart, weight, want string }{
		{"shared rule", strings.Replace(weightChart, "[{name: web, port: 80}]", "[{name: web, port: 80}, {name: other, port: 80}]", 1), "30", "beside other backends"},
		{"ingress", weightChart + ingress, "30", "an Ingress cannot carry --weight"},
		{"nothing to split", strings.Replace(weightChart, "[{name: web, port: 80}]", "[{name: other, port: 80}]", 1), "30", "nothing to split"},
		{"out of range", weightChart, "101", "want a percentage, 0 to 100"},
		{"a backend the chart turned off", strings.Replace(weightChart, "[{name: web, port: 80}]", "[{name: web, port: 80, weight: 0}]", 1), "30", "nothing to split"},
		{"tcp route", weightChart + "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: t}\nspec: {rules: [{backendRefs: [{name: web, port: 80}]}]}\n", "30", "not a TCPRoute"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := runCLI(t, c.chart, "postrender", "--weight", c.weight)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %s; want exit 2 with %q", res.code, res.stdout, res.stderr, c.want)
			}
		})
	}
	// Without --weight, routes pass through.
	if plain := runCLI(t, weightChart, "postrender"); !strings.Contains(plain.stdout, "- backendRefs: [{name: web, port: 80}]") {
		t.Errorf("without --weight the route changed:\n%s", plain.stdout)
	}
}
