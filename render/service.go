package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bgrender/bgrender/spec"
)

// PreviewName is the name of the preview Service and Ingress of an app.
func PreviewName(app *spec.BlueGreenApp) string { return app.Metadata.Name + "-preview" }

// Services renders the active Service <name>, which selects the active
// color, and the preview Service <name>-preview, which selects the idle one.
// Both carry the active and previous colors as annotations.
func Services(app *spec.BlueGreenApp) []Object {
	s := &app.Spec
	active := service(app, app.Metadata.Name, s.Active)
	active.Spec.Type = s.Service.Type
	active.Spec.SessionAffinity = s.Service.SessionAffinity
	if s.Service.SessionAffinity == corev1.ServiceAffinityClientIP {
		active.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
			ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: s.Service.SessionAffinityTimeoutSeconds},
		}
	}
	for k, v := range s.Service.Annotations {
		active.Annotations[k] = v
	}
	if ct := s.ContractedFor(); ct != nil {
		// Where the cluster shows the last contract (status reads it).
		active.Annotations[AnnotationContractedImage] = ct.Image
	}

	preview := service(app, PreviewName(app), s.Idle())
	preview.Spec.Type = corev1.ServiceTypeClusterIP
	preview.Annotations[AnnotationPreviewColor] = string(s.Idle())
	return []Object{active, preview}
}

func service(app *spec.BlueGreenApp, name string, selects spec.Color) *corev1.Service {
	s := &app.Spec
	svc := &corev1.Service{
		TypeMeta: typeMeta(corev1.SchemeGroupVersion, "Service"),
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				AnnotationActiveColor:   string(s.Active),
				AnnotationPreviousColor: string(s.Idle()),
			},
		},
		Spec: corev1.ServiceSpec{Selector: SelectorLabels(app, selects)},
	}
	for _, p := range s.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name:       p.Name,
			Port:       p.ServicePort,
			TargetPort: targetPort(p),
			Protocol:   p.Protocol,
		})
	}
	return svc
}

func targetPort(p spec.Port) intstr.IntOrString {
	if p.Name != "" {
		return intstr.FromString(p.Name)
	}
	return intstr.FromInt32(p.ContainerPort)
}
