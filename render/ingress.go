package render

import (
	"maps"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/spec"
)

// Ingresses renders <name> for the live host, routed to the active Service,
// and <name>-preview for the preview host, routed to the preview Service.
func Ingresses(app *spec.BlueGreenApp) []Object {
	ing := app.Spec.Ingress
	if ing == nil {
		return nil
	}
	objs := []Object{ingress(app, app.Metadata.Name, ing.Host, app.Metadata.Name)}
	if ing.PreviewHost != "" {
		objs = append(objs, ingress(app, PreviewName(app), ing.PreviewHost, PreviewName(app)))
	}
	return objs
}

func ingress(app *spec.BlueGreenApp, name, host, service string) *networkingv1.Ingress {
	ing := app.Spec.Ingress
	pathType := ing.PathType
	obj := &networkingv1.Ingress{
		TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion, "Ingress"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: maps.Clone(ing.Annotations)},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     ing.Path,
						PathType: &pathType,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: service,
							Port: networkingv1.ServiceBackendPort{Number: app.Spec.Ports[0].ServicePort},
						}},
					}},
				}},
			}},
		},
	}
	if ing.ClassName != "" {
		obj.Spec.IngressClassName = &ing.ClassName
	}
	if ing.TLSSecretName != "" {
		obj.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: ing.TLSSecretName}}
	}
	return obj
}
