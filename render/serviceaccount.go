package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// ServiceAccount renders the account that both colors run as; its token is
// not mounted into pods.
func ServiceAccount(app *spec.BlueGreenApp) []Object {
	return []Object{&corev1.ServiceAccount{
		TypeMeta:                     typeMeta(corev1.SchemeGroupVersion, "ServiceAccount"),
		ObjectMeta:                   metav1.ObjectMeta{Name: app.Metadata.Name},
		AutomountServiceAccountToken: ptr.To(false),
	}}
}
