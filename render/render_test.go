package render_test

import (
	"bytes"
	"k8s.io/apimachinery/pkg/util/intstr"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func load(t testing.TB, path string) []*spec.BlueGreenApp {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return apps
}

func seed(t testing.TB) *spec.BlueGreenApp { return load(t, "../examples/seed/app.yaml")[0] }

func TestDeploymentsDifferOnlyByColor(t *testing.T) {
	app := load(t, "../examples/full/app.yaml")[0]
	objs := render.Deployments(app)
	if len(objs) != 2 {
		t.Fatalf("want 2 Deployments, got %d", len(objs))
	}
	blue, green := objs[0].(*appsv1.Deployment), objs[1].(*appsv1.Deployment)
	if blue.Name != "checkout-blue" || green.Name != "checkout-green" {
		t.Fatalf("names %q %q", blue.Name, green.Name)
	}
	if got := blue.Spec.Template.Labels["bgrender.io/color"]; got != "blue" {
		t.Errorf("blue pod color label %q", got)
	}
	if *blue.Spec.Replicas != 2 || *green.Spec.Replicas != 4 {
		t.Errorf("replicas blue=%d (idle, idleReplicas 2) green=%d (active, 4)", *blue.Spec.Replicas, *green.Spec.Replicas)
	}
	// Make green look like blue in the fields that may differ; the rest must match.
	g := green.DeepCopy()
	g.Name, g.Labels = blue.Name, blue.Labels
	g.Spec.Replicas = blue.Spec.Replicas
	g.Spec.Selector = blue.Spec.Selector
	g.Spec.Template.Labels = blue.Spec.Template.Labels
	g.Spec.Template.Spec.Containers[0].Image = blue.Spec.Template.Spec.Containers[0].Image
	g.Spec.Template.Spec.Containers[0].Env = blue.Spec.Template.Spec.Containers[0].Env
	g.Spec.Template.Spec.TopologySpreadConstraints = blue.Spec.Template.Spec.TopologySpreadConstraints
	if blue.Spec.Template.Spec.PriorityClassName != "shop-preview" || green.Spec.Template.Spec.PriorityClassName != "shop-critical" {
		t.Errorf("priority classes blue %q green %q", blue.Spec.Template.Spec.PriorityClassName, green.Spec.Template.Spec.PriorityClassName)
	}
	g.Spec.Template.Spec.PriorityClassName = blue.Spec.Template.Spec.PriorityClassName
	for _, tsc := range green.Spec.Template.Spec.TopologySpreadConstraints {
		if tsc.LabelSelector.MatchLabels["bgrender.io/color"] != "green" {
			t.Errorf("green spreads %v", tsc.LabelSelector)
		}
	}
	if !equality.Semantic.DeepEqual(g, blue) {
		t.Errorf("blue and green differ in more than color, image, replicas, env and the spread's selector")
	}
	env := blue.Spec.Template.Spec.Containers[0].Env
	if env[len(env)-1].Name != "RELEASE_CHANNEL" || env[len(env)-1].Value != "next" {
		t.Errorf("the color's env is not appended: %+v", env)
	}
}

func TestMergeEnvReplacesByName(t *testing.T) {
	app := seed(t)
	app.Spec.Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}
	app.Spec.Green.Env = []corev1.EnvVar{{Name: "A", Value: "green"}, {Name: "C", Value: "3"}}
	got := render.Deployment(app, spec.Green).Spec.Template.Spec.Containers[0].Env
	want := []corev1.EnvVar{{Name: "A", Value: "green"}, {Name: "B", Value: "2"}, {Name: "C", Value: "3"}}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("env = %+v, want %+v", got, want)
	}
	if blue := render.Deployment(app, spec.Blue).Spec.Template.Spec.Containers[0].Env; len(blue) != 2 {
		t.Errorf("the green override leaked into blue: %+v", blue)
	}
}

func TestPodsAreRestricted(t *testing.T) {
	d := render.Deployment(seed(t), spec.Blue)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	checks := map[string]bool{
		"pod runAsNonRoot":            ptr.Deref(pod.SecurityContext.RunAsNonRoot, false),
		"seccomp RuntimeDefault":      pod.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"no privilege escalation":     !ptr.Deref(c.SecurityContext.AllowPrivilegeEscalation, true),
		"all capabilities dropped":    slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}),
		"read-only root filesystem":   ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false),
		"no service account token":    !ptr.Deref(pod.AutomountServiceAccountToken, true),
		"preStop sleep for draining":  c.Lifecycle != nil && c.Lifecycle.PreStop.Sleep.Seconds == 5,
		"grace period":                ptr.Deref(pod.TerminationGracePeriodSeconds, 0) == 30,
		"readiness probe on the port": c.ReadinessProbe.HTTPGet.Path == "/health" && c.ReadinessProbe.HTTPGet.Port.StrVal == "http",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: not set", what)
		}
	}
}

