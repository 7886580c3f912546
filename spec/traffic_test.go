package spec_test

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

func TestDuplicateParentRefs(t *testing.T) {
	const app = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: web, namespace: prod}
spec:
  blue: {image: web:1}
  green: {image: web:1}
  ports: [{containerPort: 8080}]
  traffic:
    gateway:
      parentRefs: [%s]
`
	const dup = "spec.traffic.gateway.parentRefs[1]: names the same Gateway listener as parentRefs[0]"
	tests := []struct {
		refs string
		dup  bool
	}{
		{"{name: gw}, {name: gw}", true},
		{"{name: gw, port: 443}, {name: gw, port: 443}", true},
		{"{name: gw, namespace: infra, sectionName: https, port: 443}, {name: gw, namespace: infra, sectionName: https, port: 443}", true},
		{"{name: gw, port: 443}, {name: gw, port: 80}", false},
		{"{name: gw, port: 443}, {name: gw}", false},
		{"{name: gw, sectionName: a}, {name: gw, sectionName: b}", false},
		{"{name: gw}, {name: gw, namespace: infra}", false},
	}
	for _, tt := range tests {
		_, err := spec.Load("app.yaml", []byte(strings.Replace(app, "%s", tt.refs, 1)))
		got := err != nil && strings.Contains(err.Error(), dup)
		if got != tt.dup {
			t.Errorf("parentRefs [%s]: duplicate reported %v, want %v; errors: %v", tt.refs, got, tt.dup, err)
		}
	}
}

func TestNamespaceRequiredOncePerGatewayNamespace(t *testing.T) {
	_, err := spec.Load("app.yaml", []byte(`apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: web}
spec:
  blue: {image: web:1}
  green: {image: web:1}
  ports: [{containerPort: 8080}]
  traffic:
    gateway:
      parentRefs: [{name: gw, namespace: infra, sectionName: a}, {name: gw, namespace: infra, sectionName: b}, {name: edge, namespace: dmz}]
`))
	if err == nil {
		t.Fatal("a parentRef in another namespace without metadata.namespace passed")
	}
	for ns, want := range map[string]int{"infra": 1, "dmz": 1} {
		msg := "metadata.namespace: required with a parentRef in namespace " + ns + ":"
		if n := strings.Count(err.Error(), msg); n != want {
			t.Errorf("%q reported %d times, want %d:\n%v", msg, n, want, err)
		}
	}
}
