package promote

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/internal/yamlerr"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// yamlFile is one YAML file of an app folder being edited.
type yamlFile struct {
	name    string // relative to the app folder
	y       *yamledit.File
	changed bool
}

func parseYAMLFile(name string, data []byte) (*yamlFile, error) {
	y, err := yamledit.Parse(data)
	var dup *yamlerr.DuplicateKeyError
	switch {
	case errors.As(err, &dup):
		dup.File = name
		return nil, exitcode.InvalidInput(dup)
	case err != nil:
		if line, msg := yamlerr.Parse(err); line > 0 {
			return nil, exitcode.Invalidf("%s:%d: invalid YAML: %s", name, line, msg)
		}
		return nil, exitcode.Invalidf("%s: %v", name, err)
	}
	return &yamlFile{name: name, y: y}, nil
}

func (f *yamlFile) wrap(err error) error {
	if err != nil {
		return exitcode.Invalidf("%s: %v", f.name, err)
	}
	f.changed = true
	return nil
}

// manifest is one Kubernetes object of a plain folder: its file and document.
type manifest struct {
	file *yamlFile
	doc  int
	kind string
	name string
}

func (o *manifest) node() *yaml.Node { return o.file.y.Docs()[o.doc] }

func (o *manifest) where() string { return fmt.Sprintf("%s: %s %s", o.file.name, o.kind, o.name) }

// plain is a folder of hand-written manifests.
type plain struct {
	dir         string
	files       []*yamlFile
	service     *manifest
	preview     *manifest // the Service that selects the app's other color (see roles.go)
	colorLabel  string
	deployments map[spec.Color]*manifest
	// autoscalers are the HorizontalPodAutoscalers that scale them.
	autoscalers map[spec.Color]*manifest
	container   string
	st          *State
	// canary is the NGINX canary Ingress (see plaincanary.go), sending to
	// a Service that selects canaryColor; mainIngresses are the app's
	// other Ingresses.
	canary        *manifest
	canaryColor   spec.Color
	mainIngresses []*manifest
	// keepPreview: setActive leaves the preview Service (a hand-over).
	keepPreview bool
	// canaryErr is why the canary Ingress (or the HTTPRoute) cannot be
	// shifted.
	canaryErr error
	// route is the app's weighted HTTPRoute (see plainroute.go), when it
	// has one and no canary; its weights are written at save, once the
	// commit's live color (newActive, set by setActive) is known.
	route         *manifest
	routeRules    []routeRule
	newActive     spec.Color
	pendingWeight *int32
	// migration is the Job marked bgrender.io/migration: expand, when the
	// folder has one (see plainmigration.go).
	migration *manifest
}

func openPlain(dir string, o PlainOptions) (*plain, error) {
	p := &plain{dir: dir, deployments: map[spec.Color]*manifest{}, autoscalers: map[spec.Color]*manifest{}, container: o.Container}
	objs, err := p.load(o.File)
	if err != nil {
		return nil, err
	}
	all := objs
	if o.File != "" {
		// The preview Service and the Deployments may live in other files.
		if all, err = p.load(""); err != nil {
			return nil, err
		}
	}
	if err := p.findService(objs, all, o); err != nil {
		return nil, err
	}
	selector := yamledit.Lookup(p.service.node(), "spec", "selector")
	active, _ := colorOf(yamledit.Scalar(selector, p.colorLabel))
	p.st = &State{App: p.service.name, Active: active, Previous: active.Other(),
		Images: map[spec.Color]string{}, Replicas: map[spec.Color]int32{},
		Service: p.service.name, ColorLabel: p.colorLabel, Plain: true}
	if p.preview != nil {
		p.st.Preview = p.preview.name
	}
	if prev, ok := colorOf(yamledit.Scalar(p.service.node(), "metadata", "annotations", render.AnnotationPreviousColor)); ok && prev != active {
		p.st.Previous = prev
	}
	objs = all
	p.findCanary(objs)
	for _, c := range spec.Colors {
		d, err := p.findDeployment(objs, selector, c)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue
		}
		p.deployments[c] = d
		if hpa := autoscalerOf(objs, d); hpa != nil {
			if p.st.Autoscalers == nil {
				p.st.Autoscalers = map[spec.Color]string{}
			}
			p.st.Autoscalers[c], p.autoscalers[c] = hpa.name, hpa
		}
		if ctr, err := p.containerOf(d); err == nil {
			p.st.Images[c] = yamledit.Scalar(ctr, "image")
		}
		p.st.Replicas[c] = 1
		if r := yamledit.Scalar(d.node(), "spec", "replicas"); r != "" {
			n, err := strconv.ParseInt(r, 10, 32)
			if err != nil {
				return nil, exitcode.Invalidf("%s: spec.replicas: %q is not an integer", d.where(), r)
			}
			p.st.Replicas[c] = int32(n)
		}
	}
	p.floors()
	if err := p.findMigration(objs); err != nil {
		return nil, err
	}
	return p, nil
}

