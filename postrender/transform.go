package postrender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// object is one Kubernetes object of the stream: a top-level document or an
// item of a kind: List document.
type object struct {
	// rn is the parsed object. Between the two passes it is dropped for
	// top-level documents, which are parsed again only if they change, so
	// that a large stream is never held parsed all at once.
	rn        *kyaml.RNode
	kind      string
	name      string
	namespace string // as written; may be empty
	hook      bool   // a Helm hook, which passes through untouched
	skip      bool   // a Service or PDB marked bgrender.io/skip: "true"
	doc       int    // 1-based document number, for errors
	line      int    // line of the object in the stream

	// What decides whether the object changes, read in the first pass.
	selector map[string]string // a Service's spec.selector
	targets  []string          // a Service's target ports (targetPort, else port)
	external bool              // a Service of type LoadBalancer or NodePort
	target   string            // the Deployment an HPA scales
	pdb      labels.Selector   // a PodDisruptionBudget's spec.selector
	// routeRules are an HTTPRoute's rules' Service backends (with
	// --weight), and backends an Ingress's Services.
	routeRules [][]backendRef
	backends   []string
}

func (o *object) String() string {
	return fmt.Sprintf("document %d (line %d, %s %q)", o.doc, o.line, o.kind, o.name)
}

// document is one chunk of the stream and what became of it.
type document struct {
	chunk
	index int
	node  *yaml.Node // the parsed document, kept only when it may change
	objs  []*object  // the object, or a List's items
}

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

// transformer holds one run's state.
type transformer struct {
	opts    Options
	docs    []*document
	deploys []*deployment
	byName  map[string]*deployment // namespace/name
	// byLabel indexes deploys by namespace and one pod label, key=value,
	// so that matching a selector does not scan every Deployment.
	byLabel map[string][]*deployment
	active  spec.Color
	target  spec.Color
	// others are the workloads whose pods stay as they are: StatefulSets,
	// DaemonSets, ReplicaSets and Deployments that are not transformed.
	others []*workload
	// namespaces are the namespaces that objects name; names the chart's
	// objects by kind/namespace/name (an unnamed namespace resolved).
	namespaces map[string]bool
	names      map[string]objectRef
	// promotion: this render flips the active color of the previous
	// release; no color gets the new render of the Deployments.
	promotion bool
	// adopting holds, for each Deployment that the previous state ran
	// without colors (a release installed before bgrender), that
	// Deployment as it ran.
	adopting map[*deployment]*kyaml.RNode
	// previous caches the previous state's Deployments by namespace/name
	// (nil for none): several steps ask for the same ones, and reading
	// them from the cluster is a request each.
	previous map[string]*kyaml.RNode
	// usage is what each written Deployment runs, for the quota, and
	// hpaMax the maxReplicas of the autoscaler of each, by name.
	usage  []podUsage
	hpaMax map[string]int32
	// hasIngress: the chart routes traffic in through an Ingress or a
	// Gateway API route, so the NetworkPolicies admit the controller.
	hasIngress bool
	// otherRoute names a route whose controller is likely not
	// ingress-nginx (a Gateway API route, another Ingress class).
	otherRoute string
	// weighted holds namespace/name of the Services that get per-color
	// copies for --weight.
	weighted map[string]bool
}

// Run post-renders a manifest stream. It returns the whole output or an
// error; it never returns part of the output.
func Run(ctx context.Context, in []byte, opts Options) ([]byte, error) {
	if opts.ColorLabel == "" {
		opts.ColorLabel = spec.DefaultColorLabel
	}
	t := &transformer{opts: opts, byName: map[string]*deployment{}, byLabel: map[string][]*deployment{}, hpaMax: map[string]int32{}}
	if err := t.read(in); err != nil {
		return nil, inputError(err)
	}
	if err := t.check(); err != nil {
		return nil, inputError(err)
	}
	if err := t.resolveColors(ctx); err != nil {
		return nil, runtimeError(err)
	}
	if err := t.findAdoptions(ctx); err != nil {
		return nil, err
	}
	if err := t.checkKept(ctx); err != nil {
		return nil, err
	}
	out, err := t.write(ctx)
	if err != nil {
		return nil, inputError(err)
	}
	return out, nil
}

