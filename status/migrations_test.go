package status_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/spec"
	"github.com/bgrender/bgrender/status"
)

// createExample creates the objects of examples/<name>/app.yaml in ns on
// srv, blue live with 2 ready pods, and returns the app.
func createExample(t *testing.T, ctx context.Context, srv *kubetest.Server, ns, name string) *spec.BlueGreenApp {
	t.Helper()
	data, err := os.ReadFile("../examples/" + name + "/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load("app.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	apps[0].Metadata.Namespace = ns
	if err := apptest.Create(ctx, srv, apps[0], mustSpec(t, "plain", ns, 2)); err != nil {
		t.Fatal(err)
	}
	return apps[0]
}

// TestMigrations: status lists the app's migration Jobs (the expand Job
// of each image and the contract's), each with its color, image and how
// it ended, and the image the schema was contracted for, read from the
// live Service; an app without migrations shows none.
func TestMigrations(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "status-migrations", nil)
	specApp := createExample(t, ctx, srv, ns, "migrations")
	// No Job controller here: the test writes the conditions it would.
	jobs := srv.Dynamic().Resource(status.Jobs).Namespace(ns)
	list, err := jobs.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("%v: %d Jobs, want 3", err, len(list.Items))
	}
	now := metav1.Now()
	for _, u := range list.Items {
		st := batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
		}}
		if u.GetAnnotations()["bgrender.io/image"] == specApp.Spec.Green.Image {
			st = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
			}}
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
		if err != nil {
			t.Fatal(err)
		}
		u.Object["status"] = m
		if _, err := jobs.UpdateStatus(ctx, &u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	r := newReader(t, srv.RESTConfig(), ns)
	app, err := r.Get(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if app.Contracted != "registry.example.com/shop/orders:1.4.0" || len(app.Migrations) != 3 {
		t.Fatalf("contracted %q, migrations %+v", app.Contracted, app.Migrations)
	}
	var out bytes.Buffer
	if err := status.WriteApp(&out, app); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"schema: contracted for registry.example.com/shop/orders:1.4.0",
		"MIGRATION  JOB                         COLOR  IMAGE                                   STATUS",
		"expand     orders-expand-0a57af078b    blue   registry.example.com/shop/orders:1.4.0  succeeded",
		"expand     orders-expand-72f604c497    green  registry.example.com/shop/orders:1.5.0  failed",
		"contract   orders-contract-8a5c288078  blue   registry.example.com/shop/orders:1.4.0  succeeded",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q in:\n%s", line, out.String())
		}
	}

	plain, err := r.Get(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Migrations != nil || plain.Contracted != "" {
		t.Errorf("an app without migrations shows %+v, %q", plain.Migrations, plain.Contracted)
	}
}
