package postrender

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/bgrender/bgrender/spec"
)

// The check steps refuse, before anything is written, what would make a
// broken release: a Service whose namespace bgrender would have to guess,
// what a filter cannot transform safely, and an object bgrender adds
// whose name the chart already uses.

// checkNamespaces refuses to guess. Helm does not tell a post-renderer the
// release namespace; when it is not given (--namespace, HELM_NAMESPACE) an
// object without a namespace is somewhere bgrender cannot name. A Service
// on one side of that line whose selector matches pods on the other
// cannot be routed safely: whether it selects them depends on the release
// namespace.
func checkNamespaces(_ context.Context, r *run) error {
	if r.opts.Namespace != "" || len(r.chart.namespaces) == 0 {
		return nil
	}
	type pods struct {
		desc     string
		explicit bool
		labels   labels.Set
	}
	var workloads []pods
	for _, d := range r.pods.deploys {
		workloads = append(workloads, pods{d.object.String(), d.object.namespace != "", d.podLabels})
	}
	for _, w := range r.pods.others {
		workloads = append(workloads, pods{w.desc, w.explicit, w.podLabels})
	}
	for _, o := range r.chart.objects() {
		if o.kind != "Service" || o.hook || o.skip || len(o.selector) == 0 {
			continue
		}
		sel := labels.SelectorFromValidatedSet(o.selector)
		for _, w := range workloads {
			if w.explicit != (o.namespace != "") && sel.Matches(w.labels) {
				return fmt.Errorf("%s selects the pods of %s, and one of them names a namespace while the other does not: Helm does not tell a post-renderer the release namespace, so bgrender cannot tell whether they are in the same one; pass it (--post-renderer-args --namespace=NAMESPACE) or set HELM_NAMESPACE", o, w.desc)
			}
		}
	}
	return nil
}

// checkObjects asks the filter of each object that changes to check it,
// and refuses an object that a filter would add under a name that the
// chart already gives an object of that kind.
func checkObjects(_ context.Context, r *run) error {
	for _, o := range r.chart.objects() {
		if !r.changes(o) {
			continue
		}
		f := r.filters[o.kind]
		if f.check != nil {
			if err := f.check(r, o); err != nil {
				return err
			}
		}
		if f.adds == nil {
			continue
		}
		for _, name := range f.adds(o) {
			if other, ok := r.taken(o.kind, r.namespaceOf(o), name); ok {
				return fmt.Errorf("%s: bgrender would add %s %s, but the chart has one of that name (%s); rename one of them", o, o.kind, name, other)
			}
		}
	}
	return nil
}

// perColor names an object's copies, one per color.
func perColor(o *object) []string {
	return []string{colorName(o.name, spec.Blue), colorName(o.name, spec.Green)}
}