// inputError marks a problem with the manifests (exit code 2) unless it
// already carries a code.
func inputError(err error) error {
	var coded *exitcode.Error
	if errors.As(err, &coded) {
		return err
	}
	return exitcode.InvalidInput(fmt.Errorf("stdin: %w", err))
}

// runtimeError marks a failure to read the previous release (exit code 1).
func runtimeError(err error) error {
	var coded *exitcode.Error
	if errors.As(err, &coded) {
		return err
	}
	return &exitcode.Error{Code: exitcode.Failure, Err: err}
}

// read splits and parses the stream, keeping parsed only what may change.
func (t *transformer) read(in []byte) error {
	objects := 0
	for i, c := range split(in) {
		d := &document{chunk: c, index: i + 1}
		t.docs = append(t.docs, d)
		node, err := c.parse()
		if err != nil {
			return fmt.Errorf("document %d: %w", d.index, err)
		}
		if node == nil {
			continue // only comments or whitespace
		}
		objects++
		root := node.Content[0]
		o, err := newObject(root, d.index, c.line+root.Line-1)
		if err != nil {
			return err
		}
		t.noteObject(o)
		_, listHook := o.rn.GetAnnotations()[AnnotationHelmHook]
		switch {
		case o.kind == "List" && listHook:
			// Helm takes a List with a hook annotation as a hook: it
			// passes through, items and all.
		case o.kind == "List":
			items, err := listItems(o)
			if err != nil {
				return err
			}
			for _, item := range items {
				t.noteObject(item)
			}
			d.objs = items
			d.node = node // Lists are rare; keep them parsed
		case interesting(o) || (t.opts.Weight != nil && (routeKinds[o.kind] || otherRouteKinds[o.kind] || o.kind == "Ingress")):
			d.objs = []*object{o}
		case podTemplateKinds[o.kind]:
			if err := t.addWorkload(o); err != nil {
				return err
			}
		}
		for _, o := range d.objs {
			if err := t.describe(o); err != nil {
				return err
			}
		}
		if d.node == nil {
			for _, o := range d.objs {
				o.rn = nil
			}
		}
	}
	if objects == 0 {
		return fmt.Errorf("no manifests on standard input: the chart rendered nothing, or the post-renderer was given an empty stream")
	}
	return nil
}

// noteObject records the namespace an object names, if any, and where
// the object is by kind, namespace and name: the objects bgrender adds
// must not take its place.
func (t *transformer) noteObject(o *object) {
	switch o.kind {
	case "List":
		return
	case "Ingress", "HTTPRoute", "GRPCRoute":
		t.hasIngress = true
		if class, _ := o.rn.GetString("spec.ingressClassName"); o.kind != "Ingress" || (class != "" && class != "nginx") {
			t.otherRoute = o.kind + " " + o.rn.GetName()
		}
	}
	ns := o.rn.GetNamespace()
	if ns != "" {
		if t.namespaces == nil {
			t.namespaces = map[string]bool{}
		}
		t.namespaces[ns] = true
	} else {
		ns = t.opts.Namespace
	}
	if t.names == nil {
		t.names = map[string]objectRef{}
	}
	name := o.rn.GetName()
	t.names[o.kind+"/"+ns+"/"+name] = objectRef{doc: o.doc, line: o.line, kind: o.kind, name: name}
}

// objectRef says where an object of the stream is, as object.String does.
type objectRef struct {
	doc, line  int
	kind, name string
}

func (r objectRef) String() string {
	return fmt.Sprintf("document %d (line %d, %s %q)", r.doc, r.line, r.kind, r.name)
}

