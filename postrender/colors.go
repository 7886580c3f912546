package postrender

import (
	"context"
	"fmt"
	"maps"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// The chooseColors step: which color is live, and which gets the new
// render; and how a color is written into names and labels.

// colorPlan is what chooseColors settles.
type colorPlan struct {
	active spec.Color // the live color
	target spec.Color // the color that gets the new render
	// promotion: this render flips the active color of the previous
	// release; no color gets the new render of the Deployments.
	promotion bool
}

// Annotations that a Service carries, as the renderer writes them.
var (
	annotationActive   = render.AnnotationActiveColor
	annotationPrevious = render.AnnotationPreviousColor
	annotationPreview  = render.AnnotationPreviewColor
)

// chooseColors settles the active color (the flag, else what the previous
// release routed to, else blue) and the color that gets the new render.
func chooseColors(ctx context.Context, r *run) error {
	previous, err := r.previousActive(ctx) // what the previous release routed to
	if err != nil {
		return err
	}
	p := &r.colors
	p.active = r.opts.Active
	if p.active == "" {
		p.active = previous
	}
	if p.active == "" {
		p.active = spec.Blue
	}
	p.target = r.opts.Target
	// A new --active is a promotion: traffic moves to the color that was
	// idle, and both colors keep what they ran, so that the color that
	// was live stays the rollback target. --target also puts the render
	// on a color.
	p.promotion = p.target == "" && previous != "" && previous != p.active
	if p.target == "" {
		p.target = p.active.Other()
	}
	return nil
}

// previousActive returns the color that the previous release routed the
// first transformed Service that it knows to, or "".
func (r *run) previousActive(ctx context.Context) (spec.Color, error) {
	if r.opts.Previous == nil {
		return "", nil
	}
	for _, o := range r.chart.objects() {
		if o.kind != "Service" || !r.changes(o) {
			continue
		}
		c, err := r.opts.Previous.ActiveColor(ctx, r.namespaceOf(o), o.name)
		if err != nil {
			return "", fmt.Errorf("read the previous active color of Service %s: %w", o.name, err)
		}
		if c != "" {
			return c, nil
		}
	}
	return "", nil
}

// keeps reports whether color c keeps what the previous state ran.
func (r *run) keeps(c spec.Color) bool {
	return r.opts.Previous != nil && (c != r.colors.target || r.colors.promotion)
}

// colorName is the name of an object's copy for color c.
func colorName(name string, c spec.Color) string { return name + "-" + string(c) }

// withColor returns labels plus the color label.
func (r *run) withColor(m map[string]string, c spec.Color) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[r.opts.ColorLabel] = string(c)
	return out
}
