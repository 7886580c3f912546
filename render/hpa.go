package render

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// HorizontalPodAutoscalers renders <name>-blue and <name>-green when the
// spec sets autoscaling: an autoscaling/v2 HPA per color that scales the
// color's Deployment between its minReplicas (the idle color's
// idleMinReplicas) and maxReplicas on the spec's metrics. The Deployments
// then carry no replicas (see Deployment).
func HorizontalPodAutoscalers(app *spec.BlueGreenApp) []Object {
	a := app.Spec.Autoscaling
	if a == nil {
		return nil
	}
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		objs = append(objs, &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta: typeMeta(autoscalingv2.SchemeGroupVersion, "HorizontalPodAutoscaler"),
			ObjectMeta: metav1.ObjectMeta{
				Name:   colorName(app, c),
				Labels: colorLabels(app, c),
			},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
					APIVersion: appsv1.SchemeGroupVersion.String(),
					Kind:       "Deployment",
					Name:       colorName(app, c),
				},
				MinReplicas: ptr.To(app.Spec.MinReplicasOf(c)),
				MaxReplicas: app.Spec.MaxReplicasOf(c),
				Metrics:     a.Metrics,
				Behavior:    a.Behavior,
			},
		})
	}
	return objs
}
