package promote

import (
	"fmt"
	"slices"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// A plain folder splits traffic as the article does with ingress-nginx: a
// canary Ingress (annotation canary: "true") whose backend is a Service of
// the app that selects the idle color — the preview Service, which a
// promote flips with the live one. Its canary-weight annotation is the idle
// color's share; shift edits that one line and nothing else.

// findCanary finds the folder's canary Ingress for the app: an Ingress
// with canary "true" whose backends are one Service of the folder that
// selects the app's pods with a color. It sets the state's weight when
// there is one. A canary bgrender cannot read is kept as canaryErr, for
// shift and promote --steps: the other actions worked on such folders
// before bgrender read canaries, and still do.
func (p *plain) findCanary(objs []*manifest) {
	p.canaryErr = p.readCanary(objs)
	if p.canaryErr == nil && p.canary == nil {
		p.canaryErr = p.readRoute(objs)
	}
}

func (p *plain) readCanary(objs []*manifest) error {
	services := map[string]*manifest{}
	for _, o := range objs {
		if o.kind == "Service" && p.selectsApp(o) {
			services[o.name] = o
		}
	}
	var found []*manifest
	var backend string
	p.mainIngresses = nil
	for _, o := range objs {
		if o.kind != "Ingress" {
			continue
		}
		names := ingressBackends(o.node())
		if len(names) != 1 || services[names[0]] == nil {
			continue
		}
		if !isCanary(yamledit.Scalar(o.node(), "metadata", "annotations", render.AnnotationCanary)) {
			p.mainIngresses = append(p.mainIngresses, o)
			continue
		}
		found = append(found, o)
		backend = names[0]
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
	default:
		return exitcode.Invalidf("several canary Ingresses send to %s's Services: %s; keep one per app", p.service.name, listed(found))
	}
	c := found[0]
	ann := yamledit.Lookup(c.node(), "metadata", "annotations")
	if total := yamledit.Scalar(ann, render.AnnotationCanaryWeightTotal); total != "" && total != "100" {
		return exitcode.Invalidf("%s: %s is %q: bgrender's weights are percentages, so remove it or set it to \"100\"", c.where(), render.AnnotationCanaryWeightTotal, total)
	}
	w := int32(0) // ingress-nginx's default
	if s := yamledit.Scalar(ann, render.AnnotationCanaryWeight); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 || n > 100 {
			return exitcode.Invalidf("%s: %s is %q, not a percentage from 0 to 100", c.where(), render.AnnotationCanaryWeight, s)
		}
		w = int32(n)
	}
	p.canary = c
	p.st.Weight, p.st.Canary = &w, true
	p.st.CanaryIngress, p.st.CanaryService = c.name, backend
	color, _ := colorOf(yamledit.Scalar(services[backend].node(), "spec", "selector", p.colorLabel))
	p.canaryColor = color
	p.st.Shifted = color
	// The canary sends to the preview Service, which selects the live
	// color only in the middle of a hand-over: promote --steps flipped the
	// live Service alone and has not yet moved the preview Service on.
	viaPreview := p.preview != nil && backend == p.preview.name
	p.st.Handover = viaPreview && color == p.st.Active && w > 0
	// At 0% with the preview Service still on the live color, only the
	// hand-over's last commit (the preview Service on) is left — or the
	// folder was written so; promote --steps --to the live color ends it.
	p.st.PreviewOnLive = viaPreview && color == p.st.Active && w == 0
	if !viaPreview {
		p.st.CannotHandOver = fmt.Sprintf("%s sends to Service %s, not to the preview Service %s: the hand-over of promote --steps keeps the canary on the new color by holding the preview Service", c.where(), backend, p.previewName())
	}
	return nil
}

// holdCanary makes the next setActive flip the live Service alone: the
// preview Service, which the canary sends to, stays on c until the end of
// the hand-over.
func (p *plain) holdCanary(c spec.Color) error {
	if p.canaryErr != nil {
		return p.canaryErr
	}
	if p.canary == nil || p.preview == nil || p.st.CanaryService != p.preview.name {
		return exitcode.Invalidf("plain manifests: a stepped promotion hands over through a canary Ingress whose backend is the preview Service %s; this folder's canary sends to %s", p.previewName(), p.st.CanaryService)
	}
	p.keepPreview = true
	return nil
}

