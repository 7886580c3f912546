package render_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// TestAutoscaledColors: each color gets an HPA that scales its own
// Deployment between its bounds (the idle color at idleMinReplicas), the
// Deployments carry no replicas, and quota and budgets count the HPAs'
// bounds.
func TestAutoscaledColors(t *testing.T) {
	app := load(t, "../examples/autoscaling/app.yaml")[0]
	app.Spec.Green.Autoscaling = &spec.ColorAutoscalingSpec{MaxReplicas: ptr.To(int32(8))}
	objs := render.Render([]*spec.BlueGreenApp{app})
	hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	deployments := map[string]*appsv1.Deployment{}
	budgets := 0
	for _, o := range objs {
		switch o := o.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpas[o.Name] = o
		case *appsv1.Deployment:
			deployments[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			budgets++
		}
	}
	want := map[string][2]int32{"catalog-blue": {3, 12}, "catalog-green": {2, 8}}
	for name, bounds := range want {
		h, d := hpas[name], deployments[name]
		if h == nil || d == nil {
			t.Fatalf("%s: HPA %v, Deployment %v", name, h != nil, d != nil)
		}
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment %s has replicas %d: the HPA owns that field", name, *d.Spec.Replicas)
		}
		ref := h.Spec.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != name {
			t.Errorf("HPA %s targets %+v, want its Deployment", name, ref)
		}
		if got := [2]int32{*h.Spec.MinReplicas, h.Spec.MaxReplicas}; got != bounds {
			t.Errorf("HPA %s min/max %v, want %v", name, got, bounds)
		}
		if h.Labels["bgrender.io/color"] != d.Labels["bgrender.io/color"] || h.Namespace != "store" {
			t.Errorf("HPA %s labels %v namespace %q, want the Deployment's", name, h.Labels, h.Namespace)
		}
		if len(h.Spec.Metrics) != 2 || h.Spec.Behavior == nil {
			t.Errorf("HPA %s: metrics %d, behavior %v", name, len(h.Spec.Metrics), h.Spec.Behavior)
		}
	}
	if budgets != 2 {
		t.Errorf("%d budgets, want one per color (each may run 2 or more pods)", budgets)
	}

	app.Spec.Quota.Enabled = true
	// 12 + 8 pods at most, 3 surge pods (25% of 12), plus 25%.
	if q := render.QuotaFigures(&app.Spec)[corev1.ResourcePods]; q.String() != "29" {
		t.Errorf("quota pods = %s, want 29: both colors at maxReplicas", q.String())
	}

	app.Spec.Active = spec.Green
	if h := render.HorizontalPodAutoscalers(app)[0].(*autoscalingv2.HorizontalPodAutoscaler); *h.Spec.MinReplicas != 2 {
		t.Errorf("blue, idle after a flip: minReplicas %d, want idleMinReplicas 2", *h.Spec.MinReplicas)
	}

	if got := render.HorizontalPodAutoscalers(seed(t)); len(got) != 0 {
		t.Errorf("without spec.autoscaling: %d HPAs", len(got))
	}
	if d := render.Deployment(seed(t), spec.Blue); d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("without spec.autoscaling the Deployment keeps its replicas, got %v", d.Spec.Replicas)
	}
}
