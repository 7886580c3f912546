// Checks of how clients reach the active color and the preview:
// spec.service and spec.ingress.

package spec

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// service checks the Service type and session affinity.
func (v *validator) service() {
	svc := v.app.Spec.Service
	switch svc.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		v.add("spec.service.type", "%q: expected ClusterIP, NodePort or LoadBalancer", svc.Type)
	}
	switch svc.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if svc.SessionAffinityTimeoutSeconds != nil {
			v.add("spec.service.sessionAffinityTimeoutSeconds", "only applies with sessionAffinity: ClientIP")
		}
	case corev1.ServiceAffinityClientIP:
		if t := *svc.SessionAffinityTimeoutSeconds; t < 1 || t > 86400 {
			v.add("spec.service.sessionAffinityTimeoutSeconds", "%d is out of range (1-86400)", t)
		}
	default:
		v.add("spec.service.sessionAffinity", "%q: expected None or ClientIP", svc.SessionAffinity)
	}
	v.annotations("spec.service.annotations", svc.Annotations)
}

// ingress checks the live and preview hosts, the path and the names the
// Ingress refers to.
func (v *validator) ingress() {
	ing := v.app.Spec.Ingress
	if ing == nil {
		return
	}
	v.host("spec.ingress.host", ing.Host, true)
	v.host("spec.ingress.previewHost", ing.PreviewHost, false)
	if ing.Host != "" && ing.Host == ing.PreviewHost {
		v.add("spec.ingress.previewHost", "must differ from host %q, or the preview would receive live traffic", ing.Host)
	}
	if !strings.HasPrefix(ing.Path, "/") {
		v.add("spec.ingress.path", "%q must start with /", ing.Path)
	}
	switch ing.PathType {
	case networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific:
	default:
		v.add("spec.ingress.pathType", "%q: expected Prefix, Exact or ImplementationSpecific", ing.PathType)
	}
	if ing.ClassName != "" {
		v.refName("spec.ingress.className", ing.ClassName)
	}
	if ing.TLSSecretName != "" {
		v.refName("spec.ingress.tlsSecretName", ing.TLSSecretName)
	}
	v.annotations("spec.ingress.annotations", ing.Annotations)
}

// host checks a host name, which may be a wildcard (*.example.com).
func (v *validator) host(path, host string, required bool) {
	if host == "" {
		if required {
			v.add(path, "required")
		}
		return
	}
	check := validation.IsDNS1123Subdomain
	if strings.HasPrefix(host, "*.") {
		check = validation.IsWildcardDNS1123Subdomain
	}
	for _, msg := range check(host) {
		v.add(path, "%q: %s", host, msg)
	}
}
