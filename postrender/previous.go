package postrender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// Release reads the previous deployed revision of a Helm release from
// Helm's release storage (Secrets in the release namespace, as Helm 3 and
// Helm 4 keep it) through the Helm SDK. A release that was never deployed
// has no previous state.
type Release struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string

	once  sync.Once
	err   error
	state *manifestState
}

var _ Previous = (*Release)(nil)

// manifestState indexes the objects of a stored manifest.
type manifestState struct {
	deployments map[string]*kyaml.RNode // namespace/name
	colors      map[string]spec.Color   // Service namespace/name → active color
}

func (r *Release) load() (*manifestState, error) {
	r.once.Do(func() {
		store := storage.Init(driver.NewSecrets(r.Client.CoreV1().Secrets(r.Namespace)))
		rel, err := store.Deployed(r.Name)
		switch {
		case errors.Is(err, driver.ErrNoDeployedReleases), errors.Is(err, driver.ErrReleaseNotFound):
			r.state = &manifestState{}
		case err != nil:
			r.err = fmt.Errorf("read release %s in namespace %s: %w", r.Name, r.Namespace, err)
		default:
			r.state, r.err = indexManifest([]byte(rel.Manifest), r.Namespace)
			if r.err != nil {
				r.err = fmt.Errorf("release %s revision %d: %w", r.Name, rel.Version, r.err)
			}
		}
	})
	return r.state, r.err
}

// indexManifest finds the Deployments and the Services' active colors in a
// manifest stream as Helm stored it.
func indexManifest(manifest []byte, namespace string) (*manifestState, error) {
	st := &manifestState{deployments: map[string]*kyaml.RNode{}, colors: map[string]spec.Color{}}
	for i, c := range split(manifest) {
		node, err := c.parse()
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if node == nil || node.Content[0].Kind != kyaml.MappingNode {
			continue
		}
		rn := kyaml.NewRNode(node.Content[0])
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
		}
	}
	return st, nil
}

// Deployment implements Previous.
func (r *Release) Deployment(_ context.Context, namespace, name string) (*kyaml.RNode, error) {
	st, err := r.load()
	if err != nil {
		return nil, err
	}
	return st.deployments[namespace+"/"+name], nil
}

// ActiveColor implements Previous.
func (r *Release) ActiveColor(_ context.Context, namespace, name string) (spec.Color, error) {
	st, err := r.load()
	if err != nil {
		return "", err
	}
	return st.colors[namespace+"/"+name], nil
}

// Cluster reads the previous state from the live cluster with client-go:
// the running Deployment of the active color, without its status and
// server-set metadata, and the active color from the live Service.
type Cluster struct {
	Client kubernetes.Interface
}

var _ Previous = (*Cluster)(nil)

// Deployment implements Previous.
func (c *Cluster) Deployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error) {
	d, err := c.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Deployment %s/%s: %w", namespace, name, err)
	}
	d.ObjectMeta = metav1.ObjectMeta{
		Name:        d.Name,
		Namespace:   d.Namespace,
		Labels:      d.Labels,
		Annotations: withoutServerAnnotations(d.Annotations),
	}
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	if tmpl, ok := m["spec"].(map[string]any)["template"].(map[string]any); ok {
		if meta, ok := tmpl["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
	}
	return kyaml.FromMap(m)
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
	if len(out) == 0 {
		return nil
	}
	return out
}

// ActiveColor implements Previous.
func (c *Cluster) ActiveColor(ctx context.Context, namespace, name string) (spec.Color, error) {
	svc, err := c.Client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get Service %s/%s: %w", namespace, name, err)
	}
	if col := spec.Color(svc.Annotations[annotationActive]); col.Valid() {
		return col, nil
	}
	return "", nil
}
