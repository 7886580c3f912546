package postrender

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// The checkKept step: a color that keeps what it ran must still serve its
// Services.

// checkKept refuses a render whose Service would route live traffic to
// pods it does not match: the live color's Deployment is kept as the
// previous state had it, while the Service comes from the new render, so
// a chart that changes the Service's selector or target ports must not
// leave the live pods behind.
func checkKept(ctx context.Context, r *run) error {
	if r.opts.Previous == nil || (r.colors.target == r.colors.active && !r.colors.promotion) {
		return nil // the live color gets the new render
	}
	if r.colors.promotion {
		if err := r.checkPromoted(ctx); err != nil {
			return err
		}
	}
	active := r.colors.active
	for _, o := range r.chart.objects() {
		if o.kind != "Service" || !r.changes(o) {
			continue
		}
		for _, dep := range r.pods.selectedBy(r.namespaceOf(o), o.selector) {
			name := colorName(dep.name, active)
			prev, err := r.previousDeployment(ctx, dep.namespace, name)
			if err != nil {
				return err
			}
			if prev == nil {
				continue // the live color gets the render after all
			}
			if problem := keptMismatch(o, dep, prev); problem != "" {
				return inputError(r.source(), fmt.Errorf("%s: the live %s pods of Deployment %s, kept as the previous release ran them, %s: the Service would route live traffic to no pods. Roll the change out to both colors first (an upgrade, a promotion, another upgrade) before the Service needs it, or apply it to the live color too with --target=%s",
					o, active, name, problem, active))
			}
		}
	}
	return nil
}

// checkPromoted refuses a promotion to a color that has not run: a
// Deployment the previous state has in the old live color only would go
// live with this render, untested.
func (r *run) checkPromoted(ctx context.Context) error {
	active := r.colors.active
	for _, d := range r.pods.deploys {
		if !r.changes(d.object) {
			continue
		}
		next, err := r.previousDeployment(ctx, d.namespace, colorName(d.name, active))
		if err != nil {
			return err
		}
		old, err := r.previousDeployment(ctx, d.namespace, colorName(d.name, active.Other()))
		if err != nil {
			return err
		}
		if next == nil && old != nil {
			return inputError(r.source(), fmt.Errorf("%s: promoting to %s, but the previous release has no %s: it would go live with this render, untested; deploy it to %s first (an upgrade), or pass --target=%s to accept that",
				d.object, active, colorName(d.name, active), active, active))
		}
	}
	return nil
}

// keptMismatch says how the pods of a kept Deployment fail the Service o:
// a selector label they lack (the first by key), or a target port that the new render's pods
// declare and theirs do not (a port declared by neither may still be
// listened on: that is not a change).
func keptMismatch(o *object, dep *deployment, prev *kyaml.RNode) string {
	podLabels, err := stringMap(prev, "spec", "template", "metadata", "labels")
	if err != nil {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(o.selector)) {
		if v := o.selector[k]; podLabels[k] != v {
			return fmt.Sprintf("lack the label %s=%s that the Service now selects", k, v)
		}
	}
	ports, err := containerPorts(prev)
	if err != nil {
		return ""
	}
	for _, target := range o.targets {
		if declares(dep.ports, target) && !declares(ports, target) {
			return fmt.Sprintf("declare no port %s, which the Service now targets", target)
		}
	}
	return ""
}

// declares reports whether ports has target (a port name or number).
func declares(ports []spec.Port, target string) bool {
	for _, p := range ports {
		if p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target {
			return true
		}
	}
	return false
}