// load parses every YAML file of the folder (or only the file only).
func (p *plain) load(only string) ([]*manifest, error) {
	var names []string
	if only != "" {
		names = []string{filepath.ToSlash(filepath.Clean(only))}
	} else {
		err := filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
				rel, err := filepath.Rel(p.dir, path)
				names = append(names, filepath.ToSlash(rel))
				return err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	var objs []*manifest
	for _, name := range names {
		f := p.file(name)
		if f == nil {
			data, err := os.ReadFile(filepath.Join(p.dir, filepath.FromSlash(name)))
			if err != nil {
				return nil, exitcode.Invalidf("read %s: %v", name, err)
			}
			if f, err = parseYAMLFile(name, data); err != nil {
				if only == "" && bytes.Contains(data, []byte("{{")) {
					continue // a Helm or Go template, not a manifest
				}
				return nil, err
			}
			p.files = append(p.files, f)
		}
		for i, doc := range f.y.Docs() {
			kind, objName := yamledit.Scalar(doc, "kind"), yamledit.Scalar(doc, "metadata", "name")
			if kind != "" && objName != "" {
				objs = append(objs, &manifest{file: f, doc: i, kind: kind, name: objName})
			}
		}
	}
	return objs, nil
}

func (p *plain) file(name string) *yamlFile {
	for _, f := range p.files {
		if f.name == name {
			return f
		}
	}
	return nil
}

func (p *plain) where(file string) string {
	if file != "" {
		return file
	}
	return "the app folder"
}

// severalColorKeys marks the error of a selector with several keys whose
// value is a color.
type severalColorKeys struct{ error }

// colorKey returns the selector key of svc that carries the color.
func colorKey(svc *manifest, label string) (string, error) {
	selector := yamledit.Lookup(svc.node(), "spec", "selector")
	if selector == nil || selector.Kind != yaml.MappingNode {
		return "", exitcode.Invalidf("%s has no spec.selector", svc.where())
	}
	if label != "" {
		if _, ok := colorOf(yamledit.Scalar(selector, label)); !ok {
			return "", exitcode.Invalidf("%s: spec.selector.%s is %q, not blue or green", svc.where(), label, yamledit.Scalar(selector, label))
		}
		return label, nil
	}
	var keys []string
	for i := 0; i+1 < len(selector.Content); i += 2 {
		if _, ok := colorOf(selector.Content[i+1].Value); ok {
			keys = append(keys, selector.Content[i].Value)
		}
	}
	if len(keys) == 0 {
		return "", exitcode.Invalidf("%s: no selector key has a blue or green value; name the color label with --color-label", svc.where())
	}
	if len(keys) > 1 {
		return "", exitcode.InvalidInput(severalColorKeys{fmt.Errorf("%s: %d selector keys (%s) have a blue or green value; name the color label with --color-label", svc.where(), len(keys), strings.Join(keys, ", "))})
	}
	return keys[0], nil
}

// findDeployment returns the Deployment of color c: the one whose pod
// labels match the Service selector with the color set to c, else the
// one named <service>-<color>. Several that match are an error: an action
// must not pick one of them silently.
func (p *plain) findDeployment(objs []*manifest, selector *yaml.Node, c spec.Color) (*manifest, error) {
	var byName *manifest
	var matches []*manifest
	for _, obj := range objs {
		if obj.kind != "Deployment" {
			continue
		}
		if obj.name == p.service.name+"-"+string(c) {
			byName = obj
		}
		labels := yamledit.Lookup(obj.node(), "spec", "template", "metadata", "labels")
		if labels == nil {
			continue
		}
		match := true
		for i := 0; i+1 < len(selector.Content); i += 2 {
			key, want := selector.Content[i].Value, selector.Content[i+1].Value
			if key == p.colorLabel {
				want = string(c)
			}
			if yamledit.Scalar(labels, key) != want {
				match = false
				break
			}
		}
		if match {
			matches = append(matches, obj)
		}
	}
	switch len(matches) {
	case 0:
		return byName, nil
	case 1:
		return matches[0], nil
	}
	return nil, exitcode.Invalidf("several Deployments run the %s pods of Service %s: %s; keep one per color in the app folder, or narrow --path to a folder that has one", c, p.service.name, listed(matches))
}

// autoscalerOf returns the HorizontalPodAutoscaler of the folder that
// scales Deployment d, or nil.
func autoscalerOf(objs []*manifest, d *manifest) *manifest {
	for _, o := range objs {
		if o.kind != "HorizontalPodAutoscaler" {
			continue
		}
		ref := yamledit.Lookup(o.node(), "spec", "scaleTargetRef")
		if yamledit.Scalar(ref, "kind") == "Deployment" && yamledit.Scalar(ref, "name") == d.name {
			return o
		}
	}
	return nil
}

// containerOf returns the container whose image an action edits.
func (p *plain) containerOf(d *manifest) (*yaml.Node, error) {
	list := yamledit.Lookup(d.node(), "spec", "template", "spec", "containers")
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		return nil, exitcode.Invalidf("%s has no containers", d.where())
	}
	if p.container == "" {
		if len(list.Content) == 1 {
			return list.Content[0], nil
		}
		return nil, exitcode.Invalidf("%s has %d containers; name one with --container", d.where(), len(list.Content))
	}
	for _, c := range list.Content {
		if yamledit.Scalar(c, "name") == p.container {
			return c, nil
		}
	}
	return nil, exitcode.Invalidf("%s has no container %q", d.where(), p.container)
}

