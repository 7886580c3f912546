package promote

import (
	"errors"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// A plain folder's Services by role, not by name. The live Service and
// the preview Service select the same pods but for the color: the same
// selector, the color key aside. Their names are the user's
// (application-service and application-service-preview; the article's
// Rollout names them application-active and application-preview), so
// bgrender tells them apart by what the folder says, strongest first:
// --service and --preview-service; bgrender's annotations (preview-color
// on a preview Service, active-color on the live one); a name that says
// preview (test, idle, canary) or live (active, stable, primary); which of
// them the folder's Ingresses and HTTPRoutes send requests to. When
// nothing tells, the action stops (exit 2) and asks: a guess would flip
// the wrong Service.
//
// A Service named <name>-<color> that selects that color for good (an
// HTTPRoute's per-color backend, or one of a <name>-blue and <name>-green
// pair) has no role: no flip changes it.

// colored is a Service of the folder whose selector has a color.
type colored struct {
	obj   *manifest
	key   string // the selector key that carries the color
	color spec.Color
	app   string // the selector without the color: what the roles share
}

// role is what a clue says of a Service.
type role int

const (
	noRole role = iota
	liveRole
	previewRole
)

// clue reads one kind of evidence of a Service's role.
type clue func(s *colored) role

// findService picks the live Service, its color label and the preview
// Service. live are the objects where the live Service may be (the file
// of --file, else the folder), all those of the whole folder.
func (p *plain) findService(live, all []*manifest, o PlainOptions) error {
	services, unclear := coloredServices(all, o.ColorLabel)
	svc, err := p.namedService(live, services, o.Service, "--service", o)
	if err != nil {
		return err
	}
	pv, err := p.namedService(all, services, o.PreviewService, "--preview-service", o)
	if err != nil {
		return err
	}
	if svc != nil && pv != nil && svc.obj == pv.obj {
		return exitcode.Invalidf("--service and --preview-service both name %s: the preview Service is another one, which selects the other color", svc.obj.where())
	}
	if svc != nil && pv != nil && (svc.app != pv.app || svc.key != pv.key) {
		return exitcode.Invalidf("%s selects other pods than %s (their selectors differ in more than the color): --preview-service names a Service of the same app", pv.obj.where(), svc.obj.where())
	}
	members := roleServices(all, services)
	var group []*colored
	switch {
	case svc != nil:
		group = sameApp(members, svc)
	case pv != nil:
		group = sameApp(members, pv)
	default:
		if group, err = p.onlyApp(live, members, unclear, o); err != nil {
			return err
		}
	}
	clues := p.clues(all)
	if svc == nil {
		if svc, err = pickLive(group, pv, live, clues); err != nil {
			return err
		}
	}
	if pv == nil {
		if pv, err = pickPreview(group, svc, clues); err != nil {
			return err
		}
	}
	p.service, p.colorLabel = svc.obj, svc.key
	if pv != nil {
		p.preview = pv.obj
	}
	return nil
}

// coloredServices returns the Services whose selector has a color (under
// label, when set), and the first error of a selector with several keys
// whose value is a color.
func coloredServices(objs []*manifest, label string) ([]*colored, error) {
	var out []*colored
	var unclear error
	for _, obj := range objs {
		if obj.kind != "Service" {
			continue
		}
		s, err := colorService(obj, label)
		switch {
		case err == nil:
			out = append(out, s)
		case errors.As(err, new(severalColorKeys)) && unclear == nil:
			unclear = err
		}
	}
	return out, unclear
}

func colorService(obj *manifest, label string) (*colored, error) {
	key, err := colorKey(obj, label)
	if err != nil {
		return nil, err
	}
	selector := yamledit.Lookup(obj.node(), "spec", "selector")
	var rest []string
	for i := 0; i+1 < len(selector.Content); i += 2 {
		if k := selector.Content[i].Value; k != key {
			rest = append(rest, k+"="+selector.Content[i+1].Value)
		}
	}
	sort.Strings(rest)
	c, _ := colorOf(yamledit.Scalar(selector, key))
	return &colored{obj: obj, key: key, color: c, app: strings.Join(rest, "\x00")}, nil
}

// namedService finds the Service a flag names among objs (nil when the
// flag is not set).
func (p *plain) namedService(objs []*manifest, services []*colored, name, flag string, o PlainOptions) (*colored, error) {
	if name == "" {
		return nil, nil
	}
	for _, obj := range objs {
		if obj.kind != "Service" || obj.name != name {
			continue
		}
		for _, s := range services {
			if s.obj == obj {
				return s, nil
			}
		}
		_, err := colorService(obj, o.ColorLabel) // says why it has no color
		return nil, err
	}
	where := p.where(o.File)
	if flag == "--preview-service" {
		where = "the app folder"
	}
	return nil, exitcode.Invalidf("%s: no Service %q in %s (name the file with --file, or check --path)", flag, name, where)
}

// roleServices leaves out the per-color Services (see above), unless
// nothing else selects a color.
func roleServices(objs []*manifest, services []*colored) []*colored {
	backends := routeBackends(objs)
	byName := map[string]*colored{}
	for _, s := range services {
		byName[s.obj.name] = s
	}
	var out []*colored
	for _, s := range services {
		base, ok := strings.CutSuffix(s.obj.name, "-"+string(s.color))
		twin := byName[base+"-"+string(s.color.Other())]
		perColor := ok && (backends[s.obj.name] || (twin != nil && twin.color == s.color.Other() && twin.app == s.app))
		if !perColor {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return services
	}
	return out
}

// sameApp returns the members that select the same pods as s but for the
// color (s among them).
func sameApp(members []*colored, s *colored) []*colored {
	out := []*colored{s}
	for _, m := range members {
		if m != s && m.app == s.app && m.key == s.key {
			out = append(out, m)
		}
	}
	return out
}

// onlyApp returns the Services of the one app whose live Service may be
// in live: several apps need --service.
func (p *plain) onlyApp(live []*manifest, members []*colored, unclear error, o PlainOptions) ([]*colored, error) {
	var apps [][]*colored
	var in []*colored
	for _, m := range members {
		if !slices.Contains(live, m.obj) {
			continue
		}
		in = append(in, m)
		found := false
		for _, a := range apps {
			if a[0].app == m.app && a[0].key == m.key {
				found = true
			}
		}
		if !found {
			apps = append(apps, sameApp(members, m))
		}
	}
	switch {
	case len(apps) == 0 && unclear != nil:
		return nil, unclear
	case len(apps) == 0 && o.ColorLabel != "":
		return nil, exitcode.Invalidf("no Service in %s has a selector %s whose value is blue or green; check --color-label", p.where(o.File), o.ColorLabel)
	case len(apps) == 0:
		return nil, exitcode.Invalidf("no %s, and no Service whose selector has a blue or green value (lower case) in %s; name the Service with --service", SpecFile, p.where(o.File))
	case len(apps) > 1:
		if named := unlessPreviews(apps); len(named) == 1 {
			return named[0], nil
		}
		return nil, exitcode.Invalidf("several Services select a color: %s; name one with --service (and --file)", listedColored(in))
	case len(unlessPreviews(apps)) == 0:
		// A preview alone (its live Service selects no color): flipping it
		// as if it were live would send the preview's traffic elsewhere.
		return nil, exitcode.Invalidf("the only Services that select a color, %s, are named as previews: the live Service's selector has no blue or green value; fix it, or name the live Service with --service", listedColored(in))
	}
	return apps[0], nil
}

// unlessPreviews leaves out the apps whose every Service's name says
// preview: a folder's <name>-preview of other pods is no live Service.
func unlessPreviews(apps [][]*colored) [][]*colored {
	var out [][]*colored
	for _, a := range apps {
		if slices.ContainsFunc(a, func(s *colored) bool { return nameRole(s.obj.name) != previewRole }) {
			out = append(out, a)
		}
	}
	return out
}

// pickLive picks the live Service of the app's Services (group): the only
// one in live that is not the preview Service pv, else the one the clues
// point at.
func pickLive(group []*colored, pv *colored, live []*manifest, clues []clue) (*colored, error) {
	var cands []*colored
	for _, s := range group {
		if s != pv && slices.Contains(live, s.obj) {
			cands = append(cands, s)
		}
	}
	switch {
	case len(cands) == 1:
		return cands[0], nil
	case len(cands) == 0:
		return nil, exitcode.Invalidf("%s is the only Service that selects its pods with a color: name the live Service with --service", pv.obj.where())
	}
	for _, c := range clues {
		if s := decide(cands, c, liveRole); s != nil {
			return s, nil
		}
	}
	return nil, exitcode.Invalidf("Services %s select the same pods with a color, and nothing in the app folder says which one is live (a bgrender.io/active-color or preview-color annotation, a name that says preview or active, an Ingress or HTTPRoute that sends to one of them alone): name the live one with --service, or the preview one with --preview-service", listedColored(cands))
}

// pickPreview picks the preview Service of the app whose live Service is
// svc: the only other Service of the app, else the one the clues point
// at; nil when it has none.
func pickPreview(group []*colored, svc *colored, clues []clue) (*colored, error) {
	var cands []*colored
	for _, s := range group {
		if s != svc {
			cands = append(cands, s)
		}
	}
	switch len(cands) {
	case 0:
		return nil, nil
	case 1:
		return cands[0], nil
	}
	idle := func(s *colored) role {
		if s.color != svc.color {
			return previewRole
		}
		return noRole
	}
	for _, c := range append(clues, idle) {
		if s := decide(cands, c, previewRole); s != nil {
			return s, nil
		}
	}
	return nil, exitcode.Invalidf("several Services select the pods of %s with a color: %s; name the preview Service, which every flip flips with %s, with --preview-service", svc.obj.name, listedColored(cands), svc.obj.name)
}

// decide returns the one candidate that clue c gives role want: the only
// one it gives that role, or the only one it does not give the other role
// (when it gives it to some).
func decide(cands []*colored, c clue, want role) *colored {
	var yes, notOther []*colored
	for _, s := range cands {
		switch c(s) {
		case want:
			yes = append(yes, s)
			notOther = append(notOther, s)
		case noRole:
			notOther = append(notOther, s)
		}
	}
	switch {
	case len(yes) == 1:
		return yes[0]
	case len(notOther) == 1 && len(notOther) < len(cands):
		return notOther[0]
	}
	return nil
}

// clues are the folder's evidence of roles, strongest first.
func (p *plain) clues(objs []*manifest) []clue {
	routed := routedRoles(objs)
	return []clue{
		func(s *colored) role {
			ann := yamledit.Lookup(s.obj.node(), "metadata", "annotations")
			switch {
			case yamledit.Scalar(ann, render.AnnotationPreviewColor) != "":
				return previewRole
			case yamledit.Scalar(ann, render.AnnotationActiveColor) != "":
				return liveRole
			}
			return noRole
		},
		func(s *colored) role { return nameRole(s.obj.name) },
		func(s *colored) role { return routed[s.obj.name] },
	}
}

// nameRole reads a name's words: preview, test, idle or canary say
// preview; active, live, stable or primary say live.
func nameRole(name string) role {
	var r role
	for _, w := range strings.FieldsFunc(name, func(c rune) bool { return c == '-' || c == '.' || c == '_' }) {
		switch w {
		case "preview", "test", "idle", "canary":
			if r == liveRole {
				return noRole
			}
			r = previewRole
		case "active", "live", "stable", "primary":
			if r == previewRole {
				return noRole
			}
			r = liveRole
		}
	}
	return r
}

// routedRoles reads the folder's Ingresses and HTTPRoutes: the Services a
// canary Ingress, or one whose name says preview, sends to are previews;
// those another Ingress or an HTTPRoute sends to are live. A Service
// both send to has no role by this clue.
func routedRoles(objs []*manifest) map[string]role {
	out := map[string]role{}
	mark := func(name string, r role) {
		if prev, ok := out[name]; ok && prev != r {
			r = noRole
		}
		out[name] = r
	}
	for _, o := range objs {
		switch o.kind {
		case "Ingress":
			r := liveRole
			if isCanary(yamledit.Scalar(o.node(), "metadata", "annotations", render.AnnotationCanary)) || nameRole(o.name) == previewRole {
				r = previewRole
			}
			for _, name := range ingressBackends(o.node()) {
				mark(name, r)
			}
		case "HTTPRoute":
			for _, name := range httpRouteBackends(o) {
				mark(name, liveRole)
			}
		}
	}
	return out
}

// httpRouteBackends names the Services an HTTPRoute's rules send to.
func httpRouteBackends(o *manifest) []string {
	var out []string
	rules := yamledit.Lookup(o.node(), "spec", "rules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return nil
	}
	for _, r := range rules.Content {
		if refs := yamledit.Lookup(r, "backendRefs"); refs != nil && refs.Kind == yaml.SequenceNode {
			for _, ref := range refs.Content {
				if name := serviceRef(o.node(), ref); name != "" && !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

// listedColored names Services with their files, for a message.
func listedColored(services []*colored) string {
	objs := make([]*manifest, len(services))
	for i, s := range services {
		objs[i] = s.obj
	}
	return listed(objs)
}

// previewName is the preview Service's name for a message: the folder's,
// or the name bgrender would look for first.
func (p *plain) previewName() string {
	if p.preview != nil {
		return p.preview.name
	}
	return p.service.name + "-preview"
}
