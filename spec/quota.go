// Checks of spec.quota: the ResourceQuota must admit both colors at once,
// and what both colors use (Usage) is computed here for render too.

package spec

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// quotaResources are the ResourceQuota keys that bgrender computes, each
// with the container resource and side (requests or limits) it sums.
var quotaResources = []struct {
	Name     corev1.ResourceName
	Resource corev1.ResourceName
	Limit    bool
}{
	{corev1.ResourceRequestsCPU, corev1.ResourceCPU, false},
	{corev1.ResourceRequestsMemory, corev1.ResourceMemory, false},
	{corev1.ResourceLimitsCPU, corev1.ResourceCPU, true},
	{corev1.ResourceLimitsMemory, corev1.ResourceMemory, true},
}

// quota checks the headroom and the hard figures, and that an explicit
// quota fits the app.
func (v *validator) quota() {
	q := v.app.Spec.Quota
	if h := *q.HeadroomPercent; h < 0 || h > 1000 {
		v.add("spec.quota.headroomPercent", "%d is out of range (0-1000)", h)
	}
	for name, val := range q.Hard {
		if val.Sign() < 0 {
			v.add(keyPath("spec.quota.hard", string(name)), "must not be negative, got %s", val.String())
		}
	}
	if q.Enabled && len(q.Hard) > 0 {
		v.quotaFits(q.Hard)
	}
}

// quotaFits checks an explicit quota: it must admit both colors at once,
// plus the pods that a rolling update of either color adds (spec.maxSurge,
// maxUnavailable 0), and every quota on a compute resource makes the API
// server reject pods that do not declare it.
func (v *validator) quotaFits(quota corev1.ResourceList) {
	surge := SurgePods(&v.app.Spec)
	need := Usage(&v.app.Spec, surge)
	res := v.app.Spec.Resources
	for _, qr := range quotaResources {
		name := qr.Name
		hard, ok := quota[name]
		if !ok && !qr.Limit {
			// "cpu" and "memory" are the old names of requests.cpu and requests.memory.
			name = qr.Resource
			hard, ok = quota[name]
		}
		if !ok {
			continue
		}
		path := keyPath("spec.quota.hard", string(name))
		side, list := "requests", res.Requests
		if qr.Limit {
			side, list = "limits", res.Limits
		}
		if _, declared := list[qr.Resource]; !declared {
			v.add(path, "the quota limits %s but spec.resources.%s.%s is not set, so the API server would reject every pod", name, side, qr.Resource)
			continue
		}
		if n := need[qr.Name]; n.Cmp(hard) > 0 {
			v.add(path, "%s is less than the %s that both colors need together%s, with %d surge pod(s) during a rollout", hard.String(), n.String(), atMost(&v.app.Spec), surge)
		}
	}
	if hard, ok := quota[corev1.ResourcePods]; ok {
		if n := need[corev1.ResourcePods]; n.Cmp(hard) > 0 {
			v.add(keyPath("spec.quota.hard", "pods"), "%s is less than the %s pods that both colors run together%s, with %d surge pod(s) during a rollout", hard.String(), n.String(), atMost(&v.app.Spec), surge)
		}
	}
}

// atMost says, in a quota message, that autoscaled colors count at their
// HPAs' maxReplicas.
func atMost(s *AppSpec) string {
	if s.Autoscaled() {
		return " at their HPAs' maxReplicas"
	}
	return ""
}

// SurgePods is how many extra pods a rolling update of the larger color
// starts (spec.maxSurge, a percentage rounded up as the Deployment
// controller rounds it), at its most replicas.
func SurgePods(s *AppSpec) int64 {
	n := max(s.MostReplicasOf(Blue), s.MostReplicasOf(Green))
	surge := intstr.FromString(DefaultMaxSurge)
	if s.MaxSurge != nil {
		surge = *s.MaxSurge
	}
	pods, err := intstr.GetScaledValueFromIntOrPercent(&surge, int(n), true)
	if err != nil { // validation reports it
		return 0
	}
	return int64(pods)
}

// Usage sums what both colors request and limit at their most replicas
// (their replica counts, or their HPAs' maxReplicas), plus extra pods
// (such as SurgePods), as ResourceQuota keys.
func Usage(s *AppSpec, extra int64) corev1.ResourceList {
	pods := int64(s.MostReplicasOf(Blue)) + int64(s.MostReplicasOf(Green)) + extra
	out := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(pods, resource.DecimalSI)}
	for _, qr := range quotaResources {
		list := s.Resources.Requests
		if qr.Limit {
			list = s.Resources.Limits
		}
		per, ok := list[qr.Resource]
		if !ok {
			continue
		}
		total := per.DeepCopy()
		total.Mul(pods)
		out[qr.Name] = total
	}
	return out
}
