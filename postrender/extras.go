package postrender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// extras renders the optional objects that the chart does not have: the
// per-color NetworkPolicies and the ResourceQuota, as YAML documents.
func (t *transformer) extras(ctx context.Context) ([]byte, error) {
	var objs []render.Object
	if t.opts.NetworkPolicy != nil {
		for _, d := range t.deploys {
			app, err := t.policyApp(d)
			if err != nil {
				return nil, err
			}
			for _, c := range spec.Colors {
				np := render.NetworkPolicy(app, c)
				np.Namespace = d.rn.GetNamespace()
				objs = append(objs, np)
			}
		}
	}
	if t.opts.Quota != nil && len(t.emitted) > 0 {
		q, err := t.quota()
		if err != nil {
			return nil, err
		}
		objs = append(objs, q)
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

// podSpec decodes the pod template of a Deployment document.
func podSpec(d *emitted) (*appsv1.Deployment, error) {
	raw, err := d.rn.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var dep appsv1.Deployment
	if err := json.Unmarshal(raw, &dep); err != nil {
		return nil, fmt.Errorf("Deployment %s: %w", d.rn.GetName(), err)
	}
	return &dep, nil
}

// policyApp describes a chart's Deployment as much of a BlueGreenApp as the
// renderer's NetworkPolicy step needs.
func (t *transformer) policyApp(d *deployment) (*spec.BlueGreenApp, error) {
	dep, err := podSpec(&emitted{from: d, rn: d.rn})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.object, err)
	}
	app := &spec.BlueGreenApp{
		Metadata: spec.ObjectMeta{Name: d.rn.GetName()},
		Spec: spec.AppSpec{
			ColorLabel:     t.opts.ColorLabel,
			SelectorLabels: d.matchLabels,
			NetworkPolicy: spec.NetworkPolicySpec{
				Enabled:   ptr.To(true),
				AllowFrom: t.opts.NetworkPolicy.AllowFrom,
				Egress:    t.opts.NetworkPolicy.Egress,
			},
		},
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			app.Spec.Ports = append(app.Spec.Ports, spec.Port{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: proto})
		}
	}
	return app, nil
}

// quota sums what every emitted Deployment requests and limits at its
// replica count (an HPA's maxReplicas when one scales it higher), plus
// headroom.
func (t *transformer) quota() (*corev1.ResourceQuota, error) {
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
	add := func(key corev1.ResourceName, q resource.Quantity, n int64) {
		q.Mul(n)
		if sum, ok := usage[key]; ok {
			q.Add(sum)
		}
		usage[key] = q
	}
	for i := range t.emitted {
		dep, err := podSpec(&t.emitted[i])
		if err != nil {
			return nil, err
		}
		replicas := max(int64(ptr.Deref(dep.Spec.Replicas, 1)), int64(t.hpaMax[t.emitted[i].rn.GetName()]))
		pods += replicas
		for _, c := range dep.Spec.Template.Spec.Containers {
			for res, q := range c.Resources.Requests {
				add("requests."+res, q, replicas)
			}
			for res, q := range c.Resources.Limits {
				add("limits."+res, q, replicas)
			}
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
	}, nil
}