func TestServicesSelectActiveAndIdle(t *testing.T) {
	for _, active := range spec.Colors {
		app := seed(t)
		app.Spec.Active = active
		objs := render.Services(app)
		main, preview := objs[0].(*corev1.Service), objs[1].(*corev1.Service)
		if main.Name != "my-application" || preview.Name != "my-application-preview" {
			t.Fatalf("names %q %q", main.Name, preview.Name)
		}
		if main.Spec.Selector["version"] != string(active) || preview.Spec.Selector["version"] != string(active.Other()) {
			t.Errorf("active %s: main selects %v, preview selects %v", active, main.Spec.Selector, preview.Spec.Selector)
		}
		if main.Annotations[render.AnnotationActiveColor] != string(active) || main.Annotations[render.AnnotationPreviousColor] != string(active.Other()) {
			t.Errorf("color annotations %v", main.Annotations)
		}
		if main.Spec.Type != corev1.ServiceTypeLoadBalancer || preview.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("types %s %s", main.Spec.Type, preview.Spec.Type)
		}
		if *main.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != 300 {
			t.Errorf("session affinity timeout")
		}
	}
}

func TestNetworkPoliciesIsolateColors(t *testing.T) {
	app := load(t, "../examples/full/app.yaml")[0]
	objs := render.NetworkPolicies(app)
	if len(objs) != 2 {
		t.Fatalf("want one policy per color, got %d", len(objs))
	}
	for i, c := range spec.Colors {
		np := objs[i].(*networkingv1.NetworkPolicy)
		if np.Spec.PodSelector.MatchLabels["bgrender.io/color"] != string(c) {
			t.Errorf("%s policy selects %v", c, np.Spec.PodSelector.MatchLabels)
		}
		// Every pod peer in ingress and egress is either of the same color
		// or one of the user's allowFrom peers; never the other color.
		var peers []networkingv1.NetworkPolicyPeer
		for _, r := range np.Spec.Ingress {
			peers = append(peers, r.From...)
		}
		for _, r := range np.Spec.Egress {
			peers = append(peers, r.To...)
		}
		for _, p := range peers {
			if p.PodSelector != nil && p.PodSelector.MatchLabels["bgrender.io/color"] == string(c.Other()) {
				t.Errorf("%s policy admits the other color", c)
			}
		}
		// Standard mode: one rule on the two app ports, from the same
		// color, the Ingress controller, Prometheus, the apiServer peer and the
		// allowFrom peer
		// (no outside clients: the Service is ClusterIP).
		if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 5 || len(np.Spec.Ingress[0].Ports) != 2 {
			t.Errorf("%s: want one rule from 5 peers on the two app ports, got %+v", c, np.Spec.Ingress)
		}
		if len(np.Spec.Egress) != 3 || np.Spec.Egress[0].Ports[0].Port.IntVal != 53 {
			t.Errorf("%s: want DNS, same color and the declared egress rule, got %+v", c, np.Spec.Egress)
		}
	}
	off := seed(t)
	off.Spec.NetworkPolicy.Enabled = ptr.To(false)
	if objs := render.NetworkPolicies(off); len(objs) != 0 {
		t.Errorf("disabled policies still rendered")
	}
}

func TestQuotaFigures(t *testing.T) {
	app := seed(t)
	app.Spec.Quota.Hard = nil
	got := render.QuotaFigures(&app.Spec)
	// 6 pods of 250m/256Mi requests and 1/512Mi limits, plus 3 surge pods
	// (the seed's maxSurge, 100% of 3), plus 25%.
	want := map[corev1.ResourceName]string{
		corev1.ResourcePods:           "12",
		corev1.ResourceRequestsCPU:    "2813m",
		corev1.ResourceRequestsMemory: "2880Mi",
		corev1.ResourceLimitsCPU:      "11250m",
		corev1.ResourceLimitsMemory:   "5760Mi",
	}
	if len(got) != len(want) {
		t.Errorf("got %d figures, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if q := got[name]; q.String() != w {
			t.Errorf("%s = %s, want %s", name, q.String(), w)
		}
	}
	app.Spec.IdleReplicas = ptr.To[int32](0)
	if q := render.QuotaFigures(&app.Spec)[corev1.ResourcePods]; q.String() != "8" {
		t.Errorf("with the idle color scaled to 0, pods = %s, want 8 (3 and 3 surge pods, plus 25%%, rounded up)", q.String())
	}
	app.Spec.MaxSurge = ptr.To(intstr.FromString(spec.DefaultMaxSurge))
	if q := render.QuotaFigures(&app.Spec)[corev1.ResourcePods]; q.String() != "5" {
		t.Errorf("with the default maxSurge, pods = %s, want 5 (3 and 1 surge pod, plus 25%%, rounded up)", q.String())
	}
}

