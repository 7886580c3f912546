package postrender

import (
	"context"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// What a run carries forward from the previous state (opts.Previous: the
// last release, or the live cluster), and the findAdoptions step.

// carried is the previous state as the steps have asked for it.
type carried struct {
	// deployments caches the previous state's Deployments by
	// namespace/name (nil for none): several steps ask for the same ones,
	// and reading them from the cluster is a request each.
	deployments map[string]*kyaml.RNode
	// adopting holds, for each Deployment that the previous state ran
	// without colors (a release installed before bgrender), that
	// Deployment as it ran.
	adopting map[*deployment]*kyaml.RNode
}

// previousDeployment returns the Deployment name in namespace as the
// previous state had it, or nil; each is read once.
func (r *run) previousDeployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error) {
	key := namespace + "/" + name
	if d, ok := r.prev.deployments[key]; ok {
		return d, nil
	}
	d, err := r.opts.Previous.Deployment(ctx, namespace, name)
	if err != nil {
		return nil, runtimeError("", fmt.Errorf("read the previous %s: %w", name, err))
	}
	if r.prev.deployments == nil {
		r.prev.deployments = map[string]*kyaml.RNode{}
	}
	r.prev.deployments[key] = d
	return d, nil
}

// previousObject returns an HPA or PDB as the previous state had it, when
// the previous state can tell (see PreviousObjects).
func (r *run) previousObject(ctx context.Context, kind, namespace, name string) (*kyaml.RNode, error) {
	p, ok := r.opts.Previous.(PreviousObjects)
	if !ok {
		return nil, nil
	}
	return p.Object(ctx, kind, namespace, name)
}

// findAdoptions finds the Deployments that the previous state ran as
// they were, without colors: the first upgrade of a release with bgrender.
// Replacing D by D-blue and D-green at once would route the Service to
// pods that are still starting while D goes away. So this upgrade keeps D
// running and its Services as they are (they select D's pods and, once
// ready, both colors'); the next upgrade drops D and routes the Services.
func findAdoptions(ctx context.Context, r *run) error {
	if r.opts.Previous == nil {
		return nil
	}
	for _, d := range r.pods.deploys {
		if !r.changes(d.object) {
			continue
		}
		old, err := r.previousDeployment(ctx, d.namespace, d.name)
		if err != nil {
			return err
		}
		if old == nil {
			continue
		}
		colored := false
		for _, c := range spec.Colors {
			prev, err := r.previousDeployment(ctx, d.namespace, colorName(d.name, c))
			if err != nil {
				return err
			}
			colored = colored || prev != nil
		}
		if !colored {
			if r.prev.adopting == nil {
				r.prev.adopting = map[*deployment]*kyaml.RNode{}
			}
			r.prev.adopting[d] = old
		}
	}
	return nil
}

// adopted reports whether a Deployment is being adopted (see
// findAdoptions).
func (r *run) adopted(d *deployment) bool { return r.prev.adopting[d] != nil }
