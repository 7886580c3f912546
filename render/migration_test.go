package render_test

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bgrender/bgrender/internal/testbed/netpol"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func expandJobs(app *spec.BlueGreenApp) map[string]*batchv1.Job {
	out := map[string]*batchv1.Job{}
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if j, ok := o.(*batchv1.Job); ok {
			out[j.Annotations[render.AnnotationImage]] = j
		}
	}
	return out
}

// TestExpandJobNames: one Job per image the colors run, named for the
// image and the pod, so that a new image or a new command is a new Job (a
// Job's template is immutable) and the same spec renders the same name.
func TestExpandJobNames(t *testing.T) {
	app := load(t, "../examples/migrations/app.yaml")[0]
	jobs := expandJobs(app)
	v14, v15 := jobs["registry.example.com/shop/orders:1.4.0"], jobs["registry.example.com/shop/orders:1.5.0"]
	if len(jobs) != 2 || v14 == nil || v15 == nil {
		t.Fatalf("jobs by image: %v", jobs)
	}
	if v14.Labels["bgrender.io/color"] != "blue" || v15.Labels["bgrender.io/color"] != "green" || v15.Labels[render.LabelMigration] != "expand" {
		t.Errorf("labels: 1.4.0 %v, 1.5.0 %v", v14.Labels, v15.Labels)
	}
	if !strings.HasPrefix(v15.Name, "orders-expand-") || len(v15.Name) != len("orders-expand-")+10 || v14.Name == v15.Name {
		t.Errorf("names %s and %s", v14.Name, v15.Name)
	}
	if again := expandJobs(load(t, "../examples/migrations/app.yaml")[0]); again[v15.Annotations[render.AnnotationImage]].Name != v15.Name {
		t.Errorf("a second render names the Job differently")
	}
	if name := render.ExpandJobName(app, spec.Green); name != v15.Name {
		t.Errorf("ExpandJobName(green) = %s, want %s", name, v15.Name)
	}

	// Both colors on one image: one Job, labelled with the live color.
	app.Spec.Green.Image = app.Spec.Blue.Image
	if same := expandJobs(app); len(same) != 1 || same[app.Spec.Blue.Image].Name != v14.Name || same[app.Spec.Blue.Image].Labels["bgrender.io/color"] != "blue" {
		t.Errorf("one image: %v", same)
	}
	// A new command is a new Job for the same image.
	app.Spec.Migrations.Expand.Args = append(app.Spec.Migrations.Expand.Args, "--verbose")
	if changed := expandJobs(app)[app.Spec.Blue.Image]; changed.Name == v14.Name {
		t.Errorf("a new command kept the name %s: an agent would patch the immutable template", changed.Name)
	}
}

// TestExpandJobPod: the Job's pod is the app's (service account,
// restricted security, env and envFrom) but no color's Service,
// Deployment or budget selects it, and it runs once.
func TestExpandJobPod(t *testing.T) {
	app := load(t, "../examples/migrations/app.yaml")[0]
	job := expandJobs(app)[app.Spec.Green.Image]
	pod := job.Spec.Template
	if _, ok := pod.Labels[app.Spec.ColorLabel]; ok {
		t.Errorf("the migration pod carries the color label: %v; the color's Services would route to it", pod.Labels)
	}
	ps := pod.Spec
	c := ps.Containers[0]
	switch {
	case ps.RestartPolicy != "Never" || *job.Spec.BackoffLimit != 0 || *job.Spec.ActiveDeadlineSeconds != 300:
		t.Errorf("restartPolicy %s, backoffLimit %d, deadline %d", ps.RestartPolicy, *job.Spec.BackoffLimit, *job.Spec.ActiveDeadlineSeconds)
	case ps.ServiceAccountName != "orders" || *ps.AutomountServiceAccountToken || !*ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.SeccompProfile == nil:
		t.Errorf("pod security: %+v", ps.SecurityContext)
	case *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL":
		t.Errorf("container security: %+v", c.SecurityContext)
	case c.Image != app.Spec.Green.Image || c.Command[0] != "/app/orders" || c.EnvFrom[0].SecretRef.Name != "orders-db" || c.Env[0].Name != "MIGRATION_LOCK_TIMEOUT":
		t.Errorf("container: %+v", c)
	case len(ps.TopologySpreadConstraints) != 0:
		t.Errorf("topology spread selects the color's pods: %+v", ps.TopologySpreadConstraints)
	}
}

