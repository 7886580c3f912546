// spec.autoscaling: the HorizontalPodAutoscaler of each color, its
// defaults, the bounds of each color, and its checks: the bounds, and what
// does not go with an autoscaler (a fixed replica count, a budget that
// would block); metrics.go checks the metrics and behavior.

package spec

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Defaults of spec.autoscaling: the API server's own for an
// autoscaling/v2 HPA, written out so that Git and the cluster agree.
const (
	DefaultMinReplicas    = int32(1)
	DefaultCPUUtilization = int32(80)
)

// DefaultAutoscaling fills minReplicas and, when no metric is written,
// the CPU utilization metric that the API server would add.
func DefaultAutoscaling(a *AutoscalingSpec) {
	if a == nil {
		return
	}
	if a.MinReplicas == nil {
		a.MinReplicas = ptr.To(DefaultMinReplicas)
	}
	if len(a.Metrics) == 0 {
		a.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: ptr.To(DefaultCPUUtilization),
				},
			},
		}}
	}
}

// Autoscaled reports whether each color has a HorizontalPodAutoscaler,
// and so Deployments without replicas.
func (s *AppSpec) Autoscaled() bool { return s.Autoscaling != nil }

// MinReplicasOf returns the minReplicas of color c's HPA after defaults:
// the color's matchedMinReplicas when set (promote --match-capacity),
// else idleMinReplicas for the idle color when set, else the color's own,
// else spec.autoscaling's. It is 0 without autoscaling.
func (s *AppSpec) MinReplicasOf(c Color) int32 {
	if s.Autoscaling == nil {
		return 0
	}
	if own := s.ColorSpecOf(c).Autoscaling; own != nil && own.MatchedMinReplicas != nil {
		return *own.MatchedMinReplicas
	}
	return s.ConfiguredMinReplicasOf(c)
}

// ConfiguredMinReplicasOf is color c's minReplicas as the user configured
// it: MinReplicasOf without a floor that promote --match-capacity raised.
func (s *AppSpec) ConfiguredMinReplicasOf(c Color) int32 {
	a := s.Autoscaling
	if a == nil {
		return 0
	}
	if c != s.Active && a.IdleMinReplicas != nil {
		return *a.IdleMinReplicas
	}
	if own := s.ColorSpecOf(c).Autoscaling; own != nil && own.MinReplicas != nil {
		return *own.MinReplicas
	}
	return ptr.Deref(a.MinReplicas, DefaultMinReplicas)
}

// MaxReplicasOf returns the maxReplicas of color c's HPA: the color's
// own, else spec.autoscaling's. It is 0 without autoscaling.
func (s *AppSpec) MaxReplicasOf(c Color) int32 {
	a := s.Autoscaling
	if a == nil {
		return 0
	}
	if own := s.ColorSpecOf(c).Autoscaling; own != nil && own.MaxReplicas != nil {
		return *own.MaxReplicas
	}
	return a.MaxReplicas
}

// MostReplicasOf is the most pods color c runs: its HPA's maxReplicas,
// or its replica count without autoscaling. Quotas are sized by it.
func (s *AppSpec) MostReplicasOf(c Color) int32 {
	if s.Autoscaled() {
		return s.MaxReplicasOf(c)
	}
	return s.ReplicasOf(c)
}

// autoscaling checks spec.autoscaling and the colors' overrides.
func (v *validator) autoscaling() {
	s := &v.app.Spec
	a := s.Autoscaling
	if a == nil {
		for _, c := range Colors {
			if s.ColorSpecOf(c).Autoscaling != nil {
				v.add("spec."+string(c)+".autoscaling", "needs spec.autoscaling (maxReplicas and metrics), which this overrides")
			}
		}
		return
	}
	v.fixedReplicas()
	for _, c := range Colors {
		v.autoscalingBounds(c)
	}
	if v.app.Source.Has("spec.autoscaling.metrics") {
		for i, m := range a.Metrics {
			v.metric(indexPath("spec.autoscaling.metrics", i), m)
		}
	} else {
		v.resourceRequest("spec.autoscaling", corev1.ResourceCPU, "has no metrics, so the HPA scales on CPU utilization (80%, the API server's default)")
	}
	if b := a.Behavior; b != nil {
		v.scalingRules("spec.autoscaling.behavior.scaleUp", b.ScaleUp)
		v.scalingRules("spec.autoscaling.behavior.scaleDown", b.ScaleDown)
	}
	v.blockingBudget()
}

