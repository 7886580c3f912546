// Package agent asks a GitOps agent to fetch and apply now instead of at
// its next interval: the one write that bgrender may make to a cluster,
// and only when --reconcile names the objects.
//
// For Flux it sets the reconcile.fluxcd.io/requestedAt annotation, as
// `flux reconcile` does; a Kustomization's source (its sourceRef) is
// annotated first, as `flux reconcile kustomization --with-source` does.
// For Argo CD it sets argocd.argoproj.io/refresh on the Application, as
// `argocd app get --refresh` does. The annotations change nothing that the
// agents apply.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
)

// Annotations that the agents watch.
const (
	FluxRequestedAt = "reconcile.fluxcd.io/requestedAt"
	ArgoCDRefresh   = "argocd.argoproj.io/refresh"
)

// Kinds that --reconcile takes, by the name a user writes.
var kinds = map[string]schema.GroupVersionResource{
	"kustomization": {Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"},
	"gitrepository": {Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"},
	"ocirepository": {Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "ocirepositories"},
	"bucket":        {Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "buckets"},
	"application":   {Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"},
}

// sourceKinds maps a Kustomization's sourceRef.kind to a kind above.
var sourceKinds = map[string]string{"GitRepository": "gitrepository", "OCIRepository": "ocirepository", "Bucket": "bucket"}

// Ref names one object to annotate: kind/namespace/name.
type Ref struct {
	Kind      string // a key of kinds
	Namespace string
	Name      string
}

func (r Ref) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// ParseRef reads KIND/NAMESPACE/NAME, with KIND one of kustomization,
// gitrepository, ocirepository, bucket (Flux) or application (Argo CD).
func ParseRef(s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Ref{}, fmt.Errorf("%q: want KIND/NAMESPACE/NAME, e.g. kustomization/flux-system/web or application/argocd/web", s)
	}
	r := Ref{Kind: strings.ToLower(parts[0]), Namespace: parts[1], Name: parts[2]}
	if _, ok := kinds[r.Kind]; !ok {
		return Ref{}, fmt.Errorf("%q: kind %q is not kustomization, gitrepository, ocirepository, bucket or application", s, parts[0])
	}
	if msgs := validation.IsDNS1123Label(r.Namespace); len(msgs) > 0 {
		return Ref{}, fmt.Errorf("%q: namespace %q: %s", s, r.Namespace, strings.Join(msgs, "; "))
	}
	if msgs := content.IsDNS1123Subdomain(r.Name); len(msgs) > 0 {
		return Ref{}, fmt.Errorf("%q: name %q: %s", s, r.Name, strings.Join(msgs, "; "))
	}
	return r, nil
}

// Reconcile annotates each ref (a Kustomization's source first) and
// returns what it annotated. now is the value of Flux's annotation; warn
// hears of a source it cannot ask (an ExternalArtifact).
func Reconcile(ctx context.Context, client dynamic.Interface, refs []Ref, now time.Time, warn func(string)) ([]Ref, error) {
	var done []Ref
	for _, r := range refs {
		if r.Kind == "kustomization" {
			src, err := source(ctx, client, r)
			var other *otherSourceError
			switch {
			case errors.As(err, &other):
				// An ExternalArtifact, say: its producer decides when it
				// changes; the Kustomization is still asked.
				warn(err.Error())
			case err != nil:
				return done, err
			default:
				if err := annotate(ctx, client, src, now); err != nil {
					return done, err
				}
				done = append(done, src)
			}
		}
		if err := annotate(ctx, client, r, now); err != nil {
			return done, err
		}
		done = append(done, r)
	}
	return done, nil
}

// otherSourceError is a Kustomization source that bgrender cannot ask to
// fetch.
type otherSourceError struct{ msg string }

func (e *otherSourceError) Error() string { return e.msg }

// source returns the source of a Flux Kustomization.
func source(ctx context.Context, client dynamic.Interface, r Ref) (Ref, error) {
	u, err := client.Resource(kinds[r.Kind]).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if err != nil {
		return Ref{}, fmt.Errorf("reconcile %s: %w", r, err)
	}
	kind := field(u.Object, "spec", "sourceRef", "kind")
	name := field(u.Object, "spec", "sourceRef", "name")
	ns := field(u.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = r.Namespace
	}
	k, ok := sourceKinds[kind]
	if !ok || name == "" {
		return Ref{}, &otherSourceError{fmt.Sprintf("reconcile %s: its source %s/%s is not a GitRepository, OCIRepository or Bucket: not asked to fetch", r, kind, name)}
	}
	return Ref{Kind: k, Namespace: ns, Name: name}, nil
}

// field returns the string at path in obj, or "".
func field(obj map[string]any, path ...string) string {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// annotate sets the agent's annotation on one object with a merge patch,
// which touches nothing else.
func annotate(ctx context.Context, client dynamic.Interface, r Ref, now time.Time) error {
	key, value := FluxRequestedAt, now.UTC().Format(time.RFC3339Nano)
	if r.Kind == "application" {
		key, value = ArgoCDRefresh, "normal"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	_, err = client.Resource(kinds[r.Kind]).Namespace(r.Namespace).Patch(ctx, r.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "bgrender"})
	if err != nil {
		return fmt.Errorf("reconcile %s: %w (--reconcile needs get and patch on it)", r, err)
	}
	return nil
}
