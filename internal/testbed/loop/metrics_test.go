package loop_test

import (
	"context"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestMetricsChain: kwok's simulated usage reaches the HPA controller
// through metrics-server and the aggregation layer. Three pods requesting
// 100m each use 150m (SetUsage): metrics.k8s.io reports it, and the HPA
// (target 50%) scales the Deployment up by itself.
func TestMetricsChain(t *testing.T) {
	bed := loop.Require(t, loop.Metrics)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := bed.Clientset()
	ns := bed.NewNamespace(t, ctx, "metrics", nil)
	d := webDeployment(ns, "registry.example/web:1")
	d.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](3), MaxReplicas: 6,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := bed.SetUsage(ctx, ns, "app", map[string]string{"web": "150m"}); err != nil {
		t.Fatal(err)
	}
	podMetrics := schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "pods"}
	if err := loop.WaitFor(ctx, "metrics.k8s.io to report the pods' 150m", func(ctx context.Context) (bool, error) {
		list, err := bed.Dynamic().Resource(podMetrics).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		containers, _, _ := unstructured.NestedSlice(list.Items[0].Object, "containers")
		if len(containers) == 0 {
			return false, nil
		}
		cpu, _, _ := unstructured.NestedString(containers[0].(map[string]any), "usage", "cpu")
		q, err := resource.ParseQuantity(cpu)
		return err == nil && q.MilliValue() >= 120 && q.MilliValue() <= 180, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("metrics.k8s.io reports the usage %s after SetUsage", loop.Since(began))
	if err := loop.WaitFor(ctx, "the HPA to scale web up on CPU", func(ctx context.Context) (bool, error) {
		h, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && h.Status.DesiredReplicas > 3 && len(h.Status.CurrentMetrics) > 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("the HPA scaled up %s after SetUsage", loop.Since(began))
}
