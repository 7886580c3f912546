package spec

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LongestSuffix is the longest suffix bgrender appends to the app name.
const LongestSuffix = "-preview"

// MaxNameLength keeps every rendered name a valid DNS label.
const MaxNameLength = validation.DNS1035LabelMaxLength - len(LongestSuffix)

// imageRE follows the grammar of a container image reference:
// [host[:port]/]path[:tag][@digest].
var imageRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
		`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)
})

// ValidImage reports whether s is a container image reference:
// [registry/]repository[:tag][@digest], the repository in lower case.
func ValidImage(s string) bool { return imageRE().MatchString(s) }

// Validate checks a defaulted app and returns every problem, each located
// by file, line and field path.
func Validate(app *BlueGreenApp) ErrorList {
	v := &validator{app: app}
	v.metadata()
	v.colors()
	v.ports()
	v.healthCheck()
	v.env()
	v.resources()
	v.service()
	v.ingress()
	v.networkPolicy()
	v.quota()
	v.drain()
	v.disruptionBudget()
	v.scheduling("spec", app.Spec.Scheduling)
	for _, c := range Colors {
		v.scheduling("spec."+string(c), app.Spec.ColorSpecOf(c).Scheduling)
	}
	v.topologySpread()
	v.traffic()
	v.gates("spec.gates", app.Spec.Gates, app.Spec.Ports)
	v.sort()
	return v.errs
}

// sort orders the problems by line, then field path.
func (v *validator) sort() {
	sort.SliceStable(v.errs, func(i, j int) bool {
		if v.errs[i].Line != v.errs[j].Line {
			return v.errs[i].Line < v.errs[j].Line
		}
		return v.errs[i].Path < v.errs[j].Path
	})
}

type validator struct {
	app  *BlueGreenApp
	errs ErrorList
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{
		File: v.app.Source.File,
		Line: v.app.Source.LineOf(path),
		Path: path,
		Msg:  fmt.Sprintf(format, args...),
	})
}

func (v *validator) addAll(path string, msgs []string) {
	for _, m := range msgs {
		v.add(path, "%s", m)
	}
}

func (v *validator) metadata() {
	m := v.app.Metadata
	switch {
	case m.Name == "":
		v.add("metadata.name", "required")
	case len(m.Name) > MaxNameLength:
		v.add("metadata.name", "%q is %d characters; at most %d, so that %q is still a valid name", m.Name, len(m.Name), MaxNameLength, m.Name+LongestSuffix)
	default:
		for _, msg := range validation.IsDNS1035Label(m.Name) {
			v.add("metadata.name", "%q: %s", m.Name, msg)
		}
	}
	if m.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			v.add("metadata.namespace", "%q: %s", m.Namespace, msg)
		}
	}
	v.labels("metadata.labels", m.Labels)
	v.annotations("metadata.annotations", m.Annotations)
	if _, ok := m.Labels[v.app.Spec.ColorLabel]; ok {
		v.add(keyPath("metadata.labels", v.app.Spec.ColorLabel), "the color label %q is set by bgrender per color; remove it", v.app.Spec.ColorLabel)
	}
}

func (v *validator) labels(path string, labels map[string]string) {
	for k, val := range labels {
		p := keyPath(path, k)
		for _, msg := range content.IsLabelKey(k) {
			v.add(p, "key %q: %s", k, msg)
		}
		for _, msg := range content.IsLabelValue(val) {
			v.add(p, "value %q: %s", val, msg)
		}
	}
}

func (v *validator) annotations(path string, annotations map[string]string) {
	for k := range annotations {
		for _, msg := range content.IsLabelKey(k) {
			v.add(keyPath(path, k), "key %q: %s", k, msg)
		}
	}
}

func (v *validator) colors() {
	s := &v.app.Spec
	if !s.Active.Valid() {
		v.add("spec.active", "%q is not a color: expected blue or green", s.Active)
	}
	for _, msg := range content.IsLabelKey(s.ColorLabel) {
		v.add("spec.colorLabel", "%q: %s", s.ColorLabel, msg)
	}
	v.labels("spec.selectorLabels", s.SelectorLabels)
	if _, ok := s.SelectorLabels[s.ColorLabel]; ok {
		v.add(keyPath("spec.selectorLabels", s.ColorLabel), "must not contain the color label %q", s.ColorLabel)
	}
	v.nonNegative("spec.replicas", s.Replicas)
	v.nonNegative("spec.idleReplicas", s.IdleReplicas)
	for _, c := range Colors {
		cs := s.ColorSpecOf(c)
		path := "spec." + string(c)
		switch {
		case cs.Image == "":
			v.add(path+".image", "required: the image that the %s Deployment runs", c)
		case !imageRE().MatchString(cs.Image):
			v.add(path+".image", "%q is not a valid image reference (expected [registry/]repository[:tag][@digest], repository in lower case)", cs.Image)
		}
		v.nonNegative(path+".replicas", cs.Replicas)
		v.envVars(path+".env", cs.Env)
	}
	if s.ContainerName != v.app.Metadata.Name { // else it is the name, checked above
		for _, msg := range validation.IsDNS1123Label(s.ContainerName) {
			v.add("spec.containerName", "%q: %s", s.ContainerName, msg)
		}
	}
	v.annotations("spec.podAnnotations", s.PodAnnotations)
	if sc := s.SecurityContext; sc != nil {
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			v.add("spec.securityContext.runAsUser", "0 (root) is not allowed: pods must run as a non-root user")
		}
		for field, id := range map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup, "fsGroup": sc.FSGroup} {
			if id != nil && *id < 0 {
				v.add("spec.securityContext."+field, "must not be negative, got %d", *id)
			}
		}
	}
}

func (v *validator) nonNegative(path string, n *int32) {
	if n != nil && *n < 0 {
		v.add(path, "must not be negative, got %d", *n)
	}
}

func (v *validator) ports() {
	ports := v.app.Spec.Ports
	if len(ports) == 0 {
		v.add("spec.ports", "at least one port is required")
		return
	}
	names, containerPorts, servicePorts := map[string]int{}, map[string]int{}, map[int32]int{}
	for i, p := range ports {
		path := indexPath("spec.ports", i)
		switch {
		case p.Name == "":
			v.add(path+".name", "required when there is more than one port")
		default:
			for _, msg := range validation.IsValidPortName(p.Name) {
				v.add(path+".name", "%q: %s", p.Name, msg)
			}
			if j, dup := names[p.Name]; dup {
				v.add(path+".name", "%q is also the name of spec.ports[%d]", p.Name, j)
			}
			names[p.Name] = i
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			v.add(path+".containerPort", "%d is not a port number (1-65535)", p.ContainerPort)
		}
		if p.ServicePort < 1 || p.ServicePort > 65535 {
			v.add(path+".servicePort", "%d is not a port number (1-65535)", p.ServicePort)
		}
		switch p.Protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			v.add(path+".protocol", "%q: expected TCP, UDP or SCTP", p.Protocol)
		}
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
		if j, dup := containerPorts[key]; dup {
			v.add(path+".containerPort", "%d is also used by spec.ports[%d]", p.ContainerPort, j)
		}
		containerPorts[key] = i
		if j, dup := servicePorts[p.ServicePort]; dup {
			v.add(path+".servicePort", "%d is also used by spec.ports[%d]", p.ServicePort, j)
		}
		servicePorts[p.ServicePort] = i
	}
}

// findPort returns the index of the port that ref names or numbers, or -1.
func (s *AppSpec) findPort(ref intstr.IntOrString) int {
	for i, p := range s.Ports {
		if ref.Type == intstr.String && p.Name == ref.StrVal || ref.Type == intstr.Int && p.ContainerPort == ref.IntVal {
			return i
		}
	}
	return -1
}

func (v *validator) healthCheck() {
	hc := v.app.Spec.HealthCheck
	if hc == nil {
		return
	}
	if !strings.HasPrefix(hc.Path, "/") {
		v.add("spec.healthCheck.path", "%q must start with /", hc.Path)
	}
	if len(v.app.Spec.Ports) > 0 && v.app.Spec.findPort(hc.Port) < 0 {
		var known []string
		for _, p := range v.app.Spec.Ports {
			known = append(known, fmt.Sprintf("%s (%d)", p.Name, p.ContainerPort))
		}
		v.add("spec.healthCheck.port", "%q is not a port of spec.ports; known ports: %s", hc.Port.String(), strings.Join(known, ", "))
	}
	for field, n := range map[string]int32{"initialDelaySeconds": hc.InitialDelaySeconds, "periodSeconds": hc.PeriodSeconds, "timeoutSeconds": hc.TimeoutSeconds, "failureThreshold": hc.FailureThreshold} {
		if n < 0 {
			v.add("spec.healthCheck."+field, "must not be negative, got %d", n)
		}
	}
}

func (v *validator) env() {
	v.envVars("spec.env", v.app.Spec.Env)
	for i, e := range v.app.Spec.EnvFrom {
		path := indexPath("spec.envFrom", i)
		switch {
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			v.add(path, "set configMapRef or secretRef, not both")
		case e.ConfigMapRef != nil:
			v.refName(path+".configMapRef.name", e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			v.refName(path+".secretRef.name", e.SecretRef.Name)
		default:
			v.add(path, "configMapRef or secretRef is required")
		}
	}
}

func (v *validator) refName(path, name string) {
	if name == "" {
		v.add(path, "required")
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		v.add(path, "%q: %s", name, msg)
	}
}

func (v *validator) envVars(path string, env []corev1.EnvVar) {
	for i, e := range env {
		p := indexPath(path, i)
		if e.Name == "" {
			v.add(p+".name", "required")
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				v.add(p+".name", "%q: %s", e.Name, msg)
			}
		}
		if e.Value != "" && e.ValueFrom != nil {
			v.add(p, "set value or valueFrom, not both")
		}
	}
}

func (v *validator) resources() {
	r := v.app.Spec.Resources
	for name, q := range r.Requests {
		if q.Sign() < 0 {
			v.add(keyPath("spec.resources.requests", string(name)), "must not be negative, got %s", q.String())
		}
		if limit, ok := r.Limits[name]; ok && q.Cmp(limit) > 0 {
			v.add(keyPath("spec.resources.requests", string(name)), "request %s is more than the limit %s", q.String(), limit.String())
		}
	}
	for name, q := range r.Limits {
		if q.Sign() < 0 {
			v.add(keyPath("spec.resources.limits", string(name)), "must not be negative, got %s", q.String())
		}
	}
}

func (v *validator) service() {
	svc := v.app.Spec.Service
	switch svc.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		v.add("spec.service.type", "%q: expected ClusterIP, NodePort or LoadBalancer", svc.Type)
	}
	switch svc.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if svc.SessionAffinityTimeoutSeconds != nil {
			v.add("spec.service.sessionAffinityTimeoutSeconds", "only applies with sessionAffinity: ClientIP")
		}
	case corev1.ServiceAffinityClientIP:
		if t := *svc.SessionAffinityTimeoutSeconds; t < 1 || t > 86400 {
			v.add("spec.service.sessionAffinityTimeoutSeconds", "%d is out of range (1-86400)", t)
		}
	default:
		v.add("spec.service.sessionAffinity", "%q: expected None or ClientIP", svc.SessionAffinity)
	}
	v.annotations("spec.service.annotations", svc.Annotations)
}

func (v *validator) ingress() {
	ing := v.app.Spec.Ingress
	if ing == nil {
		return
	}
	v.host("spec.ingress.host", ing.Host, true)
	v.host("spec.ingress.previewHost", ing.PreviewHost, false)
	if ing.Host != "" && ing.Host == ing.PreviewHost {
		v.add("spec.ingress.previewHost", "must differ from host %q, or the preview would receive live traffic", ing.Host)
	}
	if !strings.HasPrefix(ing.Path, "/") {
		v.add("spec.ingress.path", "%q must start with /", ing.Path)
	}
	switch ing.PathType {
	case networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific:
	default:
		v.add("spec.ingress.pathType", "%q: expected Prefix, Exact or ImplementationSpecific", ing.PathType)
	}
	if ing.ClassName != "" {
		v.refName("spec.ingress.className", ing.ClassName)
	}
	if ing.TLSSecretName != "" {
		v.refName("spec.ingress.tlsSecretName", ing.TLSSecretName)
	}
	v.annotations("spec.ingress.annotations", ing.Annotations)
}

func (v *validator) host(path, host string, required bool) {
	if host == "" {
		if required {
			v.add(path, "required")
		}
		return
	}
	check := validation.IsDNS1123Subdomain
	if strings.HasPrefix(host, "*.") {
		check = validation.IsWildcardDNS1123Subdomain
	}
	for _, msg := range check(host) {
		v.add(path, "%q: %s", host, msg)
	}
}

func (v *validator) networkPolicy() {
	np := v.app.Spec.NetworkPolicy
	switch np.Mode {
	case NetworkPolicyStandard, NetworkPolicyStrict:
	default:
		v.add("spec.networkPolicy.mode", "%q: want standard or strict", np.Mode)
	}
	for field, peer := range map[string]*PeerSpec{"ingressController": np.IngressController, "prometheus": np.Prometheus} {
		path := "spec.networkPolicy." + field
		for _, msg := range validation.IsDNS1123Label(peer.Namespace) {
			v.add(path+".namespace", "%q: %s", peer.Namespace, msg)
		}
		v.labels(path+".podLabels", peer.PodLabels)
		if peer.Enabled != nil && *peer.Enabled && (field == "prometheus" || v.app.Spec.Ingress != nil) {
			as := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: peer.Namespace}}}
			if len(peer.PodLabels) > 0 {
				as.PodSelector = &metav1.LabelSelector{MatchLabels: peer.PodLabels}
			}
			v.peerSeparatesColors(path, as)
		}
	}
	for field, cidrs := range map[string][]string{"externalCIDRs": np.ExternalCIDRs, "podCIDRs": np.PodCIDRs} {
		for i, cidr := range cidrs {
			if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
				v.add(indexPath("spec.networkPolicy."+field, i), "%q is not a CIDR such as 10.244.0.0/16 (an address with its prefix length, host bits zero)", cidr)
			}
		}
	}
	for field, peers := range map[string][]networkingv1.NetworkPolicyPeer{"apiServer": np.APIServer, "allowFrom": np.AllowFrom} {
		for i, peer := range peers {
			path := indexPath("spec.networkPolicy."+field, i)
			v.peer(path, peer)
			v.peerSeparatesColors(path, peer)
			if peer.IPBlock != nil {
				v.insidePods(path+".ipBlock.cidr", peer.IPBlock.CIDR)
			}
		}
	}
	for i, rule := range np.Egress {
		path := indexPath("spec.networkPolicy.egress", i)
		for j, peer := range rule.To {
			v.peer(indexPath(path+".to", j), peer)
		}
		for j, port := range rule.Ports {
			pp := indexPath(path+".ports", j)
			if port.Port != nil && port.Port.Type == intstr.Int && (port.Port.IntVal < 1 || port.Port.IntVal > 65535) {
				v.add(pp+".port", "%d is not a port number (1-65535)", port.Port.IntVal)
			}
			if port.EndPort != nil {
				switch {
				case port.Port == nil || port.Port.Type != intstr.Int:
					v.add(pp+".endPort", "needs a numeric port")
				case *port.EndPort < port.Port.IntVal || *port.EndPort > 65535:
					v.add(pp+".endPort", "%d must be between port (%d) and 65535", *port.EndPort, port.Port.IntVal)
				}
			}
		}
	}
}

// selector checks a label selector as the API server would.
func (v *validator) selector(path string, sel *metav1.LabelSelector) {
	if sel == nil {
		return
	}
	for _, e := range metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("x")) {
		sub := strings.TrimPrefix(e.Field, "x")
		v.add(path+sub, "%s", e.ErrorBody())
	}
}

// insidePods refuses an ipBlock peer that lies within a pod CIDR: it
// selects pods, and so may select the other color.
func (v *validator) insidePods(path, cidr string) {
	outer, err := netip.ParsePrefix(cidr)
	if err != nil {
		return
	}
	for _, pc := range v.app.Spec.NetworkPolicy.PodCIDRs {
		inner, err := netip.ParsePrefix(pc)
		if err == nil && inner.Addr().Is4() == outer.Addr().Is4() && inner.Bits() <= outer.Bits() && inner.Contains(outer.Addr()) {
			v.add(path, "%s lies within podCIDRs %s: it selects pods, the other color's among them; name the client pods with a podSelector", cidr, pc)
		}
	}
}

// peerSeparatesColors refuses a peer that selects the app's own pods: it
// is admitted by both colors' policies, so it would let one color reach
// the other (a podSelector without namespaceSelector selects pods of the
// app's namespace; {} selects all of them).
func (v *validator) peerSeparatesColors(path string, peer networkingv1.NetworkPolicyPeer) {
	if peer.IPBlock != nil || (peer.PodSelector == nil && peer.NamespaceSelector == nil) {
		return
	}
	s := &v.app.Spec
	ns := v.app.Metadata.Namespace
	if sel := peer.NamespaceSelector; sel != nil {
		selector, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return // reported by the API server
		}
		switch {
		case selector.Empty():
		case ns == "" || !selector.Matches(labels.Set{NamespaceNameLabel: ns}):
			return // another namespace, or one this spec cannot tell
		}
	}
	var selects []string
	for _, c := range Colors {
		pod := labels.Set{DefaultNameLabel: v.app.Metadata.Name}
		for k, val := range v.app.Metadata.Labels {
			pod[k] = val
		}
		for k, val := range s.SelectorLabels {
			pod[k] = val
		}
		pod[s.ColorLabel] = string(c)
		match := peer.PodSelector == nil
		if !match {
			selector, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			match = err == nil && selector.Matches(pod)
		}
		if match {
			selects = append(selects, string(c))
		}
	}
	if len(selects) > 0 {
		v.add(path, "selects this app's own %s pods, which every color's policy would then admit: the colors would reach each other; narrow the selector to the client's pods (e.g. their app.kubernetes.io/name)", strings.Join(selects, " and "))
	}
}

func (v *validator) peer(path string, peer networkingv1.NetworkPolicyPeer) {
	selectors := peer.PodSelector != nil || peer.NamespaceSelector != nil
	switch {
	case peer.IPBlock != nil && selectors:
		v.add(path, "set ipBlock or podSelector/namespaceSelector, not both")
	case peer.IPBlock != nil:
		cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil || cidr.Masked() != cidr {
			v.add(path+".ipBlock.cidr", "%q is not a CIDR such as 10.0.0.0/8 (an address with its prefix length, host bits zero)", peer.IPBlock.CIDR)
		}
		for j, except := range peer.IPBlock.Except {
			e, eerr := netip.ParsePrefix(except)
			switch {
			case eerr != nil || e.Masked() != e:
				v.add(indexPath(path+".ipBlock.except", j), "%q is not a CIDR such as 10.0.0.0/24 (host bits zero)", except)
			case err == nil && (e.Addr().Is4() != cidr.Addr().Is4() || e.Bits() <= cidr.Bits() || !cidr.Contains(e.Addr())):
				v.add(indexPath(path+".ipBlock.except", j), "%q must be a strict subset of cidr %s", except, peer.IPBlock.CIDR)
			}
		}

	case !selectors:
		v.add(path, "a peer needs podSelector, namespaceSelector or ipBlock")
	}
	v.selector(path+".podSelector", peer.PodSelector)
	v.selector(path+".namespaceSelector", peer.NamespaceSelector)
}

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
	if !q.Enabled || len(q.Hard) == 0 {
		return
	}
	// An explicit quota must admit both colors at once, plus the pods that
	// a rolling update of either color adds (maxSurge 25%, maxUnavailable
	// 0), and every quota on a compute resource makes the API server reject
	// pods that do not declare it.
	surge := SurgePods(&v.app.Spec)
	need := Usage(&v.app.Spec, surge)
	res := v.app.Spec.Resources
	for _, qr := range quotaResources {
		name := qr.Name
		hard, ok := q.Hard[name]
		if !ok && !qr.Limit {
			// "cpu" and "memory" are the old names of requests.cpu and requests.memory.
			name = qr.Resource
			hard, ok = q.Hard[name]
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
			v.add(path, "%s is less than the %s that both colors need together, with %d surge pod(s) during a rollout", hard.String(), n.String(), surge)
		}
	}
	if hard, ok := q.Hard[corev1.ResourcePods]; ok {
		if n := need[corev1.ResourcePods]; n.Cmp(hard) > 0 {
			v.add(keyPath("spec.quota.hard", "pods"), "%s is less than the %s pods that both colors run together, with %d surge pod(s) during a rollout", hard.String(), n.String(), surge)
		}
	}
}

// SurgePods is how many extra pods a rolling update of the larger color
// starts (the rendered Deployments use maxSurge 25%, rounded up).
func SurgePods(s *AppSpec) int64 {
	n := int64(max(s.ReplicasOf(Blue), s.ReplicasOf(Green)))
	return (n + 3) / 4
}

// Usage sums what both colors request and limit at their replica counts,
// plus extra pods (such as SurgePods), as ResourceQuota keys.
func Usage(s *AppSpec, extra int64) corev1.ResourceList {
	pods := int64(s.ReplicasOf(Blue)) + int64(s.ReplicasOf(Green)) + extra
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

func (v *validator) disruptionBudget() {
	db := v.app.Spec.DisruptionBudget
	if db == nil {
		return
	}
	switch {
	case db.MinAvailable != nil && db.MaxUnavailable != nil:
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

// scheduling checks the scheduling fields at path (spec, or a color's).
func (v *validator) scheduling(path string, s Scheduling) {
	v.labels(path+".nodeSelector", s.NodeSelector)
	if s.PriorityClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.PriorityClassName) {
			v.add(path+".priorityClassName", "%q: %s", s.PriorityClassName, msg)
		}
	}
	for i, t := range s.Tolerations {
		tp := indexPath(path+".tolerations", i)
		if t.Key != "" {
			for _, msg := range validation.IsQualifiedName(t.Key) {
				v.add(tp+".key", "%q: %s", t.Key, msg)
			}
		}
		switch t.Operator {
		case "", corev1.TolerationOpEqual:
			if t.Key == "" {
				v.add(tp+".key", "required unless operator is Exists")
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				v.add(tp+".value", "must be empty when operator is Exists")
			}
		default:
			v.add(tp+".operator", "%q: want Equal or Exists", t.Operator)
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			v.add(tp+".effect", "%q: want NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			v.add(tp+".tolerationSeconds", "only applies to effect NoExecute")
		}
	}
}

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

// Warnings lists what is valid but likely not what the user meant: a
// default that does not fit the spec's own settings. Each is located like
// a validation problem.
func Warnings(app *BlueGreenApp) ErrorList {
	v := &validator{app: app}
	s := &app.Spec
	np := &s.NetworkPolicy
	if !*np.Enabled || np.Mode != NetworkPolicyStandard {
		return nil
	}
	exposed := s.Service.Type == corev1.ServiceTypeLoadBalancer || s.Service.Type == corev1.ServiceTypeNodePort
	if exposed && len(np.PodCIDRs) == 0 && len(np.ExternalCIDRs) > 0 {
		v.add("spec.networkPolicy.podCIDRs", "not set: the policies admit outside clients of the %s Service from %s, which on CNIs that match ipBlocks against pod addresses (Calico) also admits the other color; set it to the cluster's pod CIDR", s.Service.Type, strings.Join(np.ExternalCIDRs, " and "))
	}
	if exposed && len(np.PodCIDRs) > 0 {
		// A family of externalCIDRs that no pod CIDR covers: on a
		// dual-stack cluster its pod addresses are outside clients too.
		has := map[bool]bool{}
		for _, pc := range np.PodCIDRs {
			if p, err := netip.ParsePrefix(pc); err == nil {
				has[p.Addr().Is4()] = true
			}
		}
		for _, ec := range np.ExternalCIDRs {
			if p, err := netip.ParsePrefix(ec); err == nil && !has[p.Addr().Is4()] {
				v.add("spec.networkPolicy.podCIDRs", "has no %s range, but externalCIDRs admits %s: on a dual-stack cluster add its %s pod CIDR, or drop %s from externalCIDRs", family(p), ec, family(p), ec)
			}
		}
	}
	nginx := s.Traffic != nil && s.Traffic.NGINX != nil
	if s.Traffic != nil && ((s.Ingress != nil && !nginx) || exposed) {
		var by []string
		if s.Ingress != nil && !nginx {
			by = append(by, "spec.ingress")
		}
		if exposed {
			by = append(by, "the "+string(s.Service.Type)+" Service")
		}
		moves := "the HTTPRoute's share"
		if nginx {
			moves = "the canary Ingress's share"
		}
		v.add("spec.traffic", "%s send their clients to the active color only: shift and promote --steps move only %s", strings.Join(by, " and "), moves)
	}
	if ing := s.Ingress; ing != nil && ing.ClassName != "" && ing.ClassName != "nginx" && !app.Source.Has("spec.networkPolicy.ingressController") {
		v.add("spec.ingress.className", "%q: the policies admit the Ingress controller from namespace %s (the ingress-nginx default); set networkPolicy.ingressController to where the %s controller runs", ing.ClassName, np.IngressController.Namespace, ing.ClassName)
	}
	return v.errs
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func (v *validator) traffic() {
	tr := v.app.Spec.Traffic
	if tr == nil {
		return
	}
	if w := *tr.Weight; w < 0 || w > 100 {
		v.add("spec.traffic.weight", "%d is not a percentage (0-100)", w)
	} else if to := v.app.Spec.Shifted(); w > 0 && to.Valid() && v.app.Spec.ReplicasOf(to) == 0 {
		v.add("spec.traffic.weight", "%d%% of requests would go to %s, which runs 0 replicas (idleReplicas); scale it up or set the weight to 0", w, to)
	}
	if c := tr.CanaryColor; c != "" {
		switch {
		case !c.Valid():
			v.add("spec.traffic.canaryColor", "%q: want blue or green", c)
		case tr.NGINX == nil:
			v.add("spec.traffic.canaryColor", "only with nginx: it names the color of the canary Ingress")
		case c != v.app.Spec.Active || *tr.Weight != 100:
			v.add("spec.traffic.canaryColor", "%s: promote --steps writes it, as the active color with weight 100, for the one commit of a hand-over; remove it", c)
		}
	}
	if len(tr.Header) > 256 {
		v.add("spec.traffic.header", "is %d characters long, more than the Gateway API's 256", len(tr.Header))
	}
	for _, msg := range validation.IsHTTPHeaderName(tr.Header) {
		v.add("spec.traffic.header", "%q: %s", tr.Header, msg)
	}
	if tr.Gateway != nil && tr.NGINX != nil {
		v.add("spec.traffic.nginx", "set either gateway or nginx, not both: traffic is routed one way")
		return
	}
	if tr.NGINX != nil {
		ing := v.app.Spec.Ingress
		if ing == nil {
			v.add("spec.traffic.nginx", "requires spec.ingress: the canary Ingress reuses its className, host, path and tls")
			return
		}
		var canary []string
		for k := range ing.Annotations {
			if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/canary") {
				canary = append(canary, k)
			}
		}
		sort.Strings(canary)
		for _, k := range canary {
			v.add("spec.ingress.annotations", "%s: with traffic.nginx bgrender writes the canary annotations on the Ingress %s-canary; the main Ingress must not carry them", k, v.app.Metadata.Name)
		}
		return
	}
	g := tr.Gateway
	if g == nil {
		v.add("spec.traffic", "name how traffic is routed: gateway (the Gateway API) or nginx (an ingress-nginx canary Ingress)")
		return
	}
	if len(g.ParentRefs) == 0 {
		v.add("spec.traffic.gateway.parentRefs", "required: the Gateway the route attaches to")
	}
	if len(g.ParentRefs) > 32 {
		v.add("spec.traffic.gateway.parentRefs", "%d entries, more than the Gateway API's 32", len(g.ParentRefs))
	}
	if len(g.Hostnames) > 16 {
		v.add("spec.traffic.gateway.hostnames", "%d entries, more than the Gateway API's 16", len(g.Hostnames))
	}
	seen := map[string]int{}
	for i, p := range g.ParentRefs {
		path := indexPath("spec.traffic.gateway.parentRefs", i)
		key := fmt.Sprintf("%s/%s/%s/%v", p.Namespace, p.Name, p.SectionName, p.Port)
		if j, dup := seen[key]; dup {
			v.add(path, "names the same Gateway listener as parentRefs[%d]; give each a distinct sectionName or port", j)
		}
		seen[key] = i
		if p.Namespace != "" && v.app.Metadata.Namespace == "" {
			v.add("metadata.namespace", "required with a parentRef in namespace %s: the NetworkPolicies admit the Gateway's namespace, and could not tell it from the app's own", p.Namespace)
		}
		if p.Name == "" {
			v.add(path+".name", "required")
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
				v.add(path+".name", "%q: %s", p.Name, msg)
			}
		}
		if p.Namespace != "" {
			for _, msg := range validation.IsDNS1123Label(p.Namespace) {
				v.add(path+".namespace", "%q: %s", p.Namespace, msg)
			}
		}
		if p.SectionName != "" {
			for _, msg := range validation.IsDNS1123Subdomain(p.SectionName) {
				v.add(path+".sectionName", "%q: %s", p.SectionName, msg)
			}
		}
		if p.Port != nil && (*p.Port < 1 || *p.Port > 65535) {
			v.add(path+".port", "%d is not a port number (1-65535)", *p.Port)
		}
	}
	for i, h := range g.Hostnames {
		v.host(indexPath("spec.traffic.gateway.hostnames", i), h, true)
	}
	switch {
	case !strings.HasPrefix(g.Path, "/"):
		v.add("spec.traffic.gateway.path", "%q must start with /", g.Path)
	case len(g.Path) > 1024:
		v.add("spec.traffic.gateway.path", "is %d characters long, more than the Gateway API's 1024", len(g.Path))
	case strings.Contains(g.Path, "//") || strings.ContainsAny(g.Path, "#?%") || strings.Contains(g.Path, "/./") || strings.Contains(g.Path, "/../") || strings.HasSuffix(g.Path, "/.") || strings.HasSuffix(g.Path, "/.."):
		v.add("spec.traffic.gateway.path", "%q: a path prefix without //, /./, /../, #, ? or %%", g.Path)
	}
}
