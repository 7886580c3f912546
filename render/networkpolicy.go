package render

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// NetworkPolicies renders one policy per color, <name>-blue and
// <name>-green. A pod of one color never accepts traffic from a pod of the
// other color: each policy admits only the peers listed below, and none of
// them selects the other color.
//
// In standard mode (the default) a color's pods accept, on the app's ports:
// pods of the same color; the Ingress controller when the spec renders an
// Ingress; outside clients (externalCIDRs minus podCIDRs) when the Service is
// LoadBalancer or NodePort; the namespaces of the Gateways that
// spec.traffic.gateway attaches its HTTPRoute to (see GatewayPeers);
// Prometheus; the apiServer peers; and the
// allowFrom peers. Egress is left open unless egress rules are declared;
// then the pods may send only to DNS, to their own color, and to those
// rules.
//
// In strict mode the pods accept traffic only from their own color (on any
// port) and the allowFrom peers (on the app's ports), and may send only to
// DNS, their own color and the egress rules.
//
// The kubelet's probes need no rule: NetworkPolicy always admits traffic
// from a pod's own node.
func NetworkPolicies(app *spec.BlueGreenApp) []Object {
	if !*app.Spec.NetworkPolicy.Enabled {
		return nil
	}
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		objs = append(objs, NetworkPolicy(app, c))
	}
	return objs
}

// NetworkPolicy renders the policy of one color. Its first ingress rule's
// first peer is always the color's own pods.
func NetworkPolicy(app *spec.BlueGreenApp, c spec.Color) *networkingv1.NetworkPolicy {
	np := &app.Spec.NetworkPolicy
	sameColor := networkingv1.NetworkPolicyPeer{
		PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
	}
	ports := PolicyPorts(app.Spec.Ports)
	var ingress []networkingv1.NetworkPolicyIngressRule
	if np.Mode == spec.NetworkPolicyStrict {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{sameColor}})
		if len(np.AllowFrom) > 0 {
			ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{From: np.AllowFrom, Ports: ports})
		}
	} else {
		from := []networkingv1.NetworkPolicyPeer{sameColor}
		if app.Spec.Ingress != nil {
			from = appendPeer(from, np.IngressController)
		}
		from = appendNew(from, GatewayPeers(app)...)
		if exposed(app.Spec.Service.Type) {
			from = append(from, ExternalPeers(np.ExternalCIDRs, np.PodCIDRs)...)
		}
		from = appendPeer(from, np.Prometheus)
		from = appendNew(from, exceptPods(np.APIServer, np.PodCIDRs)...)
		from = appendNew(from, exceptPods(np.AllowFrom, np.PodCIDRs)...)
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: ports})
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	var egress []networkingv1.NetworkPolicyEgressRule
	if np.Mode == spec.NetworkPolicyStrict || len(np.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
		egress = []networkingv1.NetworkPolicyEgressRule{
			{Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
				{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
			}},
			{To: []networkingv1.NetworkPolicyPeer{*sameColor.DeepCopy()}},
		}
		egress = append(egress, np.Egress...)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta(networkingv1.SchemeGroupVersion, "NetworkPolicy"),
		ObjectMeta: metav1.ObjectMeta{
			Name:   colorName(app, c),
			Labels: colorLabels(app, c),
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
			PolicyTypes: types,
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

// GatewayPeers admit the data plane of the Gateways that the HTTPRoute of
// spec.traffic.gateway attaches to: each parentRef's namespace, when it
// names one other than the app's. A Gateway in the app's own namespace (a
// parentRef without namespace) adds no peer: a namespace-wide peer there
// would select the app's own pods, and so admit the other color. Its
// data plane's pods must then be named in networkPolicy.allowFrom with a
// podSelector.
func GatewayPeers(app *spec.BlueGreenApp) []networkingv1.NetworkPolicyPeer {
	g := gatewayRoute(app)
	if g == nil {
		return nil
	}
	var peers []networkingv1.NetworkPolicyPeer
	for _, p := range g.ParentRefs {
		if p.Namespace == "" || p.Namespace == app.Metadata.Namespace {
			continue
		}
		peers = appendNew(peers, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{spec.NamespaceNameLabel: p.Namespace}},
		})
	}
	return peers
}

// exceptPods returns the peers with the pod CIDRs that lie inside an
// ipBlock excepted from it, as for the outside clients: an ipBlock of a
// control plane or VPN range must not also admit the other color's pods.
func exceptPods(peers []networkingv1.NetworkPolicyPeer, pods []string) []networkingv1.NetworkPolicyPeer {
	if len(pods) == 0 {
		return peers
	}
	out := make([]networkingv1.NetworkPolicyPeer, 0, len(peers))
	for _, p := range peers {
		if p.IPBlock != nil {
			ext := ExternalPeers([]string{p.IPBlock.CIDR}, pods)
			p = *p.DeepCopy()
			if len(ext) == 1 {
				for _, e := range ext[0].IPBlock.Except {
					if !slices.Contains(p.IPBlock.Except, e) {
						p.IPBlock.Except = append(p.IPBlock.Except, e)
					}
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// appendNew adds the peers that are not in peers yet (an allowFrom peer
// that repeats a default one, say).
func appendNew(peers []networkingv1.NetworkPolicyPeer, more ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer {
	for _, p := range more {
		if !slices.ContainsFunc(peers, func(q networkingv1.NetworkPolicyPeer) bool { return equality.Semantic.DeepEqual(p, q) }) {
			peers = append(peers, p)
		}
	}
	return peers
}

// exposed reports whether a Service of type t takes traffic from outside
// the cluster.
func exposed(t corev1.ServiceType) bool {
	return t == corev1.ServiceTypeLoadBalancer || t == corev1.ServiceTypeNodePort
}

// PolicyPorts are the app's container ports, as a policy matches them
// (after the Service has translated its port to the target port).
func PolicyPorts(ports []spec.Port) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{
			Protocol: ptr.To(p.Protocol),
			Port:     ptr.To(intstr.FromInt32(p.ContainerPort)),
		})
	}
	return out
}

// appendPeer adds the pods of another namespace that p names, unless p is
// disabled.
func appendPeer(peers []networkingv1.NetworkPolicyPeer, p *spec.PeerSpec) []networkingv1.NetworkPolicyPeer {
	if p == nil || (p.Enabled != nil && !*p.Enabled) {
		return peers
	}
	peer := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{spec.NamespaceNameLabel: p.Namespace}},
	}
	if len(p.PodLabels) > 0 {
		peer.PodSelector = &metav1.LabelSelector{MatchLabels: p.PodLabels}
	}
	return append(peers, peer)
}

// ExternalPeers are ipBlock peers for the outside clients: each external
// CIDR with the pod CIDRs inside it excepted; a CIDR that lies within a pod
// CIDR is left out.
func ExternalPeers(external, pods []string) []networkingv1.NetworkPolicyPeer {
	out := make([]networkingv1.NetworkPolicyPeer, 0, len(external))
	for _, cidr := range external {
		outer, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue // validation reports it
		}
		block := &networkingv1.IPBlock{CIDR: cidr}
		inPods := false
		for _, pc := range pods {
			inner, err := netip.ParsePrefix(pc)
			if err != nil || inner.Addr().Is4() != outer.Addr().Is4() {
				continue
			}
			switch {
			case inner.Bits() <= outer.Bits() && inner.Contains(outer.Addr()):
				inPods = true // every address of cidr is a pod's
			case outer.Contains(inner.Addr()):
				block.Except = append(block.Except, pc)
			}
		}
		if !inPods {
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: block})
		}
	}
	return out
}
