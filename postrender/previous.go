package postrender

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamlerr"
	"github.com/bgrender/bgrender/spec"
)

// Release reads the last deployed revision of a Helm release from Helm's
// release storage: the Secrets (or, with HELM_DRIVER=configmap, the
// ConfigMaps) labelled owner=helm in the release namespace, where Helm 3
// and Helm 4 keep a gzipped helm.sh/helm/v3/pkg/release.Release. It reads
// them as Helm's storage driver does (same label query, same encoding)
// rather than through the driver package, whose imports (an SQL driver, a
// JSON Schema validator) would slow every bgrender start-up.
// A release that was never deployed has no previous state.
type Release struct {
	Client    dynamic.Interface
	Namespace string
	Name      string
	// Driver is "secret" (the default) or "configmap", as HELM_DRIVER says.
	Driver string

	once  sync.Once
	err   error
	state *manifestState
}

var _ Previous = (*Release)(nil)

// manifestState indexes the objects of a stored manifest.
type manifestState struct {
	deployments map[string]*kyaml.RNode // namespace/name
	colors      map[string]spec.Color   // Service namespace/name → active color
	others      map[string]*kyaml.RNode // HPAs and PDBs: kind/namespace/name
	// colorLabel, when set, is the selector key whose color value says
	// which color a Service routes to (over its annotation): manifests in
	// Git, where a promote flips the selector.
	colorLabel string
}

func newManifestState(colorLabel string) *manifestState {
	return &manifestState{deployments: map[string]*kyaml.RNode{}, colors: map[string]spec.Color{},
		others: map[string]*kyaml.RNode{}, colorLabel: colorLabel}
}

func (r *Release) load(ctx context.Context) (*manifestState, error) {
	r.once.Do(func() {
		rel, err := r.deployed(ctx)
		switch {
		case err != nil:
			r.err = fmt.Errorf("read release %s in namespace %s: %w", r.Name, r.Namespace, err)
		case rel == nil:
			r.state = &manifestState{}
		default:
			r.state, r.err = indexManifest([]byte(rel.Manifest), r.Namespace)
			if r.err != nil {
				r.err = fmt.Errorf("release %s revision %d: %w", r.Name, rel.Version, r.err)
			}
		}
	})
	return r.state, r.err
}

// storage returns the resource that holds Helm's release records.
func storage(driver string) (schema.GroupVersionResource, error) {
	if driver == "" {
		driver = os.Getenv("HELM_DRIVER")
	}
	switch driver {
	case "", "secret", "secrets":
		return cluster.Secrets, nil
	case "configmap", "configmaps":
		return cluster.ConfigMaps, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("HELM_DRIVER %q: bgrender reads releases stored in secrets or configmaps", driver)
}

// ReleaseNamespaces lists the namespaces that hold records of the Helm
// release name, searching every namespace (Helm does not tell a
// post-renderer the release namespace). A forbidden search returns
// apierrors.IsForbidden.
func ReleaseNamespaces(ctx context.Context, client dynamic.Interface, name, driver string) ([]string, error) {
	gvr, err := storage(driver)
	if err != nil {
		return nil, err
	}
	list, err := client.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range list.Items {
		if ns := item.GetNamespace(); !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out, nil
}

// deployed returns the newest deployed revision, or nil if there is none.
func (r *Release) deployed(ctx context.Context) (*storedRelease, error) {
	gvr, err := storage(r.Driver)
	if err != nil {
		return nil, err
	}
	list, err := r.Client.Resource(gvr).Namespace(r.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "owner=helm,status=deployed,name=" + r.Name,
	})
	if err != nil {
		return nil, err
	}
	var newest *unstructured.Unstructured
	newestVersion := -1
	for i := range list.Items {
		v, err := strconv.Atoi(list.Items[i].GetLabels()["version"])
		if err == nil && v > newestVersion {
			newest, newestVersion = &list.Items[i], v
		}
	}
	if newest == nil {
		return nil, nil
	}
	data, _, _ := unstructured.NestedString(newest.Object, "data", "release")
	if gvr == cluster.Secrets {
		// The API serves Secret data base64-encoded; Helm's own encoding is inside.
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", newest.GetName(), err)
		}
		data = string(raw)
	}
	rel, err := decodeRelease(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", newest.GetName(), err)
	}
	return rel, nil
}

// storedRelease is the part of Helm's helm.sh/helm/v3/pkg/release.Release
// that bgrender reads: the same JSON, without Helm's packages, whose
// initialization (a chart's semver constraints among them) every
// bgrender start-up would pay.
type storedRelease struct {
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Manifest string `json:"manifest"`
}

// decodeRelease undoes Helm's storage encoding: base64, then gzip (when
// the magic header is there), then JSON.
func decodeRelease(data string) (*storedRelease, error) {
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("decode release: %w", err)
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b, 0x08}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("decode release: %w", err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("decode release: %w", err)
		}
	}
	var rel storedRelease
	if err := json.Unmarshal(b, &rel); err != nil {
		return nil, fmt.Errorf("decode release: %w", err)
	}
	return &rel, nil
}

// indexManifest finds the Deployments and the Services' active colors in a
// manifest stream as Helm stored it.
func indexManifest(manifest []byte, namespace string) (*manifestState, error) {
	st := newManifestState("")
	err := st.index(manifest, namespace)
	if errors.As(err, new(*yamlerr.DuplicateKeyError)) {
		// Helm applied it keeping the last of the two values; which one
		// runs is for the cluster to say.
		return nil, fmt.Errorf("%w: read the previous state with --from-cluster instead", err)
	}
	return st, err
}

