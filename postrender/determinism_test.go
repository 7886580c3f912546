package postrender_test

import (
	"context"
	"strings"
	"testing"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/spec"
)

// sameError runs the post-renderer several times and wants one error,
// containing want, every time.
func sameError(t *testing.T, in string, opts postrender.Options, want string) {
	t.Helper()
	var first string
	for i := 0; i < 50; i++ {
		_, err := postrender.Run(context.Background(), []byte(in), opts)
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
			if !strings.Contains(first, want) {
				t.Fatalf("error %q lacks %q", first, want)
			}
		} else if err.Error() != first {
			t.Fatalf("the error changed between runs:\n%s\n%s", first, err)
		}
	}
}

// TestWeightErrorsAreDeterministic: of two Services whose per-color
// copies --weight cannot add, the error names the same one every run.
func TestWeightErrorsAreDeterministic(t *testing.T) {
	long := strings.Repeat("x", 58)
	var in strings.Builder
	for _, app := range []string{"a", "b"} {
		svc := app + long
		in.WriteString(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + app + `}
spec:
  selector: {matchLabels: {app: ` + app + `}}
  template: {metadata: {labels: {app: ` + app + `}}}
---
apiVersion: v1
kind: Service
metadata: {name: ` + svc + `}
spec: {selector: {app: ` + app + `}, ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ` + app + `}
spec:
  rules:
    - backendRefs: [{name: ` + svc + `, port: 80}]
`)
	}
	w := int32(10)
	sameError(t, in.String(), postrender.Options{Weight: &w}, "Service a"+long+": the per-color Service")
}

// TestKeptMismatchIsDeterministic: when the kept color's pods lack two
// labels that the Service now selects, the error names the same one
// every run.
func TestKeptMismatchIsDeterministic(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web, x: "1", y: "1"}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web, x: "1", y: "1"}, ports: [{port: 80}]}
`
	prev := prevDeployments{"/web-blue": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-blue}\nspec:\n  selector: {matchLabels: {app: web, bgrender.io/color: blue}}\n  template: {metadata: {labels: {app: web, bgrender.io/color: blue}}}\n"}
	sameError(t, in, postrender.Options{Previous: prev, Active: spec.Blue}, "lack the label x=1")
}

// prevDeployments is a previous state of Deployments by namespace/name.
type prevDeployments map[string]string

func (p prevDeployments) Deployment(_ context.Context, ns, name string) (*kyaml.RNode, error) {
	if s, ok := p[ns+"/"+name]; ok {
		return kyaml.Parse(s)
	}
	return nil, nil
}

func (p prevDeployments) ActiveColor(context.Context, string, string) (spec.Color, error) {
	return "", nil
}