// taken returns the chart's object of kind at namespace/name (the
// namespace as bgrender resolves it), if there is one.
func (t *transformer) taken(kind, namespace, name string) (objectRef, bool) {
	if namespace == "" {
		namespace = t.opts.Namespace
	}
	r, ok := t.names[kind+"/"+namespace+"/"+name]
	return r, ok
}

// describe reads what decides whether an object changes, and registers
// the Deployments that become blue and green.
func (t *transformer) describe(o *object) error {
	o.name, o.namespace = o.rn.GetName(), o.rn.GetNamespace()
	_, o.hook = o.rn.GetAnnotations()[AnnotationHelmHook]
	if o.hook {
		return nil
	}
	var err error
	switch o.kind {
	case "Deployment":
		return t.addDeployment(o)
	case "Service":
		o.skip = o.rn.GetAnnotations()[AnnotationSkip] == "true" || slices.Contains(t.opts.Skip, o.name)
		if o.selector, err = stringMap(o.rn, "spec", "selector"); err != nil {
			return fmt.Errorf("%s: %w", o, err)
		}
		o.targets = serviceTargets(o.rn)
		typ, _ := o.rn.GetString("spec.type")
		o.external = typ == "LoadBalancer" || typ == "NodePort"
	case "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute":
		o.routeRules = routeBackends(o.rn)
	case "Ingress":
		o.backends = ingressBackends(o.rn)
	case "HorizontalPodAutoscaler":
		if kind, _ := o.rn.GetString("spec.scaleTargetRef.kind"); kind == "Deployment" {
			o.target, _ = o.rn.GetString("spec.scaleTargetRef.name")
		}
	case "PodDisruptionBudget":
		o.skip = o.rn.GetAnnotations()[AnnotationSkip] == "true" || slices.Contains(t.opts.Skip, o.name)
		if o.pdb, err = labelSelector(o, "spec", "selector"); err != nil {
			return err
		}
	default:
		if podTemplateKinds[o.kind] { // an item of a List
			return t.addWorkload(o)
		}
	}
	return nil
}

func newObject(n *yaml.Node, doc, line int) (*object, error) {
	o := &object{rn: kyaml.NewRNode(n), doc: doc, line: line}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("document %d (line %d): expected a Kubernetes object (a mapping), got %s", doc, line, kindName(n))
	}
	kind := o.rn.Field("kind")
	if kind == nil || kind.Value.YNode().Kind != yaml.ScalarNode || kind.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d): kind: required; every manifest needs apiVersion and kind", doc, line)
	}
	o.kind = kind.Value.YNode().Value
	if av := o.rn.Field("apiVersion"); av == nil || av.Value.YNode().Kind != yaml.ScalarNode || av.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d, kind %s): apiVersion: required", doc, line, o.kind)
	}
	if err := checkMetadata(n); err != nil {
		return nil, fmt.Errorf("document %d (line %d, kind %s): %w", doc, line, o.kind, err)
	}
	return o, nil
}

// checkMetadata makes sure that metadata has the shape that kyaml's
// accessors assume (they index into it without checking): a mapping whose
// name and namespace are scalars and whose labels and annotations map
// scalars to scalars.
func checkMetadata(obj *yaml.Node) error {
	meta := mappingValue(obj, "metadata")
	if meta == nil || meta.Tag == "!!null" {
		return nil
	}
	if meta.Kind != yaml.MappingNode {
		return fmt.Errorf("metadata: expected a mapping, got %s", kindName(meta))
	}
	for i := 0; i+1 < len(meta.Content); i += 2 {
		k, v := meta.Content[i], meta.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("metadata: keys must be strings")
		}
		switch k.Value {
		case "name", "namespace":
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("metadata.%s: expected a string, got %s", k.Value, kindName(v))
			}
		case "labels", "annotations":
			if v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("metadata.%s: expected a mapping, got %s", k.Value, kindName(v))
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Kind != yaml.ScalarNode || v.Content[j+1].Kind != yaml.ScalarNode {
					return fmt.Errorf("metadata.%s: expected string keys and values", k.Value)
				}
			}
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "a node"
}

