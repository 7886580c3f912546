package postrender

import (
	"context"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// deployments makes each selected Deployment D into D-blue and D-green.
// The color that receives the new render is D with the color label added
// to its labels, selector and pod template, and without spec.replicas when
// one of the chart's HPAs scales D (each color's HPA then owns the count); a color that keeps what it
// ran (see run.keeps) is the previous state's copy, when it has one. On
// adoption D itself keeps running beside them, as it ran.
var deployments = filter{
	kinds:   []string{"Deployment"},
	changes: func(r *run, o *object) bool { d := r.deploymentOf(o); return d != nil && d.object == o },
	adds:    perColor,
	apply:   splitDeployment,
}

// splitDeployment returns what a transformed Deployment becomes.
func splitDeployment(ctx context.Context, r *run, o *object) ([]*kyaml.RNode, error) {
	d := r.deploymentOf(o)
	var out []*kyaml.RNode
	if old := r.prev.adopting[d]; old != nil {
		// Adoption: D keeps running as it ran, beside the new colors.
		old = old.Copy()
		if err := d.fileWith(old); err != nil {
			return nil, err
		}
		if err := r.tally.addDeployment(r.opts, d.namespace, old); err != nil {
			return nil, err
		}
		out = append(out, old)
	}
	for _, c := range spec.Colors {
		kept, err := r.keptDeployment(ctx, d, c)
		if err != nil {
			return nil, err
		}
		if kept != nil {
			out = append(out, kept)
			continue
		}
		clone, err := r.colorDeployment(d, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.object, err)
		}
		if err := r.tally.addDeployment(r.opts, d.namespace, clone); err != nil {
			return nil, err
		}
		out = append(out, clone)
	}
	return out, nil
}

// keptDeployment returns D-c as the previous state ran it, when color c
// keeps what it ran and the previous state has it; else nil.
func (r *run) keptDeployment(ctx context.Context, d *deployment, c spec.Color) (*kyaml.RNode, error) {
	if !r.keeps(c) {
		return nil, nil
	}
	prev, err := r.previousDeployment(ctx, d.namespace, colorName(d.name, c))
	if err != nil || prev == nil {
		return nil, err
	}
	prev = prev.Copy()
	if r.autoscaled(d) || mappingValue(mappingValue(d.rn.YNode(), "spec"), "replicas") == nil {
		// The chart leaves the count to an autoscaler: so does
		// the kept color (the live count read from the cluster
		// would be set again on every upgrade).
		if err := clearReplicas(prev); err != nil {
			return nil, err
		}
	}
	if err := d.fileWith(prev); err != nil {
		return nil, err
	}
	if err := r.tally.addDeployment(r.opts, d.namespace, prev); err != nil {
		return nil, err
	}
	return prev, nil
}

// colorDeployment returns D-c: the chart's D with the color label.
func (r *run) colorDeployment(d *deployment, c spec.Color) (*kyaml.RNode, error) {
	// The last color may take the parsed original: nothing reads it after.
	clone := d.rn
	if c != spec.Colors[len(spec.Colors)-1] {
		clone = d.rn.Copy()
	}
	if err := setStringMapField(clone, "name", colorName(d.name, c), "metadata"); err != nil {
		return nil, err
	}
	value := string(c)
	for _, path := range [][]string{{"metadata", "labels"}, {"spec", "selector", "matchLabels"}, {"spec", "template", "metadata", "labels"}} {
		if err := setStringMapField(clone, r.opts.ColorLabel, value, path...); err != nil {
			return nil, err
		}
	}
	if r.autoscaled(d) {
		if err := clearReplicas(clone); err != nil {
			return nil, err
		}
	}
	return clone, nil
}

// clearReplicas drops a Deployment's spec.replicas: the color's HPA owns
// the count.
func clearReplicas(rn *kyaml.RNode) error {
	if mappingValue(rn.YNode(), "spec") == nil {
		return nil
	}
	_, err := rn.Pipe(kyaml.Lookup("spec"), kyaml.Clear("replicas"))
	return err
}

// fileWith gives a Deployment that bgrender writes in D's place the
// Helm 4 postrender-filename annotation of D, if D has one, so that Helm
// files it with D's template.
func (d *deployment) fileWith(rn *kyaml.RNode) error {
	if d.filename == "" {
		return nil
	}
	return setStringMapField(rn, AnnotationHelm4Filename, d.filename, "metadata", "annotations")
}
