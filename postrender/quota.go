package postrender

import (
	"encoding/json"
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// resourceQuota, with --quota, adds a ResourceQuota that sums what every
// written Deployment requests and limits at its replica count (an HPA's
// maxReplicas when one scales it higher), plus headroom. The deployments
// and autoscalers filters tally what they write as they go.
func resourceQuota(r *run) []render.Object {
	if r.opts.Quota == nil || len(r.tally.usage) == 0 {
		return nil
	}
	return []render.Object{r.tally.quota(r.opts.Quota)}
}

// usageTally is what the written Deployments run, for the quota.
type usageTally struct {
	usage []podUsage
	// hpaMax is the maxReplicas of each written Deployment's autoscaler,
	// by the Deployment's namespace/name.
	hpaMax map[string]int32
}

// podUsage is what one written Deployment runs: its replicas and what
// each pod requests and limits, as ResourceQuota keys.
type podUsage struct {
	key      string // namespace/name
	replicas int64
	perPod   corev1.ResourceList
}

func newUsageTally() usageTally { return usageTally{hpaMax: map[string]int32{}} }

// addDeployment records a Deployment written in namespace, when a quota
// is wanted.
func (t *usageTally) addDeployment(opts Options, namespace string, rn *kyaml.RNode) error {
	if opts.Quota == nil {
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
	u := podUsage{key: namespace + "/" + dep.Name, replicas: int64(ptr.Deref(dep.Spec.Replicas, 1)), perPod: corev1.ResourceList{}}
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

// addAutoscaler records the most that an HPA written in namespace may
// scale its Deployment (in the same namespace) to. maxReplicas is an
// integer, which kyaml's GetString refuses.
func (t *usageTally) addAutoscaler(namespace string, hpa *kyaml.RNode) {
	hs := mappingValue(hpa.YNode(), "spec")
	target := mappingValue(mappingValue(hs, "scaleTargetRef"), "name")
	if m := mappingValue(hs, "maxReplicas"); target != nil && m != nil && m.Kind == yaml.ScalarNode {
		if n, err := strconv.ParseInt(m.Value, 10, 32); err == nil {
			t.hpaMax[namespace+"/"+target.Value] = int32(n)
		}
	}
}

// quota sums the tally at each Deployment's replica count, or its
// autoscaler's maximum if higher, plus headroom.
func (t *usageTally) quota(o *QuotaOptions) *corev1.ResourceQuota {
	headroom := spec.DefaultHeadroomPercent
	if h := o.HeadroomPercent; h != nil {
		headroom = *h
	}
	name := o.Name
	if name == "" {
		name = "bgrender"
	}
	var pods int64
	usage := corev1.ResourceList{}
	for _, u := range t.usage {
		replicas := max(u.replicas, int64(t.hpaMax[u.key]))
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