func TestSortByKindThenName(t *testing.T) {
	objs := render.Render(load(t, "../examples/full/app.yaml"))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	want := []string{
		"NetworkPolicy/checkout-blue", "NetworkPolicy/checkout-green",
		"ResourceQuota/checkout",
		"PodDisruptionBudget/checkout-blue", "PodDisruptionBudget/checkout-green",
		"ServiceAccount/checkout",
		"Service/checkout", "Service/checkout-preview",
		"Deployment/checkout-blue", "Deployment/checkout-green",
		"Ingress/checkout", "Ingress/checkout-preview",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	var first []byte
	for i := 0; i < 20; i++ {
		var buf bytes.Buffer
		if err := render.WriteYAML(&buf, render.Render(load(t, "../examples/full/app.yaml"))); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
}

func TestManifestKeepsEmptySelectors(t *testing.T) {
	app := seed(t)
	app.Spec.NetworkPolicy.AllowFrom = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
	m, err := render.Manifest(render.NetworkPolicy(app, spec.Blue))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := render.EncodeYAML(render.NetworkPolicy(app, spec.Blue))
	if !strings.Contains(string(doc), "namespaceSelector: {}") {
		t.Errorf("an empty namespaceSelector (all namespaces) was dropped:\n%s", doc)
	}
	if _, ok := m["status"]; ok {
		t.Errorf("empty status kept")
	}
}

func TestHADefaults(t *testing.T) {
	pdbs := func(app *spec.BlueGreenApp) []string {
		var names []string
		for _, o := range render.DisruptionBudgets(app) {
			pdb := o.(*policyv1.PodDisruptionBudget)
			if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntVal != 1 || pdb.Spec.MinAvailable != nil {
				t.Errorf("%s: want maxUnavailable 1, got %+v", pdb.Name, pdb.Spec)
			}
			names = append(names, pdb.Name)
		}
		return names
	}
	app := seed(t) // 3 replicas per color
	if got := pdbs(app); !slices.Equal(got, []string{"my-application-blue", "my-application-green"}) {
		t.Errorf("3 replicas: budgets %v", got)
	}
	app.Spec.IdleReplicas = ptr.To(int32(0))
	if got := pdbs(app); !slices.Equal(got, []string{"my-application-blue"}) {
		t.Errorf("idle color at 0: budgets %v, want only the live color's", got)
	}
	app.Spec.DisruptionBudget.Enabled = ptr.To(false)
	if got := pdbs(app); len(got) != 0 {
		t.Errorf("disabled: budgets %v", got)
	}
	if got := pdbs(load(t, "../examples/minimal/app.yaml")[0]); len(got) != 0 {
		t.Errorf("1 replica: budgets %v, want none (a budget on one pod blocks drains)", got)
	}

	app = seed(t)
	dep := render.Deployment(app, spec.Green)
	tscs := dep.Spec.Template.Spec.TopologySpreadConstraints
	if len(tscs) != 2 || tscs[0].TopologyKey != render.TopologyZone || tscs[1].TopologyKey != render.TopologyNode {
		t.Fatalf("default spread: %+v", tscs)
	}
	for _, tsc := range tscs {
		if tsc.WhenUnsatisfiable != corev1.ScheduleAnyway || tsc.MaxSkew != 1 || tsc.LabelSelector.MatchLabels["version"] != "green" {
			t.Errorf("default spread: %+v", tsc)
		}
	}
	// Scaling the idle color does not change its pod template.
	app.Spec.IdleReplicas = ptr.To(int32(0))
	if !equality.Semantic.DeepEqual(render.Deployment(app, spec.Green).Spec.Template, dep.Spec.Template) {
		t.Errorf("the pod template depends on the replica count")
	}
	app.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{}
	if got := render.Deployment(app, spec.Green).Spec.Template.Spec.TopologySpreadConstraints; len(got) != 0 {
		t.Errorf("an empty list renders no spread, got %+v", got)
	}
}
