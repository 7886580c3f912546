package postrender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	yaml "go.yaml.in/yaml/v3"
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
	rn   *kyaml.RNode
	kind string
	doc  int // 1-based document number, for errors
	line int // line of the object in the stream
}

func (o *object) String() string {
	return fmt.Sprintf("document %d (line %d, %s %q)", o.doc, o.line, o.kind, o.rn.GetName())
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
	namespace   string
	podLabels   labels.Set
	matchLabels map[string]string
}

// transformer holds one run's state.
type transformer struct {
	opts    Options
	docs    []*document
	deploys []*deployment
	byName  map[string]*deployment // namespace/name
	active  spec.Color
	target  spec.Color
	// activeFrom remembers which Service the active color was read from.
	activeFrom string
	// emitted are the Deployments written, both colors of each, and
	// hpaMax the maxReplicas of the autoscaler of each, by name.
	emitted []emitted
	hpaMax  map[string]int32
}

// emitted is one color's Deployment as written, and its origin.
type emitted struct {
	from *deployment
	rn   *kyaml.RNode
}

// Run post-renders a manifest stream. It returns the whole output or an
// error; it never returns part of the output.
func Run(ctx context.Context, in []byte, opts Options) ([]byte, error) {
	if opts.ColorLabel == "" {
		opts.ColorLabel = spec.DefaultColorLabel
	}
	t := &transformer{opts: opts, byName: map[string]*deployment{}, hpaMax: map[string]int32{}}
	if err := t.read(in); err != nil {
		return nil, inputError(err)
	}
	if err := t.resolveColors(ctx); err != nil {
		return nil, runtimeError(err)
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
		switch {
		case o.kind == "List":
			items, err := listItems(o)
			if err != nil {
				return err
			}
			d.objs = items
		case interesting(o):
			d.objs = []*object{o}
		}
		if len(d.objs) > 0 {
			d.node = node
		}
	}
	if objects == 0 {
		return fmt.Errorf("no manifests on standard input: the chart rendered nothing, or the post-renderer was given an empty stream")
	}
	for _, d := range t.docs {
		for _, o := range d.objs {
			if err := t.addDeployment(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func newObject(n *yaml.Node, doc, line int) (*object, error) {
	o := &object{rn: kyaml.NewRNode(n), doc: doc, line: line}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("document %d (line %d): expected a Kubernetes object (a mapping), got a %s", doc, line, kindName(n))
	}
	kind := o.rn.Field("kind")
	if kind == nil || kind.Value.YNode().Kind != yaml.ScalarNode || kind.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d): kind: required; every manifest needs apiVersion and kind", doc, line)
	}
	o.kind = kind.Value.YNode().Value
	if av := o.rn.Field("apiVersion"); av == nil || av.Value.YNode().Value == "" {
		return nil, fmt.Errorf("document %d (line %d, kind %s): apiVersion: required", doc, line, o.kind)
	}
	return o, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "node"
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
		_, hook := o.rn.GetAnnotations()[AnnotationHelmHook]
		return !hook
	}
	return false
}

// addDeployment registers a Deployment that is to become blue and green.
func (t *transformer) addDeployment(o *object) error {
	if o.kind != "Deployment" || !interesting(o) {
		return nil
	}
	meta := o.rn.GetLabels()
	if o.rn.GetAnnotations()[AnnotationSkip] == "true" {
		return nil
	}
	if t.opts.Select != nil && !t.opts.Select.Matches(labels.Set(meta)) {
		return nil
	}
	if o.rn.GetName() == "" {
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
	d := &deployment{object: o, namespace: t.namespaceOf(o), podLabels: podLabels, matchLabels: matchLabels}
	key := d.namespace + "/" + o.rn.GetName()
	if _, dup := t.byName[key]; dup {
		return fmt.Errorf("%s: a Deployment of this name appears twice", o)
	}
	t.byName[key] = d
	t.deploys = append(t.deploys, d)
	return nil
}

func (t *transformer) namespaceOf(o *object) string {
	if ns := o.rn.GetNamespace(); ns != "" {
		return ns
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
	sel := labels.SelectorFromSet(selector)
	var out []*deployment
	for _, d := range t.deploys {
		if d.namespace == namespace && sel.Matches(d.podLabels) {
			out = append(out, d)
		}
	}
	return out
}

// selectedByLabelSelector is selectedBy for a metav1.LabelSelector at path.
func (t *transformer) selectedByLabelSelector(o *object, path ...string) ([]*deployment, error) {
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
	ns := t.namespaceOf(o)
	var out []*deployment
	for _, d := range t.deploys {
		if d.namespace == ns && sel.Matches(d.podLabels) {
			out = append(out, d)
		}
	}
	return out, nil
}

// resolveColors settles the active color (the flag, else what the previous
// release routed to, else blue) and the color that gets the new render.
func (t *transformer) resolveColors(ctx context.Context) error {
	t.active = t.opts.Active
	if t.active == "" && t.opts.Previous != nil {
		for _, d := range t.docs {
			for _, o := range d.objs {
				if o.kind != "Service" || !interesting(o) {
					continue
				}
				sel, err := stringMap(o.rn, "spec", "selector")
				if err != nil || len(t.selectedBy(t.namespaceOf(o), sel)) == 0 {
					continue
				}
				c, err := t.opts.Previous.ActiveColor(ctx, t.namespaceOf(o), o.rn.GetName())
				if err != nil {
					return fmt.Errorf("read the previous active color of Service %s: %w", o.rn.GetName(), err)
				}
				if c != "" {
					t.active, t.activeFrom = c, o.rn.GetName()
					break
				}
			}
			if t.active != "" {
				break
			}
		}
	}
	if t.active == "" {
		t.active = spec.Blue
	}
	t.target = t.opts.Target
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

// setStringMapField sets key=value in the mapping at path, creating it.
func setStringMapField(rn *kyaml.RNode, key, value string, path ...string) error {
	m, err := rn.Pipe(kyaml.LookupCreate(yaml.MappingNode, path...))
	if err != nil {
		return err
	}
	return m.PipeE(kyaml.SetField(key, kyaml.NewStringRNode(value)))
}

// Annotations and labels that a Service carries, as the renderer writes them.
var (
	annotationActive   = render.AnnotationActiveColor
	annotationPrevious = render.AnnotationPreviousColor
	annotationPreview  = render.AnnotationPreviewColor
)
