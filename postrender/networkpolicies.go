package postrender

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// networkPolicies, with --network-policy, adds the renderer's per-color
// isolation policies for each transformed Deployment: blue and green
// cannot reach each other, and the rest of the chart reaches the same
// color.
func networkPolicies(r *run) []render.Object {
	if r.opts.NetworkPolicy == nil {
		return nil
	}
	var objs []render.Object
	exposed := r.exposed()
	r.warnPolicies(len(exposed) > 0)
	for _, d := range r.pods.deploys {
		app := r.policyApp(d, exposed[d])
		for _, c := range spec.Colors {
			np := render.NetworkPolicy(app, c)
			np.Namespace = d.object.namespace
			if len(d.matchExpressions) > 0 {
				r.selectExpressions(np, d, c)
			}
			r.admitChart(np, d, c)
			objs = append(objs, np)
		}
	}
	return objs
}

// selectExpressions gives the policy of d's color c d's own selector,
// plus the color: the policy's pods and its same-color peers.
func (r *run) selectExpressions(np *networkingv1.NetworkPolicy, d *deployment, c spec.Color) {
	np.Spec.PodSelector.MatchExpressions = d.matchExpressions
	np.Spec.Ingress[0].From[0].PodSelector.MatchExpressions = d.matchExpressions
	for _, rule := range np.Spec.Egress {
		for _, peer := range rule.To {
			if peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.PodSelector.MatchLabels[r.opts.ColorLabel] == string(c) {
				peer.PodSelector.MatchExpressions = d.matchExpressions
			}
		}
	}
}

// policyApp describes a chart's Deployment as much of a BlueGreenApp as the
// renderer's NetworkPolicy step needs.
func (r *run) policyApp(d *deployment, exposed bool) *spec.BlueGreenApp {
	o := r.opts.NetworkPolicy
	np := spec.NetworkPolicySpec{
		Mode:          o.Mode,
		ExternalCIDRs: o.ExternalCIDRs,
		PodCIDRs:      o.PodCIDRs,
		APIServer:     o.APIServer,
		AllowFrom:     o.AllowFrom,
		Egress:        o.Egress,
	}
	if o.IngressController != nil {
		np.IngressController = o.IngressController.DeepCopy()
	}
	if o.Prometheus != nil {
		np.Prometheus = o.Prometheus.DeepCopy()
	}
	spec.DefaultNetworkPolicy(&np)
	app := &spec.BlueGreenApp{
		Metadata: spec.ObjectMeta{Name: d.name},
		Spec: spec.AppSpec{
			ColorLabel:     r.opts.ColorLabel,
			SelectorLabels: d.matchLabels,
			Ports:          d.ports,
			NetworkPolicy:  np,
			Service:        spec.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
		},
	}
	if r.chart.hasIngress {
		app.Spec.Ingress = &spec.IngressSpec{}
	}
	if exposed {
		app.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	}
	return app
}

// admitChart lets the rest of the chart reach color c of d, on d's ports:
// the same color of the chart's other transformed Deployments in d's
// namespace (a frontend and its backend are released together, so blue
// calls blue), and the workloads that stay as they are (StatefulSets,
// skipped Deployments, ...). Neither selects the other color of d.
func (r *run) admitChart(np *networkingv1.NetworkPolicy, d *deployment, c spec.Color) {
	var peers []networkingv1.NetworkPolicyPeer
	for _, o := range r.pods.deploys {
		if o == d || o.namespace != d.namespace {
			continue
		}
		peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
			MatchLabels:      r.withColor(o.matchLabels, c),
			MatchExpressions: o.matchExpressions,
		}})
	}
	for _, w := range r.pods.others {
		if w.namespace == d.namespace {
			peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string(w.podLabels)}})
		}
	}
	if len(peers) == 0 {
		return
	}
	if r.opts.NetworkPolicy.Mode == spec.NetworkPolicyStrict {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: render.PolicyPorts(d.ports)})
		return
	}
	np.Spec.Ingress[0].From = append(np.Spec.Ingress[0].From, peers...)
}

// warnPolicies says what spec.Warnings says of a spec: outside clients
// admitted without podCIDRs, and a route whose controller the default
// ingress-nginx namespace likely is not.
func (r *run) warnPolicies(exposed bool) {
	o := r.opts.NetworkPolicy
	if r.opts.Warn == nil || o.Mode == spec.NetworkPolicyStrict {
		return
	}
	if exposed && len(o.PodCIDRs) == 0 {
		r.opts.Warn("a LoadBalancer or NodePort Service of the chart: the policies admit outside clients from every address, which on CNIs that match ipBlocks against pod addresses (Calico) also admits the other color; pass --pod-cidr with the cluster's pod range")
	}
	if r.chart.otherRoute != "" && (o.IngressController == nil || o.IngressController.Namespace == "") {
		r.opts.Warn(fmt.Sprintf("%s: the policies admit its controller from namespace %s (the ingress-nginx default); set networkPolicy.ingressController in a PostRenderConfig to where it runs", r.chart.otherRoute, spec.DefaultIngressControllerNamespace))
	}
}

// exposed returns the Deployments whose pods a LoadBalancer or NodePort
// Service of the chart selects.
func (r *run) exposed() map[*deployment]bool {
	out := map[*deployment]bool{}
	for _, o := range r.chart.objects() {
		if o.kind != "Service" || o.hook || !o.external {
			continue
		}
		for _, d := range r.pods.selectedBy(r.namespaceOf(o), o.selector) {
			out[d] = true
		}
	}
	return out
}
