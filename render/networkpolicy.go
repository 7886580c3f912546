package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// NetworkPolicies renders one policy per color, <name>-blue and
// <name>-green. The pods of a color accept traffic only from pods of the
// same color and from the allowFrom peers (on the app's ports), and may send
// only to DNS, to pods of their own color, and to the declared egress rules.
// Blue and green therefore cannot reach each other.
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

// NetworkPolicy renders the policy of one color.
func NetworkPolicy(app *spec.BlueGreenApp, c spec.Color) *networkingv1.NetworkPolicy {
	s := &app.Spec
	sameColor := []networkingv1.NetworkPolicyPeer{{
		PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
	}}
	ingress := []networkingv1.NetworkPolicyIngressRule{{From: sameColor}}
	if len(s.NetworkPolicy.AllowFrom) > 0 {
		rule := networkingv1.NetworkPolicyIngressRule{From: s.NetworkPolicy.AllowFrom}
		for _, p := range s.Ports {
			rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{
				Protocol: ptr.To(p.Protocol),
				Port:     ptr.To(intstr.FromInt32(p.ContainerPort)),
			})
		}
		ingress = append(ingress, rule)
	}
	egress := []networkingv1.NetworkPolicyEgressRule{
		{Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
		}},
		{To: sameColor},
	}
	egress = append(egress, s.NetworkPolicy.Egress...)
	return &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta(networkingv1.SchemeGroupVersion, "NetworkPolicy"),
		ObjectMeta: metav1.ObjectMeta{
			Name:   colorName(app, c),
			Labels: colorLabels(app, c),
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}
