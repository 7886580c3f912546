package render

import (
	"strconv"

	"github.com/bgrender/bgrender/spec"
)

// The ingress-nginx annotations of a canary Ingress.
const (
	AnnotationCanary              = "nginx.ingress.kubernetes.io/canary"
	AnnotationCanaryWeight        = "nginx.ingress.kubernetes.io/canary-weight"
	AnnotationCanaryWeightTotal   = "nginx.ingress.kubernetes.io/canary-weight-total"
	AnnotationCanaryByHeader      = "nginx.ingress.kubernetes.io/canary-by-header"
	AnnotationCanaryByHeaderValue = "nginx.ingress.kubernetes.io/canary-by-header-value"
)

// CanaryName is the name of the canary Ingress, <name>-canary.
func CanaryName(app *spec.BlueGreenApp) string { return app.Metadata.Name + "-canary" }

// CanaryIngresses renders, when spec.traffic.nginx is set, the canary
// Ingress <name>-canary for ingress-nginx: the host, path, path type,
// class and TLS of spec.ingress's main Ingress <name>, routed to the
// per-color Service of the idle color (<name>-blue or <name>-green, see
// ColorServices; spec.traffic.canaryColor when set), with
//
//   - canary: "true";
//   - canary-weight: spec.traffic.weight, out of canary-weight-total 100;
//   - canary-by-header: spec.traffic.header, and canary-by-header-value:
//     the idle color's name, so that testers reach the idle color at any
//     weight.
//
// The main Ingress <name> is rendered by Ingresses as without traffic: to
// the active Service <name>. The canary carries only the canary
// annotations, not spec.ingress.annotations: ingress-nginx takes every
// other setting of a canary from its main Ingress, and an annotation such
// as cert-manager's would make a second Certificate for the same Secret.
func CanaryIngresses(app *spec.BlueGreenApp) []Object {
	if nginxCanary(app) == nil || app.Spec.Ingress == nil {
		return nil
	}
	tr := app.Spec.Traffic
	to := app.Spec.Shifted()
	var weight int32
	if tr.Weight != nil {
		weight = *tr.Weight
	}
	obj := ingress(app, CanaryName(app), app.Spec.Ingress.Host, ColorServiceName(app, to))
	obj.Annotations = map[string]string{
		AnnotationCanary:              "true",
		AnnotationCanaryWeight:        strconv.Itoa(int(weight)),
		AnnotationCanaryWeightTotal:   "100",
		AnnotationCanaryByHeader:      tr.Header,
		AnnotationCanaryByHeaderValue: string(to),
	}
	return []Object{obj}
}

func nginxCanary(app *spec.BlueGreenApp) *spec.NGINXCanarySpec {
	if tr := app.Spec.Traffic; tr != nil {
		return tr.NGINX
	}
	return nil
}
