package spec

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Defaults that are not obvious from the field documentation.
const (
	DefaultColorLabel             = "bgrender.io/color"
	DefaultNameLabel              = "app.kubernetes.io/name"
	DefaultReplicas               = int32(1)
	DefaultHeadroomPercent        = int32(25)
	DefaultPreStopSleepSeconds    = int64(5)
	DefaultGracePeriodSeconds     = int64(30)
	DefaultAffinityTimeoutSeconds = int32(10800)
	// DefaultMaxSurge is the Deployment controller's own default, which
	// explicit quotas were sized for before spec.maxSurge existed; the
	// examples set 100% (see spec.maxSurge).
	DefaultMaxSurge = "25%"
	// DefaultTrafficHeader sends testers to the color it names.
	DefaultTrafficHeader = "x-bgrender-color"
	// DefaultIngressControllerNamespace is where the ingress-nginx chart
	// and manifests install the controller.
	DefaultIngressControllerNamespace = "ingress-nginx"
	// DefaultPrometheusNamespace is where kube-prometheus-stack and the
	// Prometheus Operator's quick start install Prometheus.
	DefaultPrometheusNamespace = "monitoring"
	// NamespaceNameLabel is the label that the API server sets on every
	// namespace to its name.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
)

// Defaults of spec.gates, as the flags of promote, check and guard
// default them. Durations are Go durations.
const (
	DefaultRolloutTimeout      = "5m"
	DefaultHealthAttempts      = int32(5)
	DefaultWarmRequests        = int32(1)
	DefaultErrorRateWindow     = "1m"
	DefaultMeasurements        = int32(1)
	DefaultMeasurementInterval = "30s"
	DefaultFailureLimit        = int32(0)
	DefaultGuardFor            = "5m"
	DefaultGuardInterval       = "10s"
)

// The values of spec.gates.errorRate.noData: what a measurement without
// data (no traffic) means.
const (
	// NoDataBlock: the measurement is inconclusive and the gate refuses.
	NoDataBlock = "block"
	// NoDataPass: the measurement passes.
	NoDataPass = "pass"
)

// DefaultExternalCIDRs are the outside clients admitted to a LoadBalancer
// or NodePort Service: everyone (of the families podCIDRs covers, when
// it is set).
var DefaultExternalCIDRs = []string{"0.0.0.0/0", "::/0"}

