package postrender

import (
	"context"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// autoscalers gives each color its own HorizontalPodAutoscaler when the
// chart's HPA scales a transformed Deployment D: <hpa>-<color> scales
// D-<color>.
var autoscalers = filter{
	kinds: []string{"HorizontalPodAutoscaler"},
	changes: func(r *run, o *object) bool {
		return o.target != "" && r.pods.byName[r.namespaceOf(o)+"/"+o.target] != nil
	},
	adds:  perColor,
	apply: splitAutoscaler,
}

// budgets gives each color its own PodDisruptionBudget when the chart's
// PDB selects a transformed Deployment's pods: <pdb>-<color> selects the
// pods of that color.
var budgets = filter{
	kinds:   []string{"PodDisruptionBudget"},
	changes: budgetChanges,
	check:   checkBudget,
	adds:    perColor,
	apply:   splitBudget,
}

func splitAutoscaler(ctx context.Context, r *run, o *object) ([]*kyaml.RNode, error) {
	out, err := r.colorCopies(ctx, o, func(clone *kyaml.RNode, c spec.Color) error {
		ref, err := clone.Pipe(kyaml.Lookup("spec", "scaleTargetRef"))
		if err != nil {
			return err
		}
		return ref.PipeE(kyaml.SetField("name", kyaml.NewStringRNode(colorName(o.target, c))))
	})
	for _, hpa := range out {
		r.tally.addAutoscaler(r.namespaceOf(o), hpa)
	}
	return out, err
}

func budgetChanges(r *run, o *object) bool {
	if o.pdb == nil || o.skip {
		return false
	}
	for _, d := range r.pods.deploys {
		if d.namespace == r.namespaceOf(o) && o.pdb.Matches(d.podLabels) {
			return true
		}
	}
	return false
}

// checkBudget refuses a budget that also selects pods that are not made
// blue/green: a budget per color would leave them without one.
func checkBudget(r *run, o *object) error {
	for _, w := range r.pods.others {
		if w.namespace == r.namespaceOf(o) && o.pdb.Matches(w.podLabels) {
			return fmt.Errorf("%s: selects the pods of %s, which are not made blue/green, as well as a Deployment's that are: a budget per color would leave %s's pods without one; annotate the PodDisruptionBudget with %s: \"true\" to leave it as it is, or narrow its selector", o, w.desc, w.name, AnnotationSkip)
		}
	}
	return nil
}

func splitBudget(ctx context.Context, r *run, o *object) ([]*kyaml.RNode, error) {
	return r.colorCopies(ctx, o, func(clone *kyaml.RNode, c spec.Color) error {
		return setStringMapField(clone, r.opts.ColorLabel, string(c), "spec", "selector", "matchLabels")
	})
}

// colorCopies returns one copy of o per color, named <name>-<color> and
// carrying the color label; edit adjusts each copy further. A color that
// keeps what it ran (see deployments) keeps its copy from the previous
// state too, when the previous state has one.
func (r *run) colorCopies(ctx context.Context, o *object, edit func(clone *kyaml.RNode, c spec.Color) error) ([]*kyaml.RNode, error) {
	var out []*kyaml.RNode
	for _, c := range spec.Colors {
		kept, err := r.keptCopy(ctx, o, c)
		if err != nil {
			return nil, err
		}
		if kept != nil {
			out = append(out, kept)
			continue
		}
		clone := o.rn.Copy()
		if err := setStringMapField(clone, "name", colorName(o.name, c), "metadata"); err != nil {
			return nil, err
		}
		if err := setStringMapField(clone, r.opts.ColorLabel, string(c), "metadata", "labels"); err != nil {
			return nil, err
		}
		if err := edit(clone, c); err != nil {
			return nil, err
		}
		out = append(out, clone)
	}
	return out, nil
}

// keptCopy returns o's copy for color c as the previous state had it,
// when c keeps what it ran and the previous state has it; else nil.
func (r *run) keptCopy(ctx context.Context, o *object, c spec.Color) (*kyaml.RNode, error) {
	if !r.keeps(c) {
		return nil, nil
	}
	prev, err := r.previousObject(ctx, o.kind, r.namespaceOf(o), colorName(o.name, c))
	if err != nil {
		return nil, runtimeError("", err)
	}
	if prev == nil {
		return nil, nil
	}
	prev = prev.Copy()
	if f := o.rn.GetAnnotations()[AnnotationHelm4Filename]; f != "" {
		if err := setStringMapField(prev, AnnotationHelm4Filename, f, "metadata", "annotations"); err != nil {
			return nil, err
		}
	}
	return prev, nil
}
