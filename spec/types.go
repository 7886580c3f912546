package spec

import (
	"maps"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Group, version and kind of the app spec.
const (
	APIVersion = "bgrender.io/v1alpha1"
	Kind       = "BlueGreenApp"
)

// Color is one of the two environments.
type Color string

// The two colors.
const (
	Blue  Color = "blue"
	Green Color = "green"
)

// Colors lists both colors in a fixed order.
var Colors = []Color{Blue, Green}

// Other returns the opposite color.
func (c Color) Other() Color {
	if c == Blue {
		return Green
	}
	return Blue
}

// Valid reports whether c is blue or green.
func (c Color) Valid() bool { return c == Blue || c == Green }

// BlueGreenApp is one application rendered as a blue and a green Deployment
// behind an active and a preview Service.
type BlueGreenApp struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       AppSpec    `json:"spec"`

	// Source says where the document came from; it is not part of the YAML.
	Source Source `json:"-"`
}

// ObjectMeta is the part of Kubernetes object metadata that a spec carries.
type ObjectMeta struct {
	// Name is a DNS-1123 label; rendered objects are named after it.
	Name string `json:"name"`
	// Namespace of every rendered object; empty leaves it to the applier.
	Namespace string `json:"namespace,omitempty"`
	// Labels are copied onto every rendered object.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are copied onto every rendered object.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AppSpec is the desired blue/green state.
type AppSpec struct {
	// Active is the color the main Service routes to (default blue).
	Active Color `json:"active,omitempty"`
	// ColorLabel is the label key that carries the color (default bgrender.io/color).
	ColorLabel string `json:"colorLabel,omitempty"`
	// SelectorLabels identify the app's pods, besides the color label
	// (default app.kubernetes.io/name: <name>). The article uses {app: <name>}.
	SelectorLabels map[string]string `json:"selectorLabels,omitempty"`
	// Blue and Green hold what differs between the colors.
	Blue  ColorSpec `json:"blue"`
	Green ColorSpec `json:"green"`
	// Replicas per color unless the color overrides it (default 1).
	Replicas *int32 `json:"replicas,omitempty"`
	// IdleReplicas, when set, is the replica count of the idle color (0 scales it down).
	IdleReplicas *int32 `json:"idleReplicas,omitempty"`
	// Autoscaling, when set, renders an autoscaling/v2
	// HorizontalPodAutoscaler per color and leaves the Deployments'
	// replicas to it; replicas and idleReplicas are then not set.
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
	// MaxSurge is how many pods above its count a color's rollout starts
	// at once: a number, or a percentage of the color's replicas (default
	// 25%; 100% starts the new pods together, as the new ReplicaSet of an
	// Argo Rollouts blueGreen Rollout does). The old pods go as the new
	// ones become ready: maxUnavailable is always 0.
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// ContainerName of the application container (default: the app name).
	ContainerName string `json:"containerName,omitempty"`
	// Ports the container listens on and the Services expose.
	Ports []Port `json:"ports"`
	// HealthCheck becomes the readiness probe.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Env is shared by both colors.
	Env []corev1.EnvVar `json:"env,omitempty"`
	// EnvFrom is shared by both colors.
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// Resources of the application container.
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// PodAnnotations are added to the pod template of both colors.
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
	// SecurityContext tunes the restricted-by-default pod security settings.
	SecurityContext *SecuritySpec `json:"securityContext,omitempty"`
	// Service configures the active Service.
	Service ServiceSpec `json:"service,omitempty"`
	// Ingress, when set, routes host to the active and previewHost to the preview Service.
	Ingress *IngressSpec `json:"ingress,omitempty"`
	// NetworkPolicy isolates the colors from each other (enabled by default).
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`
	// Quota renders a ResourceQuota for the namespace when enabled.
	Quota QuotaSpec `json:"quota,omitempty"`
	// Drain configures connection draining on pod shutdown.
	Drain DrainSpec `json:"drain,omitempty"`
	// DisruptionBudget tunes the PodDisruptionBudget of each color. By
	// default a color that runs 2 or more replicas gets one with
	// maxUnavailable 1.
	DisruptionBudget *DisruptionBudgetSpec `json:"disruptionBudget,omitempty"`
	// TopologySpreadConstraints of each color's pods. By default each color
	// spreads across zones and nodes with whenUnsatisfiable ScheduleAnyway,
	// so that small clusters still schedule; an empty list renders none. A
	// constraint without labelSelector selects the pods of its color.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// Traffic, when set, splits requests between the colors by weight
	// through a Gateway API HTTPRoute, instead of sending all of them to
	// the active color.
	Traffic *TrafficSpec `json:"traffic,omitempty"`
	// Gates are the checks a promotion must pass, kept in Git where
	// reviewers see them: promote, deploy --wait, check and guard run them
	// by default, and a flag overrides one setting at a time.
	Gates *GatesSpec `json:"gates,omitempty"`
	// Migrations are the database migration Jobs of a release: expand
	// runs with each new image before the color gets traffic.
	Migrations *MigrationsSpec `json:"migrations,omitempty"`
	// Scheduling of both colors' pods; a color's own scheduling replaces
	// each field it sets.
	Scheduling `json:",inline"`
}

// TrafficSpec splits traffic between the colors.
type TrafficSpec struct {
	// Weight is the idle color's share of requests, in percent (0–100,
	// default 0); the active color gets the rest.
	Weight *int32 `json:"weight,omitempty"`
	// Header names the request header that sends a request to the color
	// it names at any weight, for testers (default x-bgrender-color).
	Header string `json:"header,omitempty"`
	// Gateway routes through the Kubernetes Gateway API.
	Gateway *GatewayRouteSpec `json:"gateway,omitempty"`
	// NGINX routes through ingress-nginx canary annotations: the Ingress
	// <name> of spec.ingress keeps sending requests to the active color,
	// and a canary Ingress <name>-canary sends weight percent of them, and
	// those whose header names the idle color, to the idle color. Exactly
	// one of gateway and nginx is set; nginx requires spec.ingress.
	NGINX *NGINXCanarySpec `json:"nginx,omitempty"`
	// CanaryColor, with nginx, is the color the canary Ingress sends to
	// (default: the idle color), and weight is then that color's share.
	// promote --steps writes it for the one commit that flips the Services
	// while the canary carries all requests, so that the canary stays on
	// the new color until the Services follow; the next commit (weight 0)
	// removes it.
	CanaryColor Color `json:"canaryColor,omitempty"`
}

// NGINXCanarySpec is the canary Ingress <name>-canary. It has no fields
// yet: the canary reuses spec.ingress's className, host, path and TLS.
type NGINXCanarySpec struct{}

// GatewayRouteSpec is the HTTPRoute <name>: its parents, hostnames and
// path, and per-color Services <name>-blue and <name>-green as backends.
type GatewayRouteSpec struct {
	// ParentRefs are the Gateways (or listeners) the route attaches to.
	ParentRefs []ParentRef `json:"parentRefs"`
	// Hostnames the route matches (default: the Gateway's).
	Hostnames []string `json:"hostnames,omitempty"`
	// Path prefix the route matches (default /).
	Path string `json:"path,omitempty"`
}

// ParentRef names a Gateway, as an HTTPRoute's parentRefs entry.
type ParentRef struct {
	// Name of the Gateway (required).
	Name string `json:"name"`
	// Namespace of the Gateway (default: the app's).
	Namespace string `json:"namespace,omitempty"`
	// SectionName is the Gateway's listener.
	SectionName string `json:"sectionName,omitempty"`
	// Port of the Gateway's listener.
	Port *int32 `json:"port,omitempty"`
}

// GatesSpec are the promotion checks, run in this order, each only when
// its block is present: rollout, health, warm-up, error rate; and the
// guard's watch after a flip. Durations are Go durations ("30s", "5m").
type GatesSpec struct {
	Rollout   *RolloutGateSpec   `json:"rollout,omitempty"`
	Health    *HealthGateSpec    `json:"health,omitempty"`
	WarmUp    *WarmUpGateSpec    `json:"warmUp,omitempty"`
	ErrorRate *ErrorRateGateSpec `json:"errorRate,omitempty"`
	Guard     *GuardGateSpec     `json:"guard,omitempty"`
	// Capacity runs the capacity gate before every flip of the folder,
	// even one that reads no cluster otherwise.
	Capacity *CapacityGateSpec `json:"capacity,omitempty"`
}

// CapacityGateSpec: before traffic moves to a color, it must have as many
// ready pods as its share of what the live color runs now. Its presence
// turns the gate on (--capacity=false turns it off).
type CapacityGateSpec struct {
	// Match makes every promote of the folder a promote --match-capacity:
	// raise the color's floor first instead of being refused.
	Match bool `json:"match,omitempty"`
}

// RolloutGateSpec waits until the color's Deployment is fully rolled out.
type RolloutGateSpec struct {
	// Timeout of the wait (default 5m).
	Timeout string `json:"timeout,omitempty"`
}

// HealthGateSpec requests a path of the color about to go live.
type HealthGateSpec struct {
	// Path is requested through the API server's service proxy to the
	// preview Service; URL is requested directly instead. Exactly one.
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
	// Port of the preview Service, a name or a number (default: its first).
	Port *intstr.IntOrString `json:"port,omitempty"`
	// Attempts before the gate refuses, with exponential backoff from 1s
	// (default 5).
	Attempts *int32 `json:"attempts,omitempty"`
}

// WarmUpGateSpec requests paths before the flip; a 5xx refuses.
type WarmUpGateSpec struct {
	Paths []string `json:"paths"`
	// Requests per path (default 1).
	Requests *int32 `json:"requests,omitempty"`
}

// ErrorRateGateSpec reads the color's share of failed requests from
// Prometheus, as an Argo Rollouts AnalysisTemplate measures a metric:
// count measurements, interval apart; the gate refuses when more than
// failureLimit of them are at or above maxPercent. An inconclusive
// measurement (no data, unless noData is pass; a query error) blocks.
type ErrorRateGateSpec struct {
	// PrometheusURL is Prometheus's base URL (required).
	PrometheusURL string `json:"prometheusURL"`
	// Query is PromQL returning a percentage, with the placeholders
	// {{app}} {{namespace}} {{colorLabel}} {{color}} {{window}} (default:
	// the 5xx share of http_requests_total).
	Query string `json:"query,omitempty"`
	// MaxPercent refuses at or above this percentage (0 < max <= 100; required).
	MaxPercent float64 `json:"maxPercent"`
	// Window of the default query's rate (default 1m).
	Window string `json:"window,omitempty"`
	// Count of measurements (default 1), Interval apart (default 30s).
	Count    *int32 `json:"count,omitempty"`
	Interval string `json:"interval,omitempty"`
	// FailureLimit is how many measurements may fail before the gate
	// refuses (default 0).
	FailureLimit *int32 `json:"failureLimit,omitempty"`
	// NoData is block (default: a query without data refuses) or pass.
	NoData string `json:"noData,omitempty"`
}

// GuardGateSpec is guard's watch of the live color after a flip.
type GuardGateSpec struct {
	// For how long to watch (default 5m), looking every Interval (default 10s).
	For      string `json:"for,omitempty"`
	Interval string `json:"interval,omitempty"`
	// MaxPercent of failed requests that rolls back (default:
	// errorRate.maxPercent).
	MaxPercent *float64 `json:"maxPercent,omitempty"`
}

// Scheduling places the pods on nodes.
type Scheduling struct {
	// NodeSelector the pods' nodes must match.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations of the pods, for tainted node pools.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Affinity of the pods (node affinity, pod affinity and anti-affinity).
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// PriorityClassName of the pods.
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// ColorSpec is what one color runs.
type ColorSpec struct {
	// Image of the application container (required).
	Image string `json:"image"`
	// Replicas overrides spec.replicas for this color.
	Replicas *int32 `json:"replicas,omitempty"`
	// Autoscaling overrides spec.autoscaling's bounds for this color.
	Autoscaling *ColorAutoscalingSpec `json:"autoscaling,omitempty"`
	// Env is added after the shared env; a variable of the same name replaces the shared one.
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Scheduling of this color: each field set here replaces the shared one.
	Scheduling `json:",inline"`
}

// AutoscalingSpec is the HorizontalPodAutoscaler <name>-<color> of each
// color, in autoscaling/v2 terms; its scaleTargetRef is the color's
// Deployment.
type AutoscalingSpec struct {
	// MinReplicas is the fewest pods of a color (default 1; 0 is refused:
	// it needs the HPAScaleToZero feature gate).
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxReplicas is the most pods of a color (required).
	MaxReplicas int32 `json:"maxReplicas"`
	// IdleMinReplicas, when set, is the idle color's minReplicas, as
	// idleReplicas is its replica count without autoscaling.
	IdleMinReplicas *int32 `json:"idleMinReplicas,omitempty"`
	// Metrics as an autoscaling/v2 HPA writes them (default: CPU
	// utilization 80%, the API server's default).
	Metrics []autoscalingv2.MetricSpec `json:"metrics,omitempty"`
	// Behavior tunes how fast the HPA scales up and down.
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

// ColorAutoscalingSpec overrides spec.autoscaling's bounds for one color.
type ColorAutoscalingSpec struct {
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`
	// MatchedMinReplicas is the floor that promote --match-capacity raised
	// the color to before a flip: what the live color ran. It overrides
	// every other minReplicas of the color (idleMinReplicas too) until the
	// promotion's last commit removes it, so that the floor the user
	// configured stays written where it was.
	MatchedMinReplicas *int32 `json:"matchedMinReplicas,omitempty"`
}

// Port is one container port and the Service port in front of it.
type Port struct {
	// Name is an IANA_SVC_NAME (default http for a single port).
	Name string `json:"name,omitempty"`
	// ContainerPort the application listens on.
	ContainerPort int32 `json:"containerPort"`
	// ServicePort the Services expose (default: containerPort).
	ServicePort int32 `json:"servicePort,omitempty"`
	// Protocol is TCP (default), UDP or SCTP.
	Protocol corev1.Protocol `json:"protocol,omitempty"`
}

// HealthCheck is an HTTP readiness check.
type HealthCheck struct {
	// Path of the HTTP GET (default /health).
	Path string `json:"path,omitempty"`
	// Port is a port name from spec.ports or a container port number (default: the first port).
	Port intstr.IntOrString `json:"port,omitempty"`
	// InitialDelaySeconds before the first check.
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// PeriodSeconds between checks (default 10).
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// TimeoutSeconds of one check (default 1).
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// FailureThreshold of consecutive failures (default 3).
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
	// Liveness also renders the check as a liveness probe.
	Liveness bool `json:"liveness,omitempty"`
}

// SecuritySpec tunes the pod security settings, which pass the restricted
// Pod Security Standard whatever is set here.
type SecuritySpec struct {
	// RunAsUser is the numeric user of the container (must not be 0).
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is the numeric primary group.
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// FSGroup owns mounted volumes.
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// ReadOnlyRootFilesystem (default true); a writable /tmp is mounted either way.
	ReadOnlyRootFilesystem *bool `json:"readOnlyRootFilesystem,omitempty"`
}

// ServiceSpec configures the active Service; the preview Service is always ClusterIP.
type ServiceSpec struct {
	// Type of the active Service (default ClusterIP).
	Type corev1.ServiceType `json:"type,omitempty"`
	// SessionAffinity is None (default) or ClientIP.
	SessionAffinity corev1.ServiceAffinity `json:"sessionAffinity,omitempty"`
	// SessionAffinityTimeoutSeconds for ClientIP affinity (default 10800).
	SessionAffinityTimeoutSeconds *int32 `json:"sessionAffinityTimeoutSeconds,omitempty"`
	// Annotations of the active Service (for example a load balancer type).
	Annotations map[string]string `json:"annotations,omitempty"`
}

// IngressSpec routes a host to the active Service and a preview host to the preview Service.
type IngressSpec struct {
	// ClassName of the ingress controller.
	ClassName string `json:"className,omitempty"`
	// Host routed to the active Service (required).
	Host string `json:"host"`
	// PreviewHost routed to the preview Service; empty renders no preview Ingress.
	PreviewHost string `json:"previewHost,omitempty"`
	// Path prefix (default /).
	Path string `json:"path,omitempty"`
	// PathType is Prefix (default), Exact or ImplementationSpecific.
	PathType networkingv1.PathType `json:"pathType,omitempty"`
	// TLSSecretName, when set, terminates TLS for both hosts with this Secret.
	TLSSecretName string `json:"tlsSecretName,omitempty"`
	// Annotations of both Ingresses.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NetworkPolicyMode says what the per-color NetworkPolicies admit.
type NetworkPolicyMode string

// The NetworkPolicy modes.
const (
	// NetworkPolicyStandard separates the colors and admits, on the app's
	// ports, everything the spec sets up: its own color, the Ingress
	// controller, outside clients of a LoadBalancer or NodePort Service,
	// Prometheus, the apiServer and allowFrom peers. Egress is restricted
	// only when egress rules are declared.
	NetworkPolicyStandard NetworkPolicyMode = "standard"
	// NetworkPolicyStrict admits only the pods of the same color and the
	// allowFrom peers, and lets the pods send only to DNS, their own color
	// and the egress rules.
	NetworkPolicyStrict NetworkPolicyMode = "strict"
)

// NetworkPolicySpec configures the per-color NetworkPolicies.
type NetworkPolicySpec struct {
	// Enabled renders the policies (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// Mode is standard (default) or strict.
	Mode NetworkPolicyMode `json:"mode,omitempty"`
	// IngressController is where the controller of the rendered Ingress
	// runs (default: namespace ingress-nginx); standard mode admits it when
	// spec.ingress is set.
	IngressController *PeerSpec `json:"ingressController,omitempty"`
	// Prometheus is where the Prometheus that scrapes the app runs (default:
	// namespace monitoring); standard mode admits it.
	Prometheus *PeerSpec `json:"prometheus,omitempty"`
	// ExternalCIDRs are the outside clients that standard mode admits when
	// the Service is LoadBalancer or NodePort (default 0.0.0.0/0 and ::/0).
	ExternalCIDRs []string `json:"externalCIDRs,omitempty"`
	// PodCIDRs of the cluster are excepted from externalCIDRs, so that on
	// CNIs that match ipBlocks against pod IPs (Calico does) the rule for
	// outside clients cannot admit the other color.
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// APIServer peers are where the API server's service proxy (the health
	// gate) arrives from, such as an ipBlock of the control plane.
	APIServer []networkingv1.NetworkPolicyPeer `json:"apiServer,omitempty"`
	// AllowFrom peers may also reach the app's ports (other apps, say).
	AllowFrom []networkingv1.NetworkPolicyPeer `json:"allowFrom,omitempty"`
	// Egress rules, when declared, restrict what the pods may send to: DNS,
	// their own color, and these rules.
	Egress []networkingv1.NetworkPolicyEgressRule `json:"egress,omitempty"`
}

// PeerSpec names the pods of another namespace that may reach the app.
type PeerSpec struct {
	// Enabled admits the peer (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// Namespace the peer runs in, matched by its kubernetes.io/metadata.name
	// label.
	Namespace string `json:"namespace,omitempty"`
	// PodLabels narrow the peer to the pods carrying them (default: every
	// pod of the namespace).
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// QuotaSpec configures the ResourceQuota.
type QuotaSpec struct {
	// Enabled renders a ResourceQuota named after the app.
	Enabled bool `json:"enabled,omitempty"`
	// HeadroomPercent added to the computed figures (default 25).
	HeadroomPercent *int32 `json:"headroomPercent,omitempty"`
	// Hard, when set, is used as is instead of the computed figures.
	Hard corev1.ResourceList `json:"hard,omitempty"`
}

// DrainSpec configures connection draining when a pod stops.
type DrainSpec struct {
	// PreStopSleepSeconds the container keeps serving after it is removed from endpoints (default 5).
	PreStopSleepSeconds *int64 `json:"preStopSleepSeconds,omitempty"`
	// TerminationGracePeriodSeconds of the pod (default 30).
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// DisruptionBudgetSpec is copied into the PodDisruptionBudget of each color.
type DisruptionBudgetSpec struct {
	// Enabled renders the budgets (default true). With neither
	// minAvailable nor maxUnavailable, a color that runs 2 or more replicas
	// gets maxUnavailable 1; with either, both colors get a budget.
	Enabled        *bool               `json:"enabled,omitempty"`
	MinAvailable   *intstr.IntOrString `json:"minAvailable,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// Source locates a document: its file, its index in a multi-document file,
// and the line of every field path that was present.
type Source struct {
	File  string
	Index int
	Line  int
	lines map[string]int
}

// Has reports whether the field at path was written in the document
// (rather than filled in by Default).
func (s Source) Has(path string) bool {
	_, ok := s.lines[path]
	return ok
}

// LineOf returns the line of the field at path, or of its nearest parent
// that was present in the document.
func (s Source) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return s.Line
}

// DeepCopy returns a copy of p that shares nothing with it.
func (p *PeerSpec) DeepCopy() *PeerSpec {
	if p == nil {
		return nil
	}
	out := *p
	if p.Enabled != nil {
		out.Enabled = ptr.To(*p.Enabled)
	}
	out.PodLabels = maps.Clone(p.PodLabels)
	return &out
}