func listItems(list *object) ([]*object, error) {
	items := list.rn.Field("items")
	if items == nil || items.Value.YNode().Tag == "!!null" {
		return nil, nil
	}
	if items.Value.YNode().Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: items: expected a list", list)
	}
	var out []*object
	for _, n := range items.Value.YNode().Content {
		o, err := newObject(n, list.doc, list.line+n.Line-list.rn.YNode().Line)
		if err != nil {
			return nil, err
		}
		if o.kind == "List" {
			return nil, fmt.Errorf("%s: a List inside a List is not supported", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// interesting reports whether an object may be transformed or decides what
// is: Deployments, Services, HPAs and PDBs that are not Helm hooks.
func interesting(o *object) bool {
	switch o.kind {
	case "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget":
		return true
	}
	return false
}

// addDeployment registers a Deployment that is to become blue and green.
func (t *transformer) addDeployment(o *object) error {
	meta := o.rn.GetLabels()
	annotations := o.rn.GetAnnotations()
	if annotations[AnnotationSkip] == "true" || slices.Contains(t.opts.Skip, o.name) || (t.opts.Select != nil && !t.opts.Select.Matches(labels.Set(meta))) {
		return t.addWorkload(o)
	}
	if o.name == "" {
		return fmt.Errorf("%s: metadata.name: required", o)
	}
	matchLabels, err := stringMap(o.rn, "spec", "selector", "matchLabels")
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	if len(matchLabels) == 0 && o.rn.Field("spec") != nil {
		if exprs, _ := o.rn.Pipe(kyaml.Lookup("spec", "selector", "matchExpressions")); exprs == nil {
			return fmt.Errorf("%s: spec.selector: required; a Deployment must select its pods", o)
		}
	}
	if len(matchLabels) == 0 && o.rn.Field("spec") == nil {
		return fmt.Errorf("%s: spec.selector: required; a Deployment must select its pods", o)
	}
	podLabels, err := stringMap(o.rn, "spec", "template", "metadata", "labels")
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	if c, ok := podLabels[t.opts.ColorLabel]; ok {
		return fmt.Errorf("%s: the pod template already carries the color label %s=%s; mark it with %s: \"true\" or choose another --color-label", o, t.opts.ColorLabel, c, AnnotationSkip)
	}
	ports, err := containerPorts(o.rn)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	d := &deployment{object: o, namespace: t.namespaceOf(o), podLabels: podLabels, matchLabels: matchLabels,
		ports: ports, filename: annotations[AnnotationHelm4Filename]}
	if exprs, _ := o.rn.Pipe(kyaml.Lookup("spec", "selector", "matchExpressions")); exprs != nil {
		raw, err := exprs.MarshalJSON()
		if err == nil {
			err = json.Unmarshal(raw, &d.matchExpressions)
		}
		if err != nil {
			return fmt.Errorf("%s: spec.selector.matchExpressions: %w", o, err)
		}
	}
	key := d.namespace + "/" + o.name
	if _, dup := t.byName[key]; dup {
		return fmt.Errorf("%s: a Deployment of this name appears twice", o)
	}
	t.byName[key] = d
	t.deploys = append(t.deploys, d)
	for k, v := range podLabels {
		t.byLabel[labelKey(d.namespace, k, v)] = append(t.byLabel[labelKey(d.namespace, k, v)], d)
	}
	return nil
}

// serviceTargets returns each port's targetPort (its port when it has
// none), as written: a number or a port name.
func serviceTargets(rn *kyaml.RNode) []string {
	ports := mappingValue(mappingValue(rn.YNode(), "spec"), "ports")
	if ports == nil || ports.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, p := range ports.Content {
		v := mappingValue(p, "targetPort")
		if v == nil {
			v = mappingValue(p, "port")
		}
		if v != nil && v.Kind == yaml.ScalarNode {
			out = append(out, v.Value)
		}
	}
	return out
}

// podTemplateKinds are the other kinds whose pods a Service may select.
var podTemplateKinds = map[string]bool{"StatefulSet": true, "DaemonSet": true, "ReplicaSet": true}

// addWorkload records the pod labels of a workload that is not made
// blue/green, so that a Service that also selects its pods is not routed
// to one color (which would drop them).
func (t *transformer) addWorkload(o *object) error {
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
		t.others = append(t.others, &workload{desc: o.String(), kind: o.kind, name: o.name, namespace: t.namespaceOf(o), explicit: o.namespace != "", podLabels: podLabels})
	}
	return nil
}

func labelKey(namespace, k, v string) string { return namespace + "\x00" + k + "\x00" + v }

func (t *transformer) namespaceOf(o *object) string {
	if o.namespace != "" {
		return o.namespace
	}
	return t.opts.Namespace
}

// stringMap reads a map of strings at path; a missing map is empty.
func stringMap(rn *kyaml.RNode, path ...string) (map[string]string, error) {
	n, err := rn.Pipe(kyaml.Lookup(path...))
	if err != nil || n == nil {
		return map[string]string{}, nil
	}
	if n.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: expected a mapping", dotted(path))
	}
	out := map[string]string{}
	content := n.YNode().Content
	for i := 0; i+1 < len(content); i += 2 {
		if content[i+1].Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s.%s: expected a string", dotted(path), content[i].Value)
		}
		out[content[i].Value] = content[i+1].Value
	}
	return out, nil
}

