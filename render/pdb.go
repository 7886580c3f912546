package render

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// DisruptionBudgets renders <name>-blue and <name>-green, so that draining
// nodes never takes a color below its budget. With the default budget
// (maxUnavailable 1) only a color that runs 2 or more replicas gets one: a
// budget on a single pod would block every drain. A budget the spec sets
// is rendered for both colors. An autoscaled color gets the default budget
// when its HPA may run 2 or more pods: maxUnavailable 1 never blocks a
// drain, even at one pod.
func DisruptionBudgets(app *spec.BlueGreenApp) []Object {
	db := app.Spec.DisruptionBudget
	if db == nil || (db.Enabled != nil && !*db.Enabled) {
		return nil
	}
	explicit := db.MinAvailable != nil || db.MaxUnavailable != nil
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		budget := policyv1.PodDisruptionBudgetSpec{
			MinAvailable:   db.MinAvailable,
			MaxUnavailable: db.MaxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
		}
		if !explicit {
			if app.Spec.MostReplicasOf(c) < 2 {
				continue
			}
			budget.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		objs = append(objs, &policyv1.PodDisruptionBudget{
			TypeMeta: typeMeta(policyv1.SchemeGroupVersion, "PodDisruptionBudget"),
			ObjectMeta: metav1.ObjectMeta{
				Name:   colorName(app, c),
				Labels: colorLabels(app, c),
			},
			Spec: budget,
		})
	}
	return objs
}
