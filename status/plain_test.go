package status_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/status"
)

// TestGetArticleLayout: the article's hand-written manifests carry no
// bgrender labels; status finds the app by its Service, whose selector
// holds the color, and the Deployments whose pods it selects.
func TestGetArticleLayout(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "status-article", nil)
	for _, f := range []string{"service.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "gitops", "plain", f))
		if err != nil {
			t.Fatal(err)
		}
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatal(err)
		}
		obj.SetNamespace(ns)
		gvr := cluster.Deployments
		if obj.GetKind() == "Service" {
			gvr = cluster.Services
		}
		if _, err := srv.Dynamic().Resource(gvr).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := status.NewReader(srv.RESTConfig(), ns)
	if err != nil {
		t.Fatal(err)
	}
	app, err := r.Get(ctx, "application-service")
	if err != nil {
		t.Fatal(err)
	}
	if app.Live != "blue" || app.ColorLabel != "version" || app.Colors[0].Deployment != "application-blue" || app.Colors[1].Deployment != "application-green" ||
		!app.Colors[0].Found || app.Colors[0].Images[0] != "myapp:v1.2.3" || !app.Colors[0].Live {
		t.Fatalf("app: %+v", app)
	}
	if _, err := r.Get(ctx, "nothing-here"); err == nil {
		t.Fatal("an absent app was found")
	}

	// A preview Service not named <app>-preview (the folder in Git names
	// it, found by its role): read by the name given.
	preview := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "application-preview", "namespace": ns},
		"spec": map[string]any{"selector": map[string]any{"app": "my-application", "version": "green"},
			"ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}},
	}}
	if _, err := srv.Dynamic().Resource(cluster.Services).Namespace(ns).Create(ctx, preview, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	app, err = r.GetWithPreview(ctx, "application-service", "application-preview")
	if err != nil {
		t.Fatal(err)
	}
	if s := app.Services[1]; s.Name != "application-preview" || s.Role != "preview" || !s.Found || s.Selects != "green" {
		t.Fatalf("preview Service: %+v", s)
	}
}