func dotted(path []string) string {
	var b bytes.Buffer
	for i, p := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// selectedBy returns the Deployments whose pods a Service selector (a map)
// selects; an empty selector selects nothing.
func (t *transformer) selectedBy(namespace string, selector map[string]string) []*deployment {
	if len(selector) == 0 {
		return nil
	}
	// Start from the Deployments that have the rarest of the selector's
	// pairs, then check the rest.
	var candidates []*deployment
	first := true
	for k, v := range selector {
		ds := t.byLabel[labelKey(namespace, k, v)]
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

// labelSelector reads a metav1.LabelSelector at path; nil if absent or empty.
func labelSelector(o *object, path ...string) (labels.Selector, error) {
	n, err := o.rn.Pipe(kyaml.Lookup(path...))
	if err != nil || n == nil {
		return nil, nil
	}
	var ls metav1.LabelSelector
	raw, err := n.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	if err := json.Unmarshal(raw, &ls); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o, dotted(path), err)
	}
	if sel.Empty() {
		return nil, nil
	}
	return sel, nil
}

// changes reports whether an object is transformed.
func (t *transformer) changes(o *object) bool {
	if o.hook {
		return false
	}
	switch o.kind {
	case "Deployment":
		d := t.byName[t.namespaceOf(o)+"/"+o.name]
		return d != nil && d.object == o
	case "Service":
		_, colored := o.selector[t.opts.ColorLabel]
		if o.skip || colored {
			return false
		}
		selected := t.selectedBy(t.namespaceOf(o), o.selector)
		for _, d := range selected {
			if t.adopting[d] != nil {
				return false // adoption: the Service still selects D's pods
			}
		}
		return len(selected) > 0
	case "HorizontalPodAutoscaler":
		return o.target != "" && t.byName[t.namespaceOf(o)+"/"+o.target] != nil
	case "HTTPRoute", "GRPCRoute":
		return t.opts.Weight != nil && len(t.weightedRules(o)) > 0
	case "PodDisruptionBudget":
		if o.pdb == nil || o.skip {
			return false
		}
		for _, d := range t.deploys {
			if d.namespace == t.namespaceOf(o) && o.pdb.Matches(d.podLabels) {
				return true
			}
		}
	}
	return false
}

// check refuses what would make a broken release: a Service routed to one
// color that also selects pods that have no color (they would drop out of
// it), and an object bgrender adds whose name the chart already uses.
func (t *transformer) check() error {
	var all []*object
	for _, d := range t.docs {
		all = append(all, d.objs...)
	}
	if err := t.checkNamespaces(all); err != nil {
		return err
	}
	if err := t.checkWeights(all); err != nil {
		return err
	}
	for _, o := range all {
		if !t.changes(o) {
			continue
		}
		var added []string
		switch o.kind {
		case "Service":
			if err := t.checkServiceSelects(o); err != nil {
				return err
			}
			added = []string{o.name + "-preview"}
		case "PodDisruptionBudget":
			for _, w := range t.others {
				if w.namespace == t.namespaceOf(o) && o.pdb.Matches(w.podLabels) {
					return fmt.Errorf("%s: selects the pods of %s, which are not made blue/green, as well as a Deployment's that are: a budget per color would leave %s's pods without one; annotate the PodDisruptionBudget with %s: \"true\" to leave it as it is, or narrow its selector", o, w.desc, w.name, AnnotationSkip)
				}
			}
			added = []string{colorName(o.name, spec.Blue), colorName(o.name, spec.Green)}
		case "Deployment", "HorizontalPodAutoscaler":
			added = []string{colorName(o.name, spec.Blue), colorName(o.name, spec.Green)}
		}
		for _, name := range added {
			if other, ok := t.taken(o.kind, t.namespaceOf(o), name); ok {
				return fmt.Errorf("%s: bgrender would add %s %s, but the chart has one of that name (%s); rename one of them", o, o.kind, name, other)
			}
		}
	}
	return nil
}

// checkNamespaces refuses to guess. Helm does not tell a post-renderer the
// release namespace; when it is not given (--namespace, HELM_NAMESPACE) an
// object without a namespace is somewhere bgrender cannot name. A Service
// on one side of that line whose selector matches pods on the other
// cannot be routed safely: whether it selects them depends on the release
// namespace.
func (t *transformer) checkNamespaces(all []*object) error {
	if t.opts.Namespace != "" || len(t.namespaces) == 0 {
		return nil
	}
	type pods struct {
		desc     string
		explicit bool
		labels   labels.Set
	}
	var workloads []pods
	for _, d := range t.deploys {
		workloads = append(workloads, pods{d.object.String(), d.object.namespace != "", d.podLabels})
	}
	for _, w := range t.others {
		workloads = append(workloads, pods{w.desc, w.explicit, w.podLabels})
	}
	for _, o := range all {
		if o.kind != "Service" || o.hook || o.skip || len(o.selector) == 0 {
			continue
		}
		sel := labels.SelectorFromValidatedSet(o.selector)
		for _, w := range workloads {
			if w.explicit != (o.namespace != "") && sel.Matches(w.labels) {
				return fmt.Errorf("%s selects the pods of %s, and one of them names a namespace while the other does not: Helm does not tell a post-renderer the release namespace, so bgrender cannot tell whether they are in the same one; pass it (--post-renderer-args --namespace=NAMESPACE) or set HELM_NAMESPACE", o, w.desc)
			}
		}
	}
	return nil
}

// checkServiceSelects refuses a Service that selects the pods of a
// workload that is not made blue/green as well as a transformed one.
func (t *transformer) checkServiceSelects(o *object) error {
	sel := labels.SelectorFromValidatedSet(o.selector)
	for _, w := range t.others {
		if w.namespace == t.namespaceOf(o) && sel.Matches(w.podLabels) {
			return fmt.Errorf("%s: selects the pods of %s, which are not made blue/green, and of Deployment %s, which are: routing the Service to one color would drop %s's pods; annotate the Service with %s: \"true\" to leave it as it is, or narrow its selector",
				o, w.desc, t.selectedBy(t.namespaceOf(o), o.selector)[0].name, w.name, AnnotationSkip)
		}
	}
	return nil
}

// previousDeployment returns the Deployment name in namespace as the
// previous state had it, or nil; each is read once.
func (t *transformer) previousDeployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error) {
	key := namespace + "/" + name
	if d, ok := t.previous[key]; ok {
		return d, nil
	}
	d, err := t.opts.Previous.Deployment(ctx, namespace, name)
	if err != nil {
		return nil, runtimeError(fmt.Errorf("read the previous %s: %w", name, err))
	}
	if t.previous == nil {
		t.previous = map[string]*kyaml.RNode{}
	}
	t.previous[key] = d
	return d, nil
}

