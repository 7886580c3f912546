package postrender

import (
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// The chart's pods, by what runs them: the Deployments that become blue
// and green, and the workloads that stay as they are. Services, PDBs and
// NetworkPolicies are decided by whose pods they select.

// deployment is a Deployment that becomes a blue and a green one.
type deployment struct {
	*object
	namespace   string // where it runs: as written, else the release namespace
	podLabels   labels.Set
	matchLabels map[string]string
	// matchExpressions of the selector, for NetworkPolicies.
	matchExpressions []metav1.LabelSelectorRequirement
	ports            []spec.Port // the containers' ports, for NetworkPolicies
	filename         string      // Helm 4's postrender-filename annotation
}

// workload is an object with a pod template that is not made blue/green.
type workload struct {
	desc      string // as object.String says it
	kind      string
	name      string
	namespace string
	explicit  bool // the namespace is written in the object
	podLabels labels.Set
}

// workloads indexes the chart's pods.
type workloads struct {
	deploys []*deployment
	byName  map[string]*deployment // namespace/name
	// byLabel indexes deploys by namespace and one pod label, key=value,
	// so that matching a selector does not scan every Deployment.
	byLabel map[string][]*deployment
	// others are the workloads whose pods stay as they are: StatefulSets,
	// DaemonSets, ReplicaSets and Deployments that are not transformed.
	others []*workload
	// scaled holds the Deployments (namespace/name) that one of the
	// chart's HPAs scales; built on first use, after the read step.
	scaled map[string]bool
}

func newWorkloads() workloads {
	return workloads{byName: map[string]*deployment{}, byLabel: map[string][]*deployment{}}
}

// podTemplateKinds are the other kinds whose pods a Service may select.
var podTemplateKinds = map[string]bool{"StatefulSet": true, "DaemonSet": true, "ReplicaSet": true}

// addDeployment registers a Deployment that is to become blue and green.
func (r *run) addDeployment(o *object) error {
	if r.skipped(o) || (r.opts.Select != nil && !r.opts.Select.Matches(labels.Set(o.rn.GetLabels()))) {
		return r.addWorkload(o)
	}
	if o.name == "" {
		return fmt.Errorf("%s: metadata.name: required", o)
	}
	matchLabels, err := deploymentSelector(o)
	if err != nil {
		return err
	}
	podLabels, err := stringMap(o.rn, "spec", "template", "metadata", "labels")
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	if c, ok := podLabels[r.opts.ColorLabel]; ok {
		return fmt.Errorf("%s: the pod template already carries the color label %s=%s; mark it with %s: \"true\" or choose another --color-label", o, r.opts.ColorLabel, c, AnnotationSkip)
	}
	ports, err := containerPorts(o.rn)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	d := &deployment{object: o, namespace: r.namespaceOf(o), podLabels: podLabels, matchLabels: matchLabels,
		ports: ports, filename: o.rn.GetAnnotations()[AnnotationHelm4Filename]}
	if exprs, _ := o.rn.Pipe(kyaml.Lookup("spec", "selector", "matchExpressions")); exprs != nil {
		raw, err := exprs.MarshalJSON()
		if err == nil {
			err = json.Unmarshal(raw, &d.matchExpressions)
		}
		if err != nil {
			return fmt.Errorf("%s: spec.selector.matchExpressions: %w", o, err)
		}
	}
	return r.pods.add(d)
}

// deploymentSelector reads a Deployment's spec.selector.matchLabels,
// refusing a Deployment that selects no pods.
func deploymentSelector(o *object) (map[string]string, error) {
	matchLabels, err := stringMap(o.rn, "spec", "selector", "matchLabels")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if len(matchLabels) == 0 && o.rn.Field("spec") != nil {
		if exprs, _ := o.rn.Pipe(kyaml.Lookup("spec", "selector", "matchExpressions")); exprs == nil {
			return nil, fmt.Errorf("%s: spec.selector: required; a Deployment must select its pods", o)
		}
	}
	if len(matchLabels) == 0 && o.rn.Field("spec") == nil {
		return nil, fmt.Errorf("%s: spec.selector: required; a Deployment must select its pods", o)
	}
	return matchLabels, nil
}

// add indexes a Deployment that becomes blue and green.
func (w *workloads) add(d *deployment) error {
	key := d.namespace + "/" + d.name
	if _, dup := w.byName[key]; dup {
		return fmt.Errorf("%s: a Deployment of this name appears twice", d.object)
	}
	w.byName[key] = d
	w.deploys = append(w.deploys, d)
	for k, v := range d.podLabels {
		w.byLabel[labelKey(d.namespace, k, v)] = append(w.byLabel[labelKey(d.namespace, k, v)], d)
	}
	return nil
}

// addWorkload records the pod labels of a workload that is not made
// blue/green, so that a Service that also selects its pods is not routed
// to one color (which would drop them).
func (r *run) addWorkload(o *object) error {
	if o.name == "" {
		o.name, o.namespace = o.rn.GetName(), o.rn.GetNamespace()
	}
	if _, hook := o.rn.GetAnnotations()[AnnotationHelmHook]; hook {
		return nil
	}
	podLabels, err := stringMap(o.rn, "spec", "template", "metadata", "labels")
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	if len(podLabels) > 0 {
		r.pods.others = append(r.pods.others, &workload{desc: o.String(), kind: o.kind, name: o.name, namespace: r.namespaceOf(o), explicit: o.namespace != "", podLabels: podLabels})
	}
	return nil
}

func labelKey(namespace, k, v string) string { return namespace + "\x00" + k + "\x00" + v }

// selectedBy returns the Deployments whose pods a Service selector (a map)
// selects; an empty selector selects nothing.
func (w *workloads) selectedBy(namespace string, selector map[string]string) []*deployment {
	if len(selector) == 0 {
		return nil
	}
	// Start from the Deployments that have the rarest of the selector's
	// pairs, then check the rest.
	var candidates []*deployment
	first := true
	for k, v := range selector {
		ds := w.byLabel[labelKey(namespace, k, v)]
		if first || len(ds) < len(candidates) {
			candidates, first = ds, false
		}
	}
	var out []*deployment
	for _, d := range candidates {
		if labels.SelectorFromValidatedSet(selector).Matches(d.podLabels) {
			out = append(out, d)
		}
	}
	return out
}

// deploymentOf returns the transformed Deployment that o is, or nil.
func (r *run) deploymentOf(o *object) *deployment {
	return r.pods.byName[r.namespaceOf(o)+"/"+o.name]
}

// autoscaled reports whether one of the chart's HorizontalPodAutoscalers
// scales d: then its colors are written without spec.replicas, which the
// per-color HPAs own (an applier that sets replicas would undo each of
// their scalings, and Argo CD and Flux would report drift forever).
func (r *run) autoscaled(d *deployment) bool {
	if r.pods.scaled == nil {
		r.pods.scaled = map[string]bool{}
		for _, o := range r.chart.objects() {
			if o.kind == "HorizontalPodAutoscaler" && o.target != "" && !o.hook {
				r.pods.scaled[r.namespaceOf(o)+"/"+o.target] = true
			}
		}
	}
	return r.pods.scaled[d.namespace+"/"+d.name]
}

// containerPorts lists the ports of a Deployment's containers.
func containerPorts(rn *kyaml.RNode) ([]spec.Port, error) {
	containers, err := rn.Pipe(kyaml.Lookup("spec", "template", "spec", "containers"))
	if err != nil || containers == nil || containers.YNode().Kind != yaml.SequenceNode {
		return nil, nil
	}
	var ports []spec.Port
	for _, c := range containers.YNode().Content {
		list := kyaml.NewRNode(c).Field("ports")
		if list == nil || list.Value.YNode().Kind != yaml.SequenceNode {
			continue
		}
		for _, p := range list.Value.YNode().Content {
			port, err := containerPort(p)
			if err != nil {
				return nil, err
			}
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// containerPort reads one item of a container's ports.
func containerPort(p *yaml.Node) (spec.Port, error) {
	var port struct {
		Name          string `json:"name"`
		ContainerPort int32  `json:"containerPort"`
		Protocol      string `json:"protocol"`
	}
	raw, err := kyaml.NewRNode(p).MarshalJSON()
	if err == nil {
		err = json.Unmarshal(raw, &port)
	}
	if err != nil {
		return spec.Port{}, fmt.Errorf("spec.template.spec.containers: ports: %w", err)
	}
	if port.Protocol == "" {
		port.Protocol = string(corev1.ProtocolTCP)
	}
	return spec.Port{Name: port.Name, ContainerPort: port.ContainerPort, Protocol: corev1.Protocol(port.Protocol)}, nil
}
