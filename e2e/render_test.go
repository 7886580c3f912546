package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

// renderExample loads and renders one bundled example.
func renderExample(t *testing.T, path string) []render.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return render.Render(apps)
}

// TestExamplesAcceptedByAPIServer applies every example's output with
// server-side apply, dryRun=All and strict field validation, in namespaces
// that warn on anything below the restricted Pod Security Standard, and
// wants no error and zero warnings.
func TestExamplesAcceptedByAPIServer(t *testing.T) {
	srv := kubetest.Require(t)
	paths, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("examples: %v (%d found)", err, len(paths))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created := map[string]bool{}
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			objs := renderExample(t, path)
			requireGatewayAPIFor(t, srv, objs)
			var items []*unstructured.Unstructured
			for _, o := range objs {
				m, err := render.Manifest(o)
				if err != nil {
					t.Fatal(err)
				}
				u := &unstructured.Unstructured{Object: m}
				ns := u.GetNamespace()
				if ns == "" {
					ns = "default-" + name
					u.SetNamespace(ns)
				}
				if !created[ns] {
					labels := map[string]string{
						"pod-security.kubernetes.io/warn":    "restricted",
						"pod-security.kubernetes.io/enforce": "restricted",
						"pod-security.kubernetes.io/audit":   "restricted",
					}
					if err := srv.CreateNamespace(ctx, ns, labels); err != nil {
						t.Fatal(err)
					}
					created[ns] = true
				}
				items = append(items, u)
			}
			warnings, err := srv.ApplyDryRun(ctx, items)
			if err != nil {
				t.Fatalf("the API server rejected the rendered %s example: %v", name, err)
			}
			if len(warnings) > 0 {
				t.Errorf("the API server warned about the rendered %s example:\n%s", name, strings.Join(warnings, "\n"))
			}
			if len(items) < 7 {
				t.Errorf("only %d objects were applied", len(items))
			}
		})
	}
}

// TestInsecureOverrideWouldWarn proves that the Pod Security check above
// can fail: the same Deployment with a root container draws warnings.
func TestInsecureOverrideWouldWarn(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs := renderExample(t, "../examples/minimal/app.yaml")
	ns := "psa-negative"
	if err := srv.CreateNamespace(ctx, ns, map[string]string{"pod-security.kubernetes.io/warn": "restricted"}); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetObjectKind().GroupVersionKind().Kind != "Deployment" {
			continue
		}
		m, err := render.Manifest(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetNamespace(ns)
		if err := unstructured.SetNestedField(u.Object, true, "spec", "template", "spec", "hostNetwork"); err != nil {
			t.Fatal(err)
		}
		warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{u})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) == 0 {
			t.Fatalf("a Deployment with hostNetwork drew no Pod Security warning: the check is not working")
		}
		return
	}
	t.Fatal("no Deployment rendered")
}