// Default fills every field that the user left empty. It is idempotent.
func Default(app *BlueGreenApp) {
	s := &app.Spec
	if s.Active == "" {
		s.Active = Blue
	}
	if s.ColorLabel == "" {
		s.ColorLabel = DefaultColorLabel
	}
	if len(s.SelectorLabels) == 0 {
		s.SelectorLabels = map[string]string{DefaultNameLabel: app.Metadata.Name}
	}
	if s.Replicas == nil && s.Autoscaling == nil {
		s.Replicas = ptr.To(DefaultReplicas)
	}
	DefaultAutoscaling(s.Autoscaling)
	DefaultMigrations(s.Migrations)
	if s.ContainerName == "" {
		s.ContainerName = app.Metadata.Name
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Name == "" && len(s.Ports) == 1 {
			p.Name = "http"
		}
		if p.ServicePort == 0 {
			p.ServicePort = p.ContainerPort
		}
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
	}
	if hc := s.HealthCheck; hc != nil {
		if hc.Path == "" {
			hc.Path = "/health"
		}
		if hc.Port.Type == intstr.Int && hc.Port.IntVal == 0 && len(s.Ports) > 0 {
			if s.Ports[0].Name != "" {
				hc.Port = intstr.FromString(s.Ports[0].Name)
			} else {
				hc.Port = intstr.FromInt32(s.Ports[0].ContainerPort)
			}
		}
		if hc.PeriodSeconds == 0 {
			hc.PeriodSeconds = 10
		}
		if hc.TimeoutSeconds == 0 {
			hc.TimeoutSeconds = 1
		}
		if hc.FailureThreshold == 0 {
			hc.FailureThreshold = 3
		}
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &SecuritySpec{}
	}
	if s.SecurityContext.ReadOnlyRootFilesystem == nil {
		s.SecurityContext.ReadOnlyRootFilesystem = ptr.To(true)
	}
	if s.Service.Type == "" {
		s.Service.Type = corev1.ServiceTypeClusterIP
	}
	if s.Service.SessionAffinity == "" {
		s.Service.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.Service.SessionAffinity == corev1.ServiceAffinityClientIP && s.Service.SessionAffinityTimeoutSeconds == nil {
		s.Service.SessionAffinityTimeoutSeconds = ptr.To(DefaultAffinityTimeoutSeconds)
	}
	if ing := s.Ingress; ing != nil {
		if ing.Path == "" {
			ing.Path = "/"
		}
		if ing.PathType == "" {
			ing.PathType = networkingv1.PathTypePrefix
		}
	}
	DefaultNetworkPolicy(&s.NetworkPolicy)
	if tr := s.Traffic; tr != nil {
		if tr.Weight == nil {
			tr.Weight = ptr.To(int32(0))
		}
		if tr.Header == "" {
			tr.Header = DefaultTrafficHeader
		}
		if g := tr.Gateway; g != nil && g.Path == "" {
			g.Path = "/"
		}
	}
	if s.DisruptionBudget == nil {
		s.DisruptionBudget = &DisruptionBudgetSpec{}
	}
	if s.DisruptionBudget.Enabled == nil {
		s.DisruptionBudget.Enabled = ptr.To(true)
	}
	if s.Quota.HeadroomPercent == nil {
		s.Quota.HeadroomPercent = ptr.To(DefaultHeadroomPercent)
	}
	if s.MaxSurge == nil {
		s.MaxSurge = ptr.To(intstr.FromString(DefaultMaxSurge))
	}
	if s.Drain.PreStopSleepSeconds == nil {
		s.Drain.PreStopSleepSeconds = ptr.To(DefaultPreStopSleepSeconds)
	}
	if s.Drain.TerminationGracePeriodSeconds == nil {
		s.Drain.TerminationGracePeriodSeconds = ptr.To(DefaultGracePeriodSeconds)
	}
	DefaultGates(s.Gates)
}

// DefaultGates fills the empty fields of the gate blocks that g has (a
// missing block stays missing: its gate does not run). The health port
// stays empty: it is the preview Service's first port, read at run time.
// The guard's maxPercent defaults to the error-rate gate's.
func DefaultGates(g *GatesSpec) {
	if g == nil {
		return
	}
	if r := g.Rollout; r != nil && r.Timeout == "" {
		r.Timeout = DefaultRolloutTimeout
	}
	if h := g.Health; h != nil && h.Attempts == nil {
		h.Attempts = ptr.To(DefaultHealthAttempts)
	}
	if w := g.WarmUp; w != nil && w.Requests == nil {
		w.Requests = ptr.To(DefaultWarmRequests)
	}
	if e := g.ErrorRate; e != nil {
		if e.Window == "" {
			e.Window = DefaultErrorRateWindow
		}
		if e.Count == nil {
			e.Count = ptr.To(DefaultMeasurements)
		}
		if e.Interval == "" {
			e.Interval = DefaultMeasurementInterval
		}
		if e.FailureLimit == nil {
			e.FailureLimit = ptr.To(DefaultFailureLimit)
		}
		if e.NoData == "" {
			e.NoData = NoDataBlock
		}
	}
	if gd := g.Guard; gd != nil {
		if gd.For == "" {
			gd.For = DefaultGuardFor
		}
		if gd.Interval == "" {
			gd.Interval = DefaultGuardInterval
		}
		if gd.MaxPercent == nil && g.ErrorRate != nil && g.ErrorRate.MaxPercent != 0 {
			gd.MaxPercent = ptr.To(g.ErrorRate.MaxPercent)
		}
	}
}

// DefaultNetworkPolicy fills the empty fields of np: enabled, standard
// mode, the Ingress controller in ingress-nginx, Prometheus in monitoring,
// and every address as an outside client.
func DefaultNetworkPolicy(np *NetworkPolicySpec) {
	if np.Enabled == nil {
		np.Enabled = ptr.To(true)
	}
	if np.Mode == "" {
		np.Mode = NetworkPolicyStandard
	}
	for peer, ns := range map[**PeerSpec]string{
		&np.IngressController: DefaultIngressControllerNamespace,
		&np.Prometheus:        DefaultPrometheusNamespace,
	} {
		if *peer == nil {
			*peer = &PeerSpec{}
		}
		if (*peer).Enabled == nil {
			(*peer).Enabled = ptr.To(true)
		}
		if (*peer).Namespace == "" {
			(*peer).Namespace = ns
		}
	}
	if np.ExternalCIDRs == nil {
		np.ExternalCIDRs = defaultExternalCIDRs(np.PodCIDRs)
	}
}

// defaultExternalCIDRs admits every address, of the families that the pod
// CIDRs cover when they are given: with only an IPv4 pod CIDR, an IPv6
// ::/0 could not be kept from admitting the pods of a dual-stack cluster,
// so it is left out (closed) rather than admitting the other color.
func defaultExternalCIDRs(pods []string) []string {
	if len(pods) == 0 {
		return slices.Clone(DefaultExternalCIDRs)
	}
	var v4, v6 bool
	for _, pc := range pods {
		if p, err := netip.ParsePrefix(pc); err == nil {
			v4, v6 = v4 || p.Addr().Is4(), v6 || !p.Addr().Is4()
		}
	}
	var out []string
	if v4 {
		out = append(out, DefaultExternalCIDRs[0])
	}
	if v6 {
		out = append(out, DefaultExternalCIDRs[1])
	}
	return out
}

// SchedulingOf returns the scheduling of color c: the shared settings with
// each field that the color sets replaced.
func (s *AppSpec) SchedulingOf(c Color) Scheduling {
	out := s.Scheduling
	own := s.ColorSpecOf(c).Scheduling
	if own.NodeSelector != nil {
		out.NodeSelector = own.NodeSelector
	}
	if own.Tolerations != nil {
		out.Tolerations = own.Tolerations
	}
	if own.Affinity != nil {
		out.Affinity = own.Affinity
	}
	if own.PriorityClassName != "" {
		out.PriorityClassName = own.PriorityClassName
	}
	return out
}

// ColorSpecOf returns the per-color settings of c.
func (s *AppSpec) ColorSpecOf(c Color) *ColorSpec {
	if c == Green {
		return &s.Green
	}
	return &s.Blue
}

// ReplicasOf returns the replica count of color c after defaults:
// idleReplicas for the idle color when set, else the color's own count,
// else spec.replicas. With autoscaling it is the color's floor, its HPA's
// minReplicas (MinReplicasOf).
func (s *AppSpec) ReplicasOf(c Color) int32 {
	if s.Autoscaled() {
		return s.MinReplicasOf(c)
	}
	if c != s.Active && s.IdleReplicas != nil {
		return *s.IdleReplicas
	}
	if r := s.ColorSpecOf(c).Replicas; r != nil {
		return *r
	}
	if s.Replicas != nil {
		return *s.Replicas
	}
	return DefaultReplicas
}

// Idle returns the color that the main Service does not route to.
func (s *AppSpec) Idle() Color { return s.Active.Other() }

// Shifted is the color that spec.traffic.weight sends requests to: the
// idle color, or the NGINX canary's canaryColor when set.
func (s *AppSpec) Shifted() Color {
	if tr := s.Traffic; tr != nil && tr.NGINX != nil && tr.CanaryColor != "" {
		return tr.CanaryColor
	}
	return s.Idle()
}
