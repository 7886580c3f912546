package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// Load decodes and checks a fleet file read from file: one Fleet
// document, every field known and of its type, every target in exactly
// one wave. Every problem is reported, each with the file, line and field
// (exit code 2). The kubeconfig contexts are checked by CheckContexts.
func Load(file string, data []byte) (*Fleet, error) {
	f, err := decode(file, data)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	if errs := f.check(); len(errs) > 0 {
		return nil, exitcode.InvalidInput(errs)
	}
	return f, nil
}

// decode reads the one Fleet document of data.
func decode(file string, data []byte) (*Fleet, error) {
	if err := spec.CheckText(file, data); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, spec.ErrorList{spec.YAMLError(file, err)}
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue
		}
		if root != nil {
			return nil, spec.ErrorList{{File: file, Line: doc.Content[0].Line, Msg: "a second document: a fleet file holds one Fleet"}}
		}
		root = doc.Content[0]
	}
	if root == nil {
		return nil, spec.ErrorList{{File: file, Msg: "no Fleet document found (the input is empty)"}}
	}
	if err := checkKind(file, root); err != nil {
		return nil, err
	}
	f := &Fleet{File: file}
	lines, errs := spec.DecodeStrict(file, root, f)
	if len(errs) > 0 {
		return nil, errs
	}
	f.lines = lines
	return f, nil
}

// checkKind refuses another kind of document with one message rather than
// a list of unknown fields.
func checkKind(file string, root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return nil // DecodeStrict says it
	}
	var kind, version *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "kind":
			kind = root.Content[i+1]
		case "apiVersion":
			version = root.Content[i+1]
		}
	}
	switch {
	case kind == nil:
		return spec.ErrorList{{File: file, Line: root.Line, Path: "kind", Msg: "missing; expected " + Kind}}
	case kind.Value != Kind:
		return spec.ErrorList{{File: file, Line: kind.Line, Path: "kind", Msg: fmt.Sprintf("expected %s, got %q", Kind, kind.Value)}}
	case version == nil:
		return spec.ErrorList{{File: file, Line: root.Line, Path: "apiVersion", Msg: "missing; expected " + APIVersion}}
	case version.Value != APIVersion:
		return spec.ErrorList{{File: file, Line: version.Line, Path: "apiVersion", Msg: fmt.Sprintf("expected %s, got %q", APIVersion, version.Value)}}
	}
	return nil
}

// checker collects a fleet's problems, located by the field's line.
type checker struct {
	f    *Fleet
	errs spec.ErrorList
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, &spec.FieldError{File: c.f.File, Line: c.f.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// line is the line of path, else of the nearest field above it.
func (f *Fleet) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := f.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parent(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// check validates the fleet and resolves its waves.
func (f *Fleet) check() spec.ErrorList {
	c := &checker{f: f}
	if errs := validation.IsDNS1123Label(f.Metadata.Name); len(errs) > 0 {
		c.add("metadata.name", "%q is not a valid name: want at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", f.Metadata.Name)
	}
	byName := c.targets()
	c.waves(byName)
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
	return c.errs
}

// targets checks each target and returns them by name.
func (c *checker) targets() map[string]int {
	f := c.f
	byName := map[string]int{}
	if len(f.Spec.Targets) == 0 {
		c.add("spec.targets", "a fleet needs at least one target")
	}
	for i := range f.Spec.Targets {
		t := &f.Spec.Targets[i]
		p := fmt.Sprintf("spec.targets[%d]", i)
		c.uniqueName("target", p, t.Name, "spec.targets", byName, i)
		if f.RepoOf(t) == "" {
			c.add(p+".repo", "no repository: set the target's repo, or spec.repo for every target")
		}
		if t.Path == "" || filepath.IsAbs(t.Path) || slices.Contains(strings.Split(filepath.ToSlash(t.Path), "/"), "..") {
			c.add(p+".path", "%q: name the app folder inside the repository, without ..", t.Path)
		}
		if t.Namespace != "" && len(validation.IsDNS1123Label(t.Namespace)) > 0 {
			c.add(p+".namespace", "%q is not a valid namespace", t.Namespace)
		}
		for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				c.add(p+".labels", "label key %q: %s", k, errs[0])
			}
			if errs := validation.IsValidLabelValue(t.Labels[k]); len(errs) > 0 {
				c.add(p+".labels", "label %s=%q: %s", k, t.Labels[k], errs[0])
			}
		}
		for j, r := range t.Reconcile {
			if _, err := agent.ParseRef(r); err != nil {
				c.add(fmt.Sprintf("%s.reconcile[%d]", p, j), "%v", err)
			}
		}
	}
	return byName
}

// uniqueName checks the name of the kind ("target", "wave") at path p,
// item i of list: a DNS label, not taken by an earlier item (seen maps
// the names so far to their index, and gets this one).
func (c *checker) uniqueName(kind, p, name, list string, seen map[string]int, i int) {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		c.add(p+".name", "%q is not a valid %s name: want at most 63 lowercase letters, digits and '-'", name, kind)
		return
	}
	if j, dup := seen[name]; dup {
		c.add(p+".name", "%s %q is named twice (first at %s[%d])", kind, name, list, j)
		return
	}
	seen[name] = i
}