// isCanary reads the canary annotation as ingress-nginx does (Go's
// strconv.ParseBool: true, True, TRUE, 1, t, T).
func isCanary(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// selectsApp reports whether the Service svc selects the app's pods of a
// color: its selector is the live Service's, with any color.
func (p *plain) selectsApp(svc *manifest) bool {
	want := yamledit.Lookup(p.service.node(), "spec", "selector")
	got := yamledit.Lookup(svc.node(), "spec", "selector")
	if got == nil || got.Kind != yaml.MappingNode || len(got.Content) != len(want.Content) {
		return false
	}
	for i := 0; i+1 < len(want.Content); i += 2 {
		key := want.Content[i].Value
		v := yamledit.Scalar(got, key)
		if key == p.colorLabel {
			if _, ok := colorOf(v); !ok {
				return false
			}
		} else if v != want.Content[i+1].Value {
			return false
		}
	}
	return true
}

// ingressBackends lists the distinct Service names an Ingress sends to
// (its default backend and its rules' paths), in order of appearance.
func ingressBackends(ing *yaml.Node) []string {
	var names []string
	add := func(n *yaml.Node) {
		if s := yamledit.Scalar(n, "service", "name"); s != "" && !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	add(yamledit.Lookup(ing, "spec", "defaultBackend"))
	if rules := yamledit.Lookup(ing, "spec", "rules"); rules != nil && rules.Kind == yaml.SequenceNode {
		for _, r := range rules.Content {
			if paths := yamledit.Lookup(r, "http", "paths"); paths != nil && paths.Kind == yaml.SequenceNode {
				for _, p := range paths.Content {
					add(yamledit.Lookup(p, "backend"))
				}
			}
		}
	}
	return names
}

func (p *plain) setWeight(n int32) error {
	if p.canaryErr != nil {
		return p.canaryErr
	}
	if p.route != nil {
		p.pendingWeight = &n
		return nil
	}
	c := p.canary
	if n == 0 && p.st.PreviewOnLive {
		// The hand-over's last commit: the preview Service, which the
		// canary sends to at 0%, moves on to the new idle color.
		pv := p.preview
		if _, err := pv.file.y.SetString(pv.doc, []string{"spec", "selector", p.colorLabel}, string(p.st.Active.Other())); err != nil {
			return pv.file.wrap(err)
		}
		pv.file.changed = true
		return nil
	}
	if c == nil {
		hint := ""
		for _, m := range p.mainIngresses {
			if yamledit.Scalar(m.node(), "metadata", "annotations", render.AnnotationCanaryWeight) != "" {
				hint = fmt.Sprintf(" (%s has a canary-weight, but without canary: \"true\" ingress-nginx ignores it)", m.where())
				break
			}
		}
		return exitcode.Invalidf("no canary Ingress or weighted HTTPRoute for %s in the app folder%s: shift edits the canary-weight of an Ingress with the annotations %s: \"true\" and %s, beside the main Ingress, whose backend is a Service that selects the idle color (e.g. %s, which promote flips with %s); or the weights of an HTTPRoute whose rule sends to a Service of each color",
			p.service.name, hint, render.AnnotationCanary, render.AnnotationCanaryWeight, p.previewName(), p.service.name)
	}
	if n > 0 && p.canaryColor != p.st.Active.Other() && !p.st.Handover {
		return exitcode.Invalidf("%s sends to Service %s, which selects %s, the live color: a shift would move nothing to %s; point the canary at a Service that selects the idle color (e.g. %s, which promote flips with %s)",
			c.where(), p.st.CanaryService, p.canaryColor, p.st.Active.Other(), p.previewName(), p.service.name)
	}
	_, err := c.file.y.SetString(c.doc, []string{"metadata", "annotations", render.AnnotationCanaryWeight}, strconv.Itoa(int(n)))
	if err != nil {
		return c.file.wrap(err)
	}
	c.file.changed = true
	return nil
}
