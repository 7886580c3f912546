// spec.autoscaling: the HorizontalPodAutoscaler of each color, its
// defaults, the bounds of each color, and its checks: the bounds, each
// metric and behavior as the API server checks them, and what does not go
// with an autoscaler (a fixed replica count, a budget that would block).

package spec

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// Defaults of spec.autoscaling: the API server's own for an
// autoscaling/v2 HPA, written out so that Git and the cluster agree.
const (
	DefaultMinReplicas    = int32(1)
	DefaultCPUUtilization = int32(80)
)

// Limits of an HPA's behavior, as the API server enforces them.
const (
	maxStabilizationWindowSeconds = 3600
	maxScalingPolicyPeriodSeconds = 1800
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
// idleMinReplicas for the idle color when set, else the color's own, else
// spec.autoscaling's. It is 0 without autoscaling.
func (s *AppSpec) MinReplicasOf(c Color) int32 {
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

// metric checks one autoscaling/v2 metric as the API server does: the
// source that its type names, and no other, with its target.
func (v *validator) metric(path string, m autoscalingv2.MetricSpec) {
	sources := map[autoscalingv2.MetricSourceType]bool{
		autoscalingv2.ObjectMetricSourceType:            m.Object != nil,
		autoscalingv2.PodsMetricSourceType:              m.Pods != nil,
		autoscalingv2.ResourceMetricSourceType:          m.Resource != nil,
		autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil,
		autoscalingv2.ExternalMetricSourceType:          m.External != nil,
	}
	set, known := sources[m.Type]
	switch {
	case m.Type == "":
		v.add(path+".type", "required: Resource, ContainerResource, Pods, Object or External")
		return
	case !known:
		v.add(path+".type", "%q: want Resource, ContainerResource, Pods, Object or External", m.Type)
		return
	case !set:
		v.add(path, "type %s needs its %s block", m.Type, sourceField(m.Type))
		return
	}
	for t, has := range sources {
		if has && t != m.Type {
			v.add(path+"."+sourceField(t), "type is %s: set only its %s block", m.Type, sourceField(m.Type))
		}
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		v.resourceMetric(path+".resource", m.Resource.Name, m.Resource.Target)
	case autoscalingv2.ContainerResourceMetricSourceType:
		cr := m.ContainerResource
		if cr.Container == "" {
			v.add(path+".containerResource.container", "required: the container whose usage counts")
		} else if cr.Container != v.app.Spec.ContainerName {
			v.add(path+".containerResource.container", "%q is not the app's container (%s)", cr.Container, v.app.Spec.ContainerName)
		}
		v.resourceMetric(path+".containerResource", cr.Name, cr.Target)
	case autoscalingv2.PodsMetricSourceType:
		v.metricIdentifier(path+".pods.metric", m.Pods.Metric)
		v.target(path+".pods.target", m.Pods.Target, autoscalingv2.AverageValueMetricType)
	case autoscalingv2.ObjectMetricSourceType:
		o := m.Object
		if o.DescribedObject.Kind == "" {
			v.add(path+".object.describedObject.kind", "required")
		}
		if o.DescribedObject.Name == "" {
			v.add(path+".object.describedObject.name", "required")
		}
		v.metricIdentifier(path+".object.metric", o.Metric)
		v.target(path+".object.target", o.Target, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType)
	case autoscalingv2.ExternalMetricSourceType:
		v.metricIdentifier(path+".external.metric", m.External.Metric)
		v.target(path+".external.target", m.External.Target, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType)
	}
}

// sourceField is the field of MetricSpec that holds a source type.
func sourceField(t autoscalingv2.MetricSourceType) string {
	switch t {
	case autoscalingv2.ContainerResourceMetricSourceType:
		return "containerResource"
	case autoscalingv2.ExternalMetricSourceType:
		return "external"
	case autoscalingv2.ObjectMetricSourceType:
		return "object"
	case autoscalingv2.PodsMetricSourceType:
		return "pods"
	}
	return "resource"
}

// resourceMetric checks a Resource or ContainerResource source: a
// utilization is a share of the request, so the request must be set.
func (v *validator) resourceMetric(path string, name corev1.ResourceName, t autoscalingv2.MetricTarget) {
	if name == "" {
		v.add(path+".name", "required: cpu or memory")
		return
	}
	for _, msg := range validation.IsQualifiedName(string(name)) {
		v.add(path+".name", "%q: %s", name, msg)
	}
	v.target(path+".target", t, autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType)
	if t.Type == autoscalingv2.UtilizationMetricType {
		v.resourceRequest(path+".target.averageUtilization", name, "is a share of the pods' request")
	}
}

// resourceRequest requires spec.resources.requests[name] for a
// utilization metric: without it the HPA cannot compute one and does not
// scale.
func (v *validator) resourceRequest(path string, name corev1.ResourceName, why string) {
	if _, ok := v.app.Spec.Resources.Requests[name]; !ok {
		v.add(path, "%s, but spec.resources.requests.%s is not set: the HPA could not compute it and would not scale", why, name)
	}
}

// metricIdentifier checks the name and selector of a custom or external metric.
func (v *validator) metricIdentifier(path string, id autoscalingv2.MetricIdentifier) {
	if id.Name == "" {
		v.add(path+".name", "required: the metric's name")
	}
	v.selector(path+".selector", id.Selector)
}

// target checks a metric target: its type is one of allowed, and the one
// value that type reads is set and positive.
func (v *validator) target(path string, t autoscalingv2.MetricTarget, allowed ...autoscalingv2.MetricTargetType) {
	ok := false
	for _, a := range allowed {
		ok = ok || t.Type == a
	}
	if !ok {
		v.add(path+".type", "%q: want %s", t.Type, orList(allowed))
		return
	}
	positive := func(field string, q *resource.Quantity) {
		switch {
		case q == nil:
			v.add(path+"."+field, "required with type %s", t.Type)
		case q.Sign() <= 0:
			v.add(path+"."+field, "must be positive, got %s", q.String())
		}
	}
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		switch {
		case t.AverageUtilization == nil:
			v.add(path+".averageUtilization", "required with type Utilization: a percentage of the request")
		case *t.AverageUtilization < 1:
			v.add(path+".averageUtilization", "must be at least 1, got %d", *t.AverageUtilization)
		}
	case autoscalingv2.ValueMetricType:
		positive("value", t.Value)
	case autoscalingv2.AverageValueMetricType:
		positive("averageValue", t.AverageValue)
	}
}

// orList writes metric target types as "A, B or C".
func orList(ts []autoscalingv2.MetricTargetType) string {
	out := ""
	for i, t := range ts {
		switch {
		case i == 0:
		case i == len(ts)-1:
			out += " or "
		default:
			out += ", "
		}
		out += string(t)
	}
	return out
}

// scalingRules checks a behavior's scaleUp or scaleDown.
func (v *validator) scalingRules(path string, r *autoscalingv2.HPAScalingRules) {
	if r == nil {
		return
	}
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > maxStabilizationWindowSeconds) {
		v.add(path+".stabilizationWindowSeconds", "%d is out of range (0-%d)", *w, maxStabilizationWindowSeconds)
	}
	if p := r.SelectPolicy; p != nil {
		switch *p {
		case autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect:
		default:
			v.add(path+".selectPolicy", "%q: want Max, Min or Disabled", *p)
		}
	}
	for i, p := range r.Policies {
		pp := indexPath(path+".policies", i)
		if p.Type != autoscalingv2.PodsScalingPolicy && p.Type != autoscalingv2.PercentScalingPolicy {
			v.add(pp+".type", "%q: want Pods or Percent", p.Type)
		}
		if p.Value < 1 {
			v.add(pp+".value", "must be at least 1, got %d", p.Value)
		}
		if p.PeriodSeconds < 1 || p.PeriodSeconds > maxScalingPolicyPeriodSeconds {
			v.add(pp+".periodSeconds", "%d is out of range (1-%d)", p.PeriodSeconds, maxScalingPolicyPeriodSeconds)
		}
	}
	if q := r.Tolerance; q != nil && q.Sign() < 0 {
		v.add(path+".tolerance", "must not be negative, got %s", q.String())
	}
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
