package agent

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// Target is the namespace a GitOps agent applies an app folder into, when
// the agent object itself says so: a Flux Kustomization's
// spec.targetNamespace (which kustomize-controller sets on every
// namespaced object, whatever the folder says) or an Argo CD
// Application's spec.destination.namespace (the namespace of objects that
// name none).
type Target struct {
	Namespace string
	// From names the field that says so, for messages.
	From string
	// Overrides is true for Flux's targetNamespace: it wins over a
	// namespace the folder's objects name.
	Overrides bool
}

// TargetNamespace reads the agent objects of refs (Kustomizations and
// Applications; sources say nothing of namespaces) and returns the
// namespace they apply into; the zero Target when none says. An object
// that is not there, or not readable, says nothing: --reconcile reports
// it when it asks. Two that disagree are bad usage: one folder cannot be
// applied into both.
func TargetNamespace(ctx context.Context, client dynamic.Interface, refs []Ref) (Target, error) {
	var t Target
	for _, r := range refs {
		var path []string
		switch r.Kind {
		case "kustomization":
			path = []string{"spec", "targetNamespace"}
		case "application":
			path = []string{"spec", "destination", "namespace"}
		default:
			continue
		}
		u, err := client.Resource(kinds[r.Kind]).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
			continue
		case err != nil:
			return Target{}, fmt.Errorf("read %s for the namespace it applies into: %w", r, err)
		}
		ns := field(u.Object, path...)
		if ns == "" {
			continue
		}
		got := Target{Namespace: ns, From: fmt.Sprintf("%s of %s", strings.Join(path, "."), r), Overrides: r.Kind == "kustomization"}
		if t.Namespace != "" && t.Namespace != ns {
			return Target{}, &ConflictError{A: t, B: got}
		}
		if t.Namespace == "" || got.Overrides {
			t = got
		}
	}
	return t, nil
}

// ConflictError is two agent objects that apply one folder into two
// namespaces.
type ConflictError struct{ A, B Target }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the --reconcile objects apply the folder into two namespaces: %s (%s) and %s (%s)", e.A.Namespace, e.A.From, e.B.Namespace, e.B.From)
}