// waves checks each wave and resolves its members: every target in
// exactly one wave, no wave empty.
func (c *checker) waves(byName map[string]int) {
	f := c.f
	if len(f.Spec.Waves) == 0 {
		c.add("spec.waves", "a fleet needs at least one wave")
	}
	inWave := map[string]int{}
	names := map[string]int{}
	for i := range f.Spec.Waves {
		w := &f.Spec.Waves[i]
		p := fmt.Sprintf("spec.waves[%d]", i)
		c.uniqueName("wave", p, w.Name, "spec.waves", names, i)
		c.settings(w, p)
		for _, m := range c.members(w, p, byName) {
			t := &f.Spec.Targets[m.index]
			if j, seen := inWave[t.Name]; seen {
				c.add(m.path, "target %q is in two waves: %s and %s (a target moves once per release)", t.Name, f.Spec.Waves[j].Name, w.Name)
				continue
			}
			inWave[t.Name] = i
			w.members = append(w.members, t)
		}
	}
	for i, t := range f.Spec.Targets {
		if _, ok := inWave[t.Name]; !ok && t.Name != "" && len(f.Spec.Waves) > 0 {
			c.add(fmt.Sprintf("spec.targets[%d].name", i), "target %q is in no wave: name it in one, or select it by its labels", t.Name)
		}
	}
}

// member is a target a wave names or selects, and the field that does.
type member struct {
	index int
	path  string
}

// members are the targets wave w names or selects, in the order of the
// file's targets for a selector.
func (c *checker) members(w *Wave, p string, byName map[string]int) []member {
	f := c.f
	switch {
	case len(w.Targets) > 0 && w.Selector != nil:
		c.add(p+".selector", "a wave names its targets or selects them, not both")
		return nil
	case w.Selector != nil && len(w.Selector.MatchLabels) == 0:
		c.add(p+".selector.matchLabels", "an empty selector: name the labels a target of the wave has")
		return nil
	case w.Selector != nil:
		var out []member
		for i, t := range f.Spec.Targets {
			if matches(w.Selector.MatchLabels, t.Labels) {
				out = append(out, member{i, p + ".selector"})
			}
		}
		if len(out) == 0 {
			c.add(p+".selector", "an empty wave: no target has the labels %s", formatLabels(w.Selector.MatchLabels))
		}
		return out
	case len(w.Targets) == 0:
		c.add(p, "an empty wave: list its targets, or select them with selector.matchLabels")
		return nil
	}
	var out []member
	named := map[string]bool{}
	for j, name := range w.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", p, j)
		i, ok := byName[name]
		switch {
		case !ok:
			c.add(tp, "unknown target %q%s", name, known(byName))
		case named[name]:
			c.add(tp, "target %q is named twice in the wave", name)
		default:
			named[name] = true
			out = append(out, member{i, tp})
		}
	}
	return out
}

// settings checks a wave's hold, interval, maxParallel and onBreach.
func (c *checker) settings(w *Wave, p string) {
	w.hold, w.interval = DefaultHold, DefaultInterval
	if w.Hold != "" {
		d, err := time.ParseDuration(w.Hold)
		if err != nil || d < 0 {
			c.add(p+".hold", "%q is not a duration such as 5m or 30s", w.Hold)
		}
		w.hold = d
	}
	if w.Interval != "" {
		d, err := time.ParseDuration(w.Interval)
		if err != nil || d <= 0 {
			c.add(p+".interval", "%q is not a positive duration such as 10s", w.Interval)
		}
		w.interval = d
	}
	if w.MaxParallel < 0 {
		c.add(p+".maxParallel", "%d: want 1 or more (0 or unset: the whole wave at once)", w.MaxParallel)
	}
	if w.OnBreach != "" && !slices.Contains([]string{RollbackWave, RollbackAll, Halt}, w.OnBreach) {
		c.add(p+".onBreach", "%q: want %s, %s or %s", w.OnBreach, RollbackWave, RollbackAll, Halt)
	}
}

func matches(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func formatLabels(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// known names the known targets, for an unknown one.
func known(targets map[string]int) string {
	if len(targets) == 0 {
		return ""
	}
	return " (the targets are " + strings.Join(slices.Sorted(maps.Keys(targets)), ", ") + ")"
}