func (p *plain) state() *State { return p.st }

// namespace is the metadata.namespace of the app's Services and
// Deployments. Those that name none are left out (the applier puts them
// where the others are, or where it is told); two different names are
// invalid: a Service selects pods of its own namespace only.
func (p *plain) namespace() (string, string, error) {
	named := map[string][]string{} // namespace → the objects that name it
	var order []string
	for _, o := range []*manifest{p.service, p.preview, p.deployments[spec.Blue], p.deployments[spec.Green]} {
		if o == nil {
			continue
		}
		ns := yamledit.Scalar(o.node(), "metadata", "namespace")
		if ns == "" {
			continue
		}
		if named[ns] == nil {
			order = append(order, ns)
		}
		named[ns] = append(named[ns], o.where())
	}
	switch len(order) {
	case 0:
		return "", "", nil
	case 1:
		return order[0], "metadata.namespace of " + strings.Join(named[order[0]], ", "), nil
	}
	var parts []string
	for _, ns := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", ns, strings.Join(named[ns], ", ")))
	}
	return "", "", exitcode.Invalidf("the app's manifests name different namespaces: %s; a Service selects the pods of its own namespace only, so put them in one", strings.Join(parts, " and "))
}

// gates reads spec.GatesFile beside the manifests, when there is one.
func (p *plain) gates() (*spec.FolderGates, error) {
	data, err := os.ReadFile(filepath.Join(p.dir, spec.GatesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g, err := spec.LoadGates(spec.GatesFile, data)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	return g, nil
}

func (p *plain) setActive(to spec.Color) error {
	from := p.st.Active
	p.newActive = to
	if p.route != nil && p.pendingWeight == nil {
		// Every flip ends with the route on the new live color alone.
		var none int32
		p.pendingWeight = &none
	}
	s := p.service
	if _, err := s.file.y.SetString(s.doc, []string{"spec", "selector", p.colorLabel}, string(to)); err != nil {
		return s.file.wrap(err)
	}
	// Set in this order, so that new annotations read active, then previous.
	// They are a record, not the switch: a flow-style metadata that cannot
	// take them keeps its text, and the selector alone flips traffic.
	for _, a := range [][2]string{{render.AnnotationPreviousColor, string(from)}, {render.AnnotationActiveColor, string(to)}} {
		if _, err := s.file.y.SetString(s.doc, []string{"metadata", "annotations", a[0]}, a[1]); err != nil && !errors.Is(err, yamledit.ErrCannotInsert) {
			return s.file.wrap(err)
		}
	}
	s.file.changed = true
	if pv := p.preview; pv != nil && !p.keepPreview {
		if _, err := pv.file.y.SetString(pv.doc, []string{"spec", "selector", p.colorLabel}, string(from)); err != nil {
			return pv.file.wrap(err)
		}
		pv.file.changed = true
	}
	return nil
}

func (p *plain) deployment(c spec.Color) (*manifest, error) {
	d := p.deployments[c]
	if d == nil {
		return nil, exitcode.Invalidf("no Deployment for %s: none has pod labels matching the selector of Service %s with %s: %s, and none is named %s-%s",
			c, p.service.name, p.colorLabel, c, p.service.name, c)
	}
	return d, nil
}

func (p *plain) setImage(c spec.Color, image string) error {
	d, err := p.deployment(c)
	if err != nil {
		return err
	}
	ctr, err := p.containerOf(d)
	if err != nil {
		return err
	}
	_, err = d.file.y.SetNode(ctr, []string{"image"}, image)
	if err := d.file.wrap(err); err != nil || p.migration == nil {
		return err
	}
	return p.setMigrationImage(image) // the new image's expand Job, in the same commit
}

func (p *plain) setIdleReplicas(n int32) error {
	idle := p.st.Active.Other()
	if hpa := p.autoscalers[idle]; hpa != nil {
		// The autoscaler owns the replicas: its floor is what to set.
		if n < 1 {
			return exitcode.Invalidf("%s scales %s: its minReplicas cannot be %d (Kubernetes refuses 0 unless the HPAScaleToZero feature gate is on); to free the idle color, remove its autoscaler and set the Deployment's replicas to 0", hpa.where(), idle, n)
		}
		return p.setFloor(idle, n, 0)
	}
	d, err := p.deployment(idle)
	if err != nil {
		return err
	}
	_, err = d.file.y.SetInt(d.doc, []string{"spec", "replicas"}, int64(n))
	return d.file.wrap(err)
}

func (p *plain) save() error {
	if p.pendingWeight != nil {
		if err := p.setRouteWeights(*p.pendingWeight); err != nil {
			return err
		}
	}
	for _, f := range p.files {
		if f.changed {
			if err := os.WriteFile(filepath.Join(p.dir, filepath.FromSlash(f.name)), f.y.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// listed names objects with their files, for a message.
func listed(objs []*manifest) string {
	var names []string
	for _, o := range objs {
		names = append(names, o.name+" ("+o.file.name+")")
	}
	return strings.Join(names, ", ")
}
