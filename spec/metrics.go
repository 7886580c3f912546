// Checks of spec.autoscaling's metrics and behavior, as the API server
// checks an autoscaling/v2 HorizontalPodAutoscaler's: each metric's source
// and target, and the scaling rules.

package spec

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits of an HPA's behavior, as the API server enforces them.
const (
	maxStabilizationWindowSeconds = 3600
	maxScalingPolicyPeriodSeconds = 1800
)

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
