package rollouts

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// other maps the objects beside the Rollout that render writes too: the
// Ingresses of the active and preview Services onto spec.ingress, a
// PodDisruptionBudget of the Rollout's pods onto spec.disruptionBudget, a
// ResourceQuota named after the app onto spec.quota. The app's
// ServiceAccount needs nothing; its NetworkPolicies are bgrender's own
// (spec.networkPolicy). Everything else is noted.
func (im *importer) other(d *document, app *spec.BlueGreenApp, ro *Rollout, bg *BlueGreenStrategy) {
	switch {
	case d.kind == "ServiceAccount" && d.apiVersion == "v1" && d.name == app.Metadata.Name:
		return
	case d.kind == "Ingress" && d.apiVersion == networkingv1.SchemeGroupVersion.String():
		var ing networkingv1.Ingress
		if _, errs := d.decodeInto(&ing, nil); len(errs) > 0 {
			im.notes = append(im.notes, errs...)
			return
		}
		if im.ingress(d, app, &ing, bg) {
			return
		}
	case d.kind == "PodDisruptionBudget" && d.apiVersion == policyv1.SchemeGroupVersion.String():
		var pdb policyv1.PodDisruptionBudget
		if _, errs := d.decodeInto(&pdb, nil); len(errs) > 0 {
			im.notes = append(im.notes, errs...)
			return
		}
		if sel := pdb.Spec.Selector; sel != nil && maps.Equal(sel.MatchLabels, ro.Spec.Selector.MatchLabels) && len(sel.MatchExpressions) == 0 {
			db := &spec.DisruptionBudgetSpec{MinAvailable: pdb.Spec.MinAvailable, MaxUnavailable: pdb.Spec.MaxUnavailable}
			if db.MinAvailable == nil && db.MaxUnavailable != nil && equality.Semantic.DeepEqual(*db.MaxUnavailable, maxUnavailableOne) && ptr.Deref(app.Spec.Replicas, 1) >= 2 {
				return // bgrender's default budget
			}
			app.Spec.DisruptionBudget = db
			return
		}
	case d.kind == "ResourceQuota" && d.apiVersion == "v1" && d.name == app.Metadata.Name:
		var q corev1.ResourceQuota
		if _, errs := d.decodeInto(&q, nil); len(errs) > 0 {
			im.notes = append(im.notes, errs...)
			return
		}
		app.Spec.Quota = spec.QuotaSpec{Enabled: true, Hard: q.Spec.Hard}
		return
	case d.kind == "NetworkPolicy" && d.apiVersion == networkingv1.SchemeGroupVersion.String():
		im.note(d, "kind", "NetworkPolicy %s is not imported: bgrender renders its own (spec.networkPolicy, enabled by default)", d.name)
		return
	}
	im.note(d, "kind", "%s %s (%s) is not imported", d.kind, d.name, d.apiVersion)
}

// maxUnavailableOne is the budget bgrender renders by default.
var maxUnavailableOne = intstr.FromInt32(1)

// ingress maps an Ingress with one rule and one path to the active or the
// preview Service onto spec.ingress; it reports whether it did.
func (im *importer) ingress(d *document, app *spec.BlueGreenApp, ing *networkingv1.Ingress, bg *BlueGreenStrategy) bool {
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		return false
	}
	rule := ing.Spec.Rules[0]
	path := rule.HTTP.Paths[0]
	if path.Backend.Service == nil {
		return false
	}
	s := &app.Spec
	if s.Ingress == nil {
		s.Ingress = &spec.IngressSpec{}
	}
	out := s.Ingress
	switch path.Backend.Service.Name {
	case bg.ActiveService:
		out.Host = rule.Host
		out.Path = path.Path
		if out.Path == "/" {
			out.Path = ""
		}
		if path.PathType != nil && *path.PathType != networkingv1.PathTypePrefix {
			out.PathType = *path.PathType
		}
		out.ClassName = ptr.Deref(ing.Spec.IngressClassName, "")
		if len(ing.Spec.TLS) > 0 {
			out.TLSSecretName = ing.Spec.TLS[0].SecretName
		}
		annotations := maps.Clone(ing.Annotations)
		for k, v := range app.Metadata.Annotations {
			if annotations[k] == v {
				delete(annotations, k)
			}
		}
		if len(annotations) > 0 {
			out.Annotations = annotations
		}
		return true
	case bg.PreviewService:
		out.PreviewHost = rule.Host
		return true
	}
	if out.Host == "" && out.PreviewHost == "" {
		s.Ingress = nil
	}
	return false
}