// fixedReplicas refuses a replica count beside the autoscaler: whoever
// writes replicas in Git while an HPA sets them gets endless drift.
func (v *validator) fixedReplicas() {
	s := &v.app.Spec
	if s.Replicas != nil {
		v.add("spec.replicas", "drop it: with spec.autoscaling the HPA sets each color's replicas (between autoscaling.minReplicas and maxReplicas)")
	}
	if s.IdleReplicas != nil {
		v.add("spec.idleReplicas", "drop it: with spec.autoscaling the idle color's floor is autoscaling.idleMinReplicas")
	}
	for _, c := range Colors {
		if s.ColorSpecOf(c).Replicas != nil {
			path := "spec." + string(c)
			v.add(path+".replicas", "drop it: with spec.autoscaling set %s.autoscaling.minReplicas and maxReplicas instead", path)
		}
	}
}

// autoscalingBounds checks color c's minReplicas and maxReplicas, each
// located where it is written (the color's override, idleMinReplicas or
// spec.autoscaling).
func (v *validator) autoscalingBounds(c Color) {
	s := &v.app.Spec
	minPath, maxPath := "spec.autoscaling.minReplicas", "spec.autoscaling.maxReplicas"
	if own := s.ColorSpecOf(c).Autoscaling; own != nil {
		if own.MinReplicas != nil {
			minPath = "spec." + string(c) + ".autoscaling.minReplicas"
		}
		if own.MaxReplicas != nil {
			maxPath = "spec." + string(c) + ".autoscaling.maxReplicas"
		}
	}
	if c != s.Active && s.Autoscaling.IdleMinReplicas != nil {
		minPath = "spec.autoscaling.idleMinReplicas"
	}
	if own := s.ColorSpecOf(c).Autoscaling; own != nil && own.MatchedMinReplicas != nil {
		minPath = "spec." + string(c) + ".autoscaling.matchedMinReplicas"
	}
	lo, hi := s.MinReplicasOf(c), s.MaxReplicasOf(c)
	switch {
	case lo < 1:
		v.addOnce(minPath, "must be at least 1, got %d (minReplicas 0 needs the HPAScaleToZero feature gate, which is alpha and off by default)", lo)
	case hi < 1 && !v.app.Source.Has(maxPath):
		v.addOnce(maxPath, "required: the most pods the autoscaler may run for a color")
	case hi < 1:
		v.addOnce(maxPath, "must be at least 1, got %d", hi)
	case lo > hi:
		v.addOnce(minPath, "%d is more than maxReplicas (%d) of the %s color", lo, hi, c)
	}
}

// addOnce records a problem unless the same one is already recorded (both
// colors share spec.autoscaling's bounds).
func (v *validator) addOnce(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, e := range v.errs {
		if e.Path == path && e.Msg == msg {
			return
		}
	}
	v.add(path, "%s", msg)
}

// blockingBudget refuses a PodDisruptionBudget that admits no eviction
// while a color runs at its HPA's minReplicas: every node drain would
// wait on it.
func (v *validator) blockingBudget() {
	db := v.app.Spec.DisruptionBudget
	if db == nil || (db.Enabled != nil && !*db.Enabled) {
		return
	}
	if mu := db.MaxUnavailable; mu != nil && (mu.Type == intstr.Int && mu.IntVal == 0 || mu.Type == intstr.String && mu.StrVal == "0%") {
		v.add("spec.disruptionBudget.maxUnavailable", "0 admits no eviction: with spec.autoscaling it would block every node drain; use 1 or more")
		return
	}
	ma := db.MinAvailable
	if ma != nil && ma.Type == intstr.String && ma.StrVal == "100%" {
		v.add("spec.disruptionBudget.minAvailable", "100%% admits no eviction: with spec.autoscaling it would block every node drain; use maxUnavailable")
		return
	}
	if ma == nil || ma.Type != intstr.Int {
		return
	}
	for _, c := range Colors {
		if lo := v.app.Spec.MinReplicasOf(c); lo >= 1 && ma.IntVal >= lo {
			v.add("spec.disruptionBudget.minAvailable", "%d admits no eviction while the %s color runs at its minReplicas (%d): every node drain would wait for the autoscaler; raise minReplicas above %d, or use maxUnavailable", ma.IntVal, c, lo, ma.IntVal)
			return
		}
	}
}
