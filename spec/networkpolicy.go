// Checks of spec.networkPolicy: its mode, the peers it admits (which must
// not let one color reach the other), its CIDRs and its egress rules.

package spec

import (
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// networkPolicy checks the mode, then the peers, CIDRs and egress rules.
func (v *validator) networkPolicy() {
	np := &v.app.Spec.NetworkPolicy
	switch np.Mode {
	case NetworkPolicyStandard, NetworkPolicyStrict:
	default:
		v.add("spec.networkPolicy.mode", "%q: want standard or strict", np.Mode)
	}
	v.knownPeers(np)
	v.cidrs(np)
	v.peers(np)
	v.egress(np)
}

// knownPeers checks the ingress controller and Prometheus peers.
func (v *validator) knownPeers(np *NetworkPolicySpec) {
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
}

// cidrs checks externalCIDRs and podCIDRs.
func (v *validator) cidrs(np *NetworkPolicySpec) {
	for field, cidrs := range map[string][]string{"externalCIDRs": np.ExternalCIDRs, "podCIDRs": np.PodCIDRs} {
		for i, cidr := range cidrs {
			if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
				v.add(indexPath("spec.networkPolicy."+field, i), "%q is not a CIDR such as 10.244.0.0/16 (an address with its prefix length, host bits zero)", cidr)
			}
		}
	}
}

// peers checks the apiServer and allowFrom peers.
func (v *validator) peers(np *NetworkPolicySpec) {
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
}

// egress checks the egress rules' peers and ports.
func (v *validator) egress(np *NetworkPolicySpec) {
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

// peer checks a NetworkPolicy peer as the API server would: an ipBlock or
// selectors, not both.
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