// findAdoptions finds the Deployments that the previous state ran as
// they were, without colors: the first upgrade of a release with bgrender.
// Replacing D by D-blue and D-green at once would route the Service to
// pods that are still starting while D goes away. So this upgrade keeps D
// running and its Services as they are (they select D's pods and, once
// ready, both colors'); the next upgrade drops D and routes the Services.
func (t *transformer) findAdoptions(ctx context.Context) error {
	if t.opts.Previous == nil {
		return nil
	}
	for _, d := range t.deploys {
		if !t.changes(d.object) {
			continue
		}
		old, err := t.previousDeployment(ctx, d.namespace, d.name)
		if err != nil {
			return err
		}
		if old == nil {
			continue
		}
		colored := false
		for _, c := range spec.Colors {
			prev, err := t.previousDeployment(ctx, d.namespace, colorName(d.name, c))
			if err != nil {
				return err
			}
			colored = colored || prev != nil
		}
		if !colored {
			if t.adopting == nil {
				t.adopting = map[*deployment]*kyaml.RNode{}
			}
			t.adopting[d] = old
		}
	}
	return nil
}

// checkKept refuses a render whose Service would route live traffic to
// pods it does not match: the live color's Deployment is kept as the
// previous state had it, while the Service comes from the new render, so
// a chart that changes the Service's selector or target ports must not
// leave the live pods behind.
func (t *transformer) checkKept(ctx context.Context) error {
	if t.opts.Previous == nil || (t.target == t.active && !t.promotion) {
		return nil // the live color gets the new render
	}
	if t.promotion {
		// The color that goes live must have run before: a Deployment
		// the previous state has in the old live color only would go
		// live with this render, untested.
		for _, d := range t.deploys {
			if !t.changes(d.object) {
				continue
			}
			next, err := t.previousDeployment(ctx, d.namespace, colorName(d.name, t.active))
			if err != nil {
				return err
			}
			old, err := t.previousDeployment(ctx, d.namespace, colorName(d.name, t.active.Other()))
			if err != nil {
				return err
			}
			if next == nil && old != nil {
				return inputError(fmt.Errorf("%s: promoting to %s, but the previous release has no %s: it would go live with this render, untested; deploy it to %s first (an upgrade), or pass --target=%s to accept that",
					d.object, t.active, colorName(d.name, t.active), t.active, t.active))
			}
		}
	}
	for _, d := range t.docs {
		for _, o := range d.objs {
			if o.kind != "Service" || !t.changes(o) {
				continue
			}
			for _, dep := range t.selectedBy(t.namespaceOf(o), o.selector) {
				name := colorName(dep.name, t.active)
				prev, err := t.previousDeployment(ctx, dep.namespace, name)
				if err != nil {
					return err
				}
				if prev == nil {
					continue // the live color gets the render after all
				}
				if problem := t.keptMismatch(o, dep, prev); problem != "" {
					return inputError(fmt.Errorf("%s: the live %s pods of Deployment %s, kept as the previous release ran them, %s: the Service would route live traffic to no pods. Roll the change out to both colors first (an upgrade, a promotion, another upgrade) before the Service needs it, or apply it to the live color too with --target=%s",
						o, t.active, name, problem, t.active))
				}
			}
		}
	}
	return nil
}

