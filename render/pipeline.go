package render

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/spec"
)

// Object is a rendered Kubernetes object.
type Object interface {
	metav1.Object
	runtime.Object
}

// A Generator builds the objects of one concern for one app.
type Generator func(app *spec.BlueGreenApp) []Object

// A Filter transforms the objects rendered for one app.
type Filter func(app *spec.BlueGreenApp, objs []Object) []Object

// Pipeline runs its generators in order and then its filters over the result.
type Pipeline struct {
	Generators []Generator
	Filters    []Filter
}

// Default is the pipeline of `bgrender render`.
var Default = Pipeline{
	Generators: []Generator{
		ServiceAccount,
		Deployments,
		Services,
		ColorServices,
		NetworkPolicies,
		ResourceQuota,
		DisruptionBudgets,
		HorizontalPodAutoscalers,
		ExpandJobs,
		ContractJobs,
		MigrationNetworkPolicy,
		Ingresses,
		CanaryIngresses,
		HTTPRoutes,
	},
	Filters: []Filter{
		CommonMetadata,
	},
}

// Render runs the pipeline over every app and returns all objects in a
// stable order: by kind (in the order that they are safely applied), then
// namespace, then name. The apps must have been defaulted and validated
// (spec.Load does both).
func (p Pipeline) Render(apps []*spec.BlueGreenApp) []Object {
	var all []Object
	for _, app := range apps {
		var objs []Object
		for _, gen := range p.Generators {
			objs = append(objs, gen(app)...)
		}
		for _, f := range p.Filters {
			objs = f(app, objs)
		}
		all = append(all, objs...)
	}
	Sort(all)
	return all
}

// Render runs the Default pipeline.
func Render(apps []*spec.BlueGreenApp) []Object { return Default.Render(apps) }

// kindOrder follows Helm's install order for the kinds that bgrender writes:
// policies and quotas before the pods they govern, Services before
// Deployments, the HorizontalPodAutoscalers that scale them, migration
// Jobs, Ingresses and then HTTPRoutes last.
var kindOrder = map[string]int{
	"NetworkPolicy":           1,
	"ResourceQuota":           2,
	"PodDisruptionBudget":     3,
	"ServiceAccount":          4,
	"Service":                 5,
	"Deployment":              6,
	"HorizontalPodAutoscaler": 7,
	"Job":                     8,
	"Ingress":                 9,
	"HTTPRoute":               10,
}

// Sort orders objects by kind, namespace and name.
func Sort(objs []Object) {
	slices.SortStableFunc(objs, func(a, b Object) int {
		ka, kb := kindOf(a), kindOf(b)
		oa, ok := kindOrder[ka]
		if !ok {
			oa = len(kindOrder) + 1
		}
		ob, ok := kindOrder[kb]
		if !ok {
			ob = len(kindOrder) + 1
		}
		return cmp.Or(
			cmp.Compare(oa, ob),
			cmp.Compare(ka, kb),
			cmp.Compare(a.GetNamespace(), b.GetNamespace()),
			cmp.Compare(a.GetName(), b.GetName()),
		)
	})
}

func kindOf(o Object) string { return o.GetObjectKind().GroupVersionKind().Kind }

// typeMeta returns the TypeMeta of a kind in group/version gv.
func typeMeta(gv schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
}