// TestMigrationNetworkPolicy: no pod reaches a migration pod, which serves
// nothing, while the colors' own traffic is as before.
func TestMigrationNetworkPolicy(t *testing.T) {
	app := load(t, "../examples/migrations/app.yaml")[0]
	var policies []*networkingv1.NetworkPolicy
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, p)
		}
	}
	if len(policies) != 3 || policies[2].Name != "orders-migrations" {
		t.Fatalf("policies: %d", len(policies))
	}
	e := netpol.New(policies)
	job := expandJobs(app)[app.Spec.Green.Image]
	migration := netpol.Pod("migration", "shop", "10.244.1.7", job.Spec.Template.Labels)
	green := netpol.Pod("green", "shop", "10.244.1.5", render.SelectorLabels(app, spec.Green))
	port := netpol.Port{Number: 8080, Name: "http", Protocol: "TCP"}
	if e.Allowed(green, migration, port) {
		t.Errorf("green reaches the migration pod")
	}
	contract := render.ContractJobs(app)[0].(*batchv1.Job)
	if e.Allowed(green, netpol.Pod("contract", "shop", "10.244.1.8", contract.Spec.Template.Labels), port) {
		t.Errorf("green reaches the contract pod")
	}
	if !e.Allowed(green, green, port) {
		t.Errorf("green no longer reaches green")
	}
}

// TestContractJob: the contract Job that spec.migrations.contracted
// records renders with the pod of the color that ran it, labelled
// contract; once the pod changes (a new env), the Job it would be is
// another, so it leaves the render rather than run the contract again,
// and the live Service still records the image.
func TestContractJob(t *testing.T) {
	app := load(t, "../examples/migrations/app.yaml")[0]
	contracts := func() []*batchv1.Job {
		var out []*batchv1.Job
		for _, o := range render.ContractJobs(app) {
			out = append(out, o.(*batchv1.Job))
		}
		return out
	}
	jobs := contracts()
	if len(jobs) != 1 {
		t.Fatalf("%d contract Jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if j.Name != "orders-contract-8a5c288078" || j.Labels[render.LabelMigration] != "contract" || j.Labels["bgrender.io/color"] != "blue" ||
		j.Annotations[render.AnnotationImage] != app.Spec.Blue.Image || j.Spec.Template.Spec.Containers[0].Args[2] != "--contract" {
		t.Errorf("contract Job %s: labels %v, annotations %v, args %v", j.Name, j.Labels, j.Annotations, j.Spec.Template.Spec.Containers[0].Args)
	}
	if name := render.ContractJob(app, spec.Blue, app.Spec.Blue.Image).Name; name != j.Name {
		t.Errorf("ContractJob(blue) = %s, want %s", name, j.Name)
	}

	app.Spec.Migrations.Contract.Env = append(app.Spec.Migrations.Contract.Env, corev1.EnvVar{Name: "DRY_RUN", Value: "0"})
	if again := contracts(); len(again) != 0 {
		t.Errorf("a changed contract pod renders %s: the agent would run the contract again", again[0].Name)
	}
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if svc, ok := o.(*corev1.Service); ok && svc.Name == "orders" && svc.Annotations[render.AnnotationContractedImage] != app.Spec.Blue.Image {
			t.Errorf("the live Service's annotations: %v", svc.Annotations)
		}
	}
}
