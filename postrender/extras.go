package postrender

import (
	"bytes"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// extras renders the optional objects that the chart does not have: the
// per-color NetworkPolicies and the ResourceQuota, as YAML documents.
func (t *transformer) extras() ([]byte, error) {
	var objs []render.Object
	if t.opts.NetworkPolicy != nil {
		exposed := t.exposed()
		t.warnPolicies(len(exposed) > 0)
		for _, d := range t.deploys {
			app := t.policyApp(d, exposed[d])
			for _, c := range spec.Colors {
				np := render.NetworkPolicy(app, c)
				np.Namespace = d.object.namespace
				if len(d.matchExpressions) > 0 {
					// The Deployment's own selector, plus the color: the
					// policy's pods and its same-color peers.
					np.Spec.PodSelector.MatchExpressions = d.matchExpressions
					np.Spec.Ingress[0].From[0].PodSelector.MatchExpressions = d.matchExpressions
					for _, rule := range np.Spec.Egress {
						for _, peer := range rule.To {
							if peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.PodSelector.MatchLabels[t.opts.ColorLabel] == string(c) {
								peer.PodSelector.MatchExpressions = d.matchExpressions
							}
						}
					}
				}
				t.admitChart(np, d, c)
				objs = append(objs, np)
			}
		}
	}
	if t.opts.Quota != nil && len(t.usage) > 0 {
		objs = append(objs, t.quota())
	}
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if doc, taken := t.taken(kind, o.GetNamespace(), o.GetName()); taken {
			return nil, fmt.Errorf("bgrender would add %s %s, but the chart has one of that name (%s); rename one of them", kind, o.GetName(), doc)
		}
	}
	var out bytes.Buffer
	for _, o := range objs {
		doc, err := render.EncodeYAML(o)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(doc)
	}
	return out.Bytes(), nil
}

// podUsage is what one written Deployment runs: its replicas and what
// each pod requests and limits, as ResourceQuota keys.
type podUsage struct {
	name     string
	replicas int64
	perPod   corev1.ResourceList
}

// addUsage records a written Deployment for the quota, when one is wanted.
func (t *transformer) addUsage(rn *kyaml.RNode) error {
	if t.opts.Quota == nil {
		return nil
	}
	raw, err := rn.MarshalJSON()
	if err != nil {
		return err
	}
	var dep appsv1.Deployment
	if err := json.Unmarshal(raw, &dep); err != nil {
		return fmt.Errorf("Deployment %s: %w", rn.GetName(), err)
	}
	u := podUsage{name: dep.Name, replicas: int64(ptr.Deref(dep.Spec.Replicas, 1)), perPod: corev1.ResourceList{}}
	for _, c := range dep.Spec.Template.Spec.Containers {
		for side, list := range map[string]corev1.ResourceList{"requests.": c.Resources.Requests, "limits.": c.Resources.Limits} {
			for res, q := range list {
				key := corev1.ResourceName(side + string(res))
				if sum, ok := u.perPod[key]; ok {
					q.Add(sum)
				}
				u.perPod[key] = q
			}
		}
	}
	t.usage = append(t.usage, u)
	return nil
}

// policyApp describes a chart's Deployment as much of a BlueGreenApp as the
// renderer's NetworkPolicy step needs.
func (t *transformer) policyApp(d *deployment, exposed bool) *spec.BlueGreenApp {
	o := t.opts.NetworkPolicy
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
			ColorLabel:     t.opts.ColorLabel,
			SelectorLabels: d.matchLabels,
			Ports:          d.ports,
			NetworkPolicy:  np,
			Service:        spec.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
		},
	}
	if t.hasIngress {
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
func (t *transformer) admitChart(np *networkingv1.NetworkPolicy, d *deployment, c spec.Color) {
	var peers []networkingv1.NetworkPolicyPeer
	for _, o := range t.deploys {
		if o == d || o.namespace != d.namespace {
			continue
		}
		peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
			MatchLabels:      t.withColor(o.matchLabels, c),
			MatchExpressions: o.matchExpressions,
		}})
	}
	for _, w := range t.others {
		if w.namespace == d.namespace {
			peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string(w.podLabels)}})
		}
	}
	if len(peers) == 0 {
		return
	}
	if t.opts.NetworkPolicy.Mode == spec.NetworkPolicyStrict {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: render.PolicyPorts(d.ports)})
		return
	}
	np.Spec.Ingress[0].From = append(np.Spec.Ingress[0].From, peers...)
}

// warnPolicies says what spec.Warnings says of a spec: outside clients
// admitted without podCIDRs, and a route whose controller the default
// ingress-nginx namespace likely is not.
func (t *transformer) warnPolicies(exposed bool) {
	o := t.opts.NetworkPolicy
	if t.opts.Warn == nil || o.Mode == spec.NetworkPolicyStrict {
		return
	}
	if exposed && len(o.PodCIDRs) == 0 {
		t.opts.Warn("a LoadBalancer or NodePort Service of the chart: the policies admit outside clients from every address, which on CNIs that match ipBlocks against pod addresses (Calico) also admits the other color; pass --pod-cidr with the cluster's pod range")
	}
	if t.otherRoute != "" && (o.IngressController == nil || o.IngressController.Namespace == "") {
		t.opts.Warn(fmt.Sprintf("%s: the policies admit its controller from namespace %s (the ingress-nginx default); set networkPolicy.ingressController in a PostRenderConfig to where it runs", t.otherRoute, spec.DefaultIngressControllerNamespace))
	}
}

// exposed returns the Deployments whose pods a LoadBalancer or NodePort
// Service of the chart selects.
func (t *transformer) exposed() map[*deployment]bool {
	out := map[*deployment]bool{}
	for _, doc := range t.docs {
		for _, o := range doc.objs {
			if o.kind != "Service" || o.hook || !o.external {
				continue
			}
			for _, d := range t.selectedBy(t.namespaceOf(o), o.selector) {
				out[d] = true
			}
		}
	}
	return out
}

// quota sums what every written Deployment requests and limits at its
// replica count (an HPA's maxReplicas when one scales it higher), plus
// headroom.
func (t *transformer) quota() *corev1.ResourceQuota {
	headroom := spec.DefaultHeadroomPercent
	if h := t.opts.Quota.HeadroomPercent; h != nil {
		headroom = *h
	}
	name := t.opts.Quota.Name
	if name == "" {
		name = "bgrender"
	}
	var pods int64
	usage := corev1.ResourceList{}
	for _, u := range t.usage {
		replicas := max(u.replicas, int64(t.hpaMax[u.name]))
		pods += replicas
		for key, q := range u.perPod {
			q.Mul(replicas)
			if sum, ok := usage[key]; ok {
				q.Add(sum)
			}
			usage[key] = q
		}
	}
	usage[corev1.ResourcePods] = *resource.NewQuantity(pods, resource.DecimalSI)
	hard := corev1.ResourceList{}
	for key, q := range render.WithHeadroom(usage, headroom) {
		switch key {
		case corev1.ResourcePods, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory:
			hard[key] = q
		}
	}
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{render.LabelManagedBy: render.ManagedBy}},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
}