// index adds the objects of a manifest stream.
func (st *manifestState) index(manifest []byte, namespace string) error {
	for i, c := range split(manifest) {
		node, err := c.parse()
		if err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
		if node == nil || node.Content[0].Kind != kyaml.MappingNode {
			continue
		}
		rn := kyaml.NewRNode(node.Content[0])
		objs := []*kyaml.RNode{rn}
		if rn.GetKind() == "List" {
			// bgrender writes a changed List back as a List, and Helm
			// stores it so: its items are the objects.
			items, _ := rn.Pipe(kyaml.Lookup("items"))
			objs = nil
			if items != nil {
				objs, _ = items.Elements()
			}
		}
		for _, o := range objs {
			st.add(o, namespace)
		}
	}
	return nil
}

// add indexes one object of a stored manifest.
func (st *manifestState) add(rn *kyaml.RNode, namespace string) {
	if rn.YNode().Kind != kyaml.MappingNode {
		return
	}
	ns := rn.GetNamespace()
	if ns == "" {
		ns = namespace
	}
	key := ns + "/" + rn.GetName()
	switch rn.GetKind() {
	case "Deployment":
		st.deployments[key] = rn
	case "Service":
		if c := spec.Color(rn.GetAnnotations()[annotationActive]); c.Valid() {
			st.colors[key] = c
		}
		if st.colorLabel == "" {
			break
		}
		if sel, _ := rn.Pipe(kyaml.Lookup("spec", "selector", st.colorLabel)); sel != nil {
			if c := spec.Color(kyaml.GetValue(sel)); c.Valid() {
				st.colors[key] = c
			}
		}
	case "HorizontalPodAutoscaler", "PodDisruptionBudget":
		st.others[rn.GetKind()+"/"+key] = rn
	}
}

// Object implements PreviousObjects.
func (r *Release) Object(ctx context.Context, kind, namespace, name string) (*kyaml.RNode, error) {
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	return st.others[kind+"/"+namespace+"/"+name], nil
}

// Deployment implements Previous.
func (r *Release) Deployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error) {
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	return st.deployments[namespace+"/"+name], nil
}

// ActiveColor implements Previous.
func (r *Release) ActiveColor(ctx context.Context, namespace, name string) (spec.Color, error) {
	st, err := r.load(ctx)
	if err != nil {
		return "", err
	}
	return st.colors[namespace+"/"+name], nil
}

// Cluster reads the previous state from the live cluster: the running
// Deployment of the active color, without its status and server-set
// metadata, and the active color from the live Service's annotation.
type Cluster struct {
	Client dynamic.Interface
	// NamespaceGuessed: the release namespace came from the kubeconfig, as
	// Helm does not pass it. A Deployment not found there is looked for
	// in every namespace; found elsewhere, it is an error (exit 2) rather
	// than a first install, which would put the render on the live color.
	NamespaceGuessed bool
}

var _ Previous = (*Cluster)(nil)

// Deployment implements Previous.
func (c *Cluster) Deployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error) {
	d, err := c.Client.Resource(cluster.Deployments).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if c.NamespaceGuessed {
			return nil, c.elsewhere(ctx, namespace, name)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Deployment %s/%s: %w", namespace, name, err)
	}
	return cleanLive(d)
}

// elsewhere reports a Deployment name that lives in other namespaces than
// namespace; nil when it lives nowhere, or the caller may not look.
func (c *Cluster) elsewhere(ctx context.Context, namespace, name string) error {
	l, err := c.Client.Resource(cluster.Deployments).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil || len(l.Items) == 0 {
		return nil
	}
	var found []string
	for _, d := range l.Items {
		if d.GetName() == name {
			found = append(found, d.GetNamespace())
		}
	}
	if len(found) == 0 {
		return nil
	}
	slices.Sort(found)
	return exitcode.Invalidf("Deployment %s is not in namespace %s (the kubeconfig's) but in %s: Helm does not tell a post-renderer the release namespace; pass --post-renderer-args --namespace=NAMESPACE",
		name, namespace, strings.Join(found, ", "))
}

// cleanLive drops what the API server and controllers add to a live
// object: status and server-set metadata.
func cleanLive(d *unstructured.Unstructured) (*kyaml.RNode, error) {
	m := d.Object
	delete(m, "status")
	meta := map[string]any{"name": d.GetName(), "namespace": d.GetNamespace()}
	if l := d.GetLabels(); len(l) > 0 {
		meta["labels"] = toAny(l)
	}
	if a := withoutServerAnnotations(d.GetAnnotations()); len(a) > 0 {
		meta["annotations"] = toAny(a)
	}
	m["metadata"] = meta
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	return kyaml.FromMap(m)
}

// Object implements PreviousObjects: the live HPA or PDB, as Deployment
// cleans it. One the caller may not read is taken as absent (the new
// render is used for it).
func (c *Cluster) Object(ctx context.Context, kind, namespace, name string) (*kyaml.RNode, error) {
	gvr, ok := map[string]schema.GroupVersionResource{
		"HorizontalPodAutoscaler": {Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
		"PodDisruptionBudget":     {Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	}[kind]
	if !ok {
		return nil, nil
	}
	u, err := c.Client.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s/%s: %w", kind, namespace, name, err)
	}
	return cleanLive(u)
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// withoutServerAnnotations drops annotations that the API server and
// controllers write.
func withoutServerAnnotations(a map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		switch k {
		case "deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration":
			continue
		}
		out[k] = v
	}
	return out
}

// ActiveColor implements Previous.
func (c *Cluster) ActiveColor(ctx context.Context, namespace, name string) (spec.Color, error) {
	svc, err := c.Client.Resource(cluster.Services).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get Service %s/%s: %w", namespace, name, err)
	}
	if col := spec.Color(svc.GetAnnotations()[annotationActive]); col.Valid() {
		return col, nil
	}
	return "", nil
}
