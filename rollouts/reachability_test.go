package rollouts_test

import (
	"fmt"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/bgrender/bgrender/internal/testbed/netpol"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

// TestReachability asks an independent NetworkPolicy engine (cyclonus)
// who may reach the pods of the Rollout of every example: the pods of
// both ReplicaSets (told apart by rollouts-pod-template-hash only, so not
// separated), and everything the spec sets up — the Ingress controller
// for spec.ingress, outside clients of a LoadBalancer, Prometheus, the
// allowFrom peers, and Argo Rollouts' controller when a web metric
// requests the preview Service — and nobody else.
func TestReachability(t *testing.T) {
	for name, path := range specs(t) {
		t.Run(name, func(t *testing.T) {
			app := load(t, path)
			var policies []*networkingv1.NetworkPolicy
			var tmpl corev1.PodTemplateSpec
			for _, o := range rollouts.Render([]*spec.BlueGreenApp{app}) {
				switch o := o.(type) {
				case *networkingv1.NetworkPolicy:
					policies = append(policies, o)
				case *rollouts.Rollout:
					tmpl = o.Spec.Template
				}
			}
			if len(policies) != 1 {
				t.Fatalf("%d NetworkPolicies, want one for the Rollout's pods", len(policies))
			}
			ns := app.Metadata.Namespace
			if ns == "" {
				ns = "default"
			}
			ip := 10
			pod := func(what, ns string, labels map[string]string) netpol.Endpoint {
				ip++
				return netpol.Pod(what, ns, fmt.Sprintf("10.244.1.%d", ip), labels)
			}
			revision := func(hash string) map[string]string {
				l := maps.Clone(tmpl.Labels)
				l[rollouts.HashLabel] = hash
				return l
			}
			active := pod("active ReplicaSet", ns, revision("5d8f7c9b4"))
			preview := pod("preview ReplicaSet", ns, revision("7c6b5a4f3"))
			g := app.Spec.Gates
			web := g != nil && (g.Health != nil || g.WarmUp != nil)
			exposed := app.Spec.Service.Type == corev1.ServiceTypeLoadBalancer || app.Spec.Service.Type == corev1.ServiceTypeNodePort
			var probes []netpol.Probe
			for _, p := range app.Spec.Ports {
				port := netpol.Port{Number: int(p.ContainerPort), Name: p.Name, Protocol: p.Protocol}
				for _, to := range []netpol.Endpoint{active, preview} {
					at := func(from netpol.Endpoint, want bool) {
						probes = append(probes, netpol.Probe{Name: fmt.Sprintf("%s → %s:%d", from.Name, to.Name, p.ContainerPort), From: from, To: to, Port: port, Want: want})
					}
					at(active, true)
					at(preview, true)
					at(pod("ingress-nginx controller", "ingress-nginx", map[string]string{"app.kubernetes.io/name": "ingress-nginx"}), app.Spec.Ingress != nil)
					at(pod("Prometheus", "monitoring", map[string]string{"app.kubernetes.io/name": "prometheus"}), true)
					at(pod("Argo Rollouts controller", rollouts.ControllerNamespace, map[string]string{"app.kubernetes.io/name": "argo-rollouts"}), web)
					at(pod("another app in the namespace", ns, map[string]string{"app": "another"}), false)
					at(pod("a pod in another namespace", "elsewhere", map[string]string{"app": "client"}), false)
					at(netpol.External("a client outside the cluster", "203.0.113.7"), exposed)
					if name == "full" {
						at(pod("cart (allowFrom)", ns, map[string]string{"app.kubernetes.io/name": "cart"}), true)
					}
				}
			}
			probes = append(probes, netpol.Probe{Name: "active → kube-dns:53", From: active,
				To:   netpol.Pod("kube-dns", "kube-system", "10.244.2.2", map[string]string{"k8s-app": "kube-dns"}),
				Port: netpol.Port{Number: 53, Name: "dns", Protocol: corev1.ProtocolUDP}, Want: true})
			netpol.Check(t, netpol.New(policies), probes)
		})
	}
}
