// Warnings: what is valid but likely not what the user meant.

package spec

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

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

// family names the address family of p.
func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}