// keptMismatch says how the pods of a kept Deployment fail the Service o:
// a selector label they lack, or a target port that the new render's pods
// declare and theirs do not (a port declared by neither may still be
// listened on: that is not a change).
func (t *transformer) keptMismatch(o *object, dep *deployment, prev *kyaml.RNode) string {
	podLabels, err := stringMap(prev, "spec", "template", "metadata", "labels")
	if err != nil {
		return ""
	}
	for k, v := range o.selector {
		if podLabels[k] != v {
			return fmt.Sprintf("lack the label %s=%s that the Service now selects", k, v)
		}
	}
	ports, err := containerPorts(prev)
	if err != nil {
		return ""
	}
	has := func(ports []spec.Port, target string) bool {
		for _, p := range ports {
			if p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target {
				return true
			}
		}
		return false
	}
	for _, target := range o.targets {
		if has(dep.ports, target) && !has(ports, target) {
			return fmt.Sprintf("declare no port %s, which the Service now targets", target)
		}
	}
	return ""
}

// resolveColors settles the active color (the flag, else what the previous
// release routed to, else blue) and the color that gets the new render.
func (t *transformer) resolveColors(ctx context.Context) error {
	var previous spec.Color // what the previous release routed to
	if t.opts.Previous != nil {
	services:
		for _, d := range t.docs {
			for _, o := range d.objs {
				if o.kind != "Service" || !t.changes(o) {
					continue
				}
				c, err := t.opts.Previous.ActiveColor(ctx, t.namespaceOf(o), o.name)
				if err != nil {
					return fmt.Errorf("read the previous active color of Service %s: %w", o.name, err)
				}
				if c != "" {
					previous = c
					break services
				}
			}
		}
	}
	t.active = t.opts.Active
	if t.active == "" {
		t.active = previous
	}
	if t.active == "" {
		t.active = spec.Blue
	}
	t.target = t.opts.Target
	// A new --active is a promotion: traffic moves to the color that was
	// idle, and both colors keep what they ran, so that the color that
	// was live stays the rollback target. --target also puts the render
	// on a color.
	t.promotion = t.target == "" && previous != "" && previous != t.active
	if t.target == "" {
		t.target = t.active.Other()
	}
	return nil
}

