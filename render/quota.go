package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/spec"
)

// ResourceQuota renders the quota <name> when enabled: the explicit hard
// figures if given, else what both colors request and limit together plus
// the headroom.
func ResourceQuota(app *spec.BlueGreenApp) []Object {
	q := app.Spec.Quota
	if !q.Enabled {
		return nil
	}
	hard := q.Hard
	if len(hard) == 0 {
		hard = QuotaFigures(&app.Spec)
	}
	return []Object{&corev1.ResourceQuota{
		TypeMeta:   typeMeta(corev1.SchemeGroupVersion, "ResourceQuota"),
		ObjectMeta: metav1.ObjectMeta{Name: app.Metadata.Name},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}}
}

// QuotaFigures computes the hard figures of the quota: both colors' usage
// and a rollout's surge pods (spec.Usage), raised by headroomPercent.
func QuotaFigures(s *spec.AppSpec) corev1.ResourceList {
	return WithHeadroom(spec.Usage(s, spec.SurgePods(s)), *s.Quota.HeadroomPercent)
}

// WithHeadroom raises quota figures by percent, rounding up: CPU to whole
// millicores, memory to whole mebibytes (so that it reads well), counts to
// whole numbers.
func WithHeadroom(usage corev1.ResourceList, percent int32) corev1.ResourceList {
	pct := int64(100 + percent)
	out := corev1.ResourceList{}
	for name, q := range usage {
		switch name {
		case corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU, corev1.ResourceCPU:
			out[name] = *resource.NewMilliQuantity(ceilDiv(q.MilliValue()*pct, 100), resource.DecimalSI)
		case corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory, corev1.ResourceMemory:
			out[name] = *resource.NewQuantity(ceilDiv(ceilDiv(q.Value()*pct, 100), mebi)*mebi, resource.BinarySI)
		default:
			out[name] = *resource.NewQuantity(ceilDiv(q.Value()*pct, 100), resource.DecimalSI)
		}
	}
	return out
}

const mebi = 1 << 20

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
