// Checks of the pods' life and placement: spec.drain, spec.disruptionBudget,
// the scheduling fields of spec and of each color, and
// spec.topologySpreadConstraints.

package spec

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// drain checks that a pod stops taking requests before it is killed.
func (v *validator) drain() {
	d := v.app.Spec.Drain
	sleep, grace := *d.PreStopSleepSeconds, *d.TerminationGracePeriodSeconds
	if sleep < 0 {
		v.add("spec.drain.preStopSleepSeconds", "must not be negative, got %d", sleep)
	}
	if grace < 0 {
		v.add("spec.drain.terminationGracePeriodSeconds", "must not be negative, got %d", grace)
	}
	if sleep >= 0 && grace >= 0 && sleep >= grace && sleep > 0 {
		v.add("spec.drain.preStopSleepSeconds", "%d must be less than terminationGracePeriodSeconds (%d), or the pod is killed before it drains", sleep, grace)
	}
}

// maxSurge checks the rollouts' surge: with maxUnavailable 0, a rollout
// that may start no extra pod never starts (the API server refuses it).
func (v *validator) maxSurge() {
	ms := v.app.Spec.MaxSurge
	switch {
	case ms == nil:
	case ms.Type == intstr.Int && ms.IntVal < 1:
		v.add("spec.maxSurge", "must be 1 or more (or a percentage), got %d: the rollout keeps every old pod until a new one is ready, so it needs room for one", ms.IntVal)
	case ms.Type == intstr.String:
		msgs := validation.IsValidPercent(ms.StrVal)
		for _, msg := range msgs {
			v.add("spec.maxSurge", "%q: %s", ms.StrVal, msg)
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(ms.StrVal, "%")); len(msgs) == 0 && err == nil && n < 1 {
			v.add("spec.maxSurge", "%q must be at least 1%%: the rollout keeps every old pod until a new one is ready, so it needs room for one", ms.StrVal)
		}
	}
}

// disruptionBudget checks the PodDisruptionBudgets' minAvailable or
// maxUnavailable.
func (v *validator) disruptionBudget() {
	db := v.app.Spec.DisruptionBudget
	if db == nil {
		return
	}
	if db.MinAvailable != nil && db.MaxUnavailable != nil {
		v.add("spec.disruptionBudget", "set minAvailable or maxUnavailable, not both")
	}
	for field, val := range map[string]*intstr.IntOrString{"minAvailable": db.MinAvailable, "maxUnavailable": db.MaxUnavailable} {
		if val == nil {
			continue
		}
		path := "spec.disruptionBudget." + field
		if val.Type == intstr.Int && val.IntVal < 0 {
			v.add(path, "must not be negative, got %d", val.IntVal)
		}
		if val.Type == intstr.String {
			for _, msg := range validation.IsValidPercent(val.StrVal) {
				v.add(path, "%q: %s", val.StrVal, msg)
			}
			if n, err := strconv.Atoi(strings.TrimSuffix(val.StrVal, "%")); err == nil && n > 100 {
				v.add(path, "%q must not be greater than 100%%", val.StrVal)
			}
		}
	}
}

// schedulingAll checks the shared scheduling fields, then each color's.
func (v *validator) schedulingAll() {
	v.scheduling("spec", v.app.Spec.Scheduling)
	for _, c := range Colors {
		v.scheduling("spec."+string(c), v.app.Spec.ColorSpecOf(c).Scheduling)
	}
}

// scheduling checks the scheduling fields at path (spec, or a color's).
func (v *validator) scheduling(path string, s Scheduling) {
	v.labels(path+".nodeSelector", s.NodeSelector)
	if s.PriorityClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.PriorityClassName) {
			v.add(path+".priorityClassName", "%q: %s", s.PriorityClassName, msg)
		}
	}
	for i, t := range s.Tolerations {
		v.toleration(indexPath(path+".tolerations", i), t)
	}
}

// toleration checks one toleration at path.
func (v *validator) toleration(path string, t corev1.Toleration) {
	if t.Key != "" {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			v.add(path+".key", "%q: %s", t.Key, msg)
		}
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		if t.Key == "" {
			v.add(path+".key", "required unless operator is Exists")
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			v.add(path+".value", "must be empty when operator is Exists")
		}
	default:
		v.add(path+".operator", "%q: want Equal or Exists", t.Operator)
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		v.add(path+".effect", "%q: want NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		v.add(path+".tolerationSeconds", "only applies to effect NoExecute")
	}
}

// topologySpread checks spec.topologySpreadConstraints.
func (v *validator) topologySpread() {
	for i, tsc := range v.app.Spec.TopologySpreadConstraints {
		path := indexPath("spec.topologySpreadConstraints", i)
		if tsc.MaxSkew < 1 {
			v.add(path+".maxSkew", "must be at least 1, got %d", tsc.MaxSkew)
		}
		if tsc.TopologyKey == "" {
			v.add(path+".topologyKey", "required, such as topology.kubernetes.io/zone")
		} else {
			for _, msg := range validation.IsQualifiedName(tsc.TopologyKey) {
				v.add(path+".topologyKey", "%q: %s", tsc.TopologyKey, msg)
			}
		}
		switch tsc.WhenUnsatisfiable {
		case corev1.DoNotSchedule, corev1.ScheduleAnyway:
		default:
			v.add(path+".whenUnsatisfiable", "%q: want ScheduleAnyway or DoNotSchedule", tsc.WhenUnsatisfiable)
		}
		if tsc.MinDomains != nil && (*tsc.MinDomains < 1 || tsc.WhenUnsatisfiable != corev1.DoNotSchedule) {
			v.add(path+".minDomains", "must be at least 1, and only with whenUnsatisfiable DoNotSchedule")
		}
		v.selector(path+".labelSelector", tsc.LabelSelector)
	}
}
