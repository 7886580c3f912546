package status_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/status"
)

// TestAutoscalers: status shows each color's HPA, current and desired
// replicas as the HPA reports them and its bounds (blue live at 3..12,
// green idle at 2..12), as the JSON and the table; an app without HPAs
// shows none.
func TestAutoscalers(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "status-hpa", nil)
	createExample(t, ctx, srv, ns, "autoscaling")
	// The HPA controller's report for blue, which the load has grown to 5.
	hpas := srv.Dynamic().Resource(status.HorizontalPodAutoscalers).Namespace(ns)
	u, err := hpas.Get(ctx, "catalog-blue", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedMap(u.Object, map[string]any{"currentReplicas": int64(4), "desiredReplicas": int64(5)}, "status"); err != nil {
		t.Fatal(err)
	}
	if _, err := hpas.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := newReader(t, srv.RESTConfig(), ns)
	app, err := r.Get(ctx, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]status.Autoscaler{
		"blue":  {Name: "catalog-blue", Current: 4, Desired: 5, Min: 3, Max: 12},
		"green": {Name: "catalog-green", Current: 0, Desired: 0, Min: 2, Max: 12},
	}
	for _, c := range app.Colors {
		if c.Autoscaler == nil || *c.Autoscaler != want[c.Color] {
			t.Errorf("%s: autoscaler %+v, want %+v", c.Color, c.Autoscaler, want[c.Color])
		}
	}
	var out bytes.Buffer
	if err := status.WriteApp(&out, app); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"COLOR  AUTOSCALER     CURRENT  DESIRED  MIN  MAX", "blue   catalog-blue   4        5        3    12", "green  catalog-green  0        0        2    12"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q in:\n%s", line, out.String())
		}
	}

	plain, err := r.Get(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := status.WriteApp(&out, plain); err != nil {
		t.Fatal(err)
	}
	if plain.Colors[0].Autoscaler != nil || strings.Contains(out.String(), "AUTOSCALER") {
		t.Errorf("an app without HPAs shows one:\n%s", out.String())
	}
}