// colorLabels returns labels plus the color label.
func (t *transformer) withColor(m map[string]string, c spec.Color) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[t.opts.ColorLabel] = string(c)
	return out
}

// setStringMapField sets key to the string value in the mapping at path
// under rn, creating the mappings on the way. It edits the yaml.Node tree
// directly: kyaml's field setter re-parses every value it sets, which made
// this the most expensive step of a post-render.
func setStringMapField(rn *kyaml.RNode, key, value string, path ...string) error {
	m := rn.YNode()
	for _, p := range path {
		if m.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: expected a mapping", p)
		}
		next := mappingValue(m, p)
		if next == nil || next.Tag == "!!null" {
			if next == nil {
				next = &yaml.Node{}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, next)
			}
			*next = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		m = next
	}
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: expected a mapping", dotted(path))
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if old := mappingValue(m, key); old != nil {
		// Keep the comments around the old value.
		v.HeadComment, v.LineComment, v.FootComment = old.HeadComment, old.LineComment, old.FootComment
		*old = *v
		return nil
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return nil
}

// mappingValue returns the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Annotations and labels that a Service carries, as the renderer writes them.
var (
	annotationActive   = render.AnnotationActiveColor
	annotationPrevious = render.AnnotationPreviousColor
	annotationPreview  = render.AnnotationPreviewColor
)

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
				return nil, fmt.Errorf("spec.template.spec.containers: ports: %w", err)
			}
			if port.Protocol == "" {
				port.Protocol = string(corev1.ProtocolTCP)
			}
			ports = append(ports, spec.Port{Name: port.Name, ContainerPort: port.ContainerPort, Protocol: corev1.Protocol(port.Protocol)})
		}
	}
	return ports, nil
}
