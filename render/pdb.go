package render

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/spec"
)

// DisruptionBudgets renders <name>-blue and <name>-green when a budget is
// set, so that draining nodes never takes either color below it.
func DisruptionBudgets(app *spec.BlueGreenApp) []Object {
	db := app.Spec.DisruptionBudget
	if db == nil {
		return nil
	}
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		objs = append(objs, &policyv1.PodDisruptionBudget{
			TypeMeta: typeMeta(policyv1.SchemeGroupVersion, "PodDisruptionBudget"),
			ObjectMeta: metav1.ObjectMeta{
				Name:   colorName(app, c),
				Labels: colorLabels(app, c),
			},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable:   db.MinAvailable,
				MaxUnavailable: db.MaxUnavailable,
				Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
			},
		})
	}
	return objs
}
