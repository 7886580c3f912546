package promote

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
)

// save writes the plain folder's edits back as patches of the overlay,
// checks them by building it again, and only then writes the files.
func (ov *overlay) save() error {
	if err := ov.plain.save(); err != nil {
		return err
	}
	after, err := ov.edited()
	if err != nil {
		return err
	}
	w, err := ov.newPatchWriter()
	if err != nil {
		return err
	}
	for i, obj := range ov.objs {
		if equalValues(obj.before, after[i]) {
			continue
		}
		if obj.input.name == "" {
			return exitcode.Invalidf("%s: %s is made by the overlay itself (a generator), not by a base: bgrender has no file to write its change to", display(ov.path), obj.id)
		}
		for _, lf := range diffValues(nil, obj.before, after[i]) {
			if err := w.set(obj, lf); err != nil {
				return err
			}
		}
	}
	files, err := w.files()
	if err != nil {
		return err
	}
	if err := ov.verify(files, after); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(ov.dir, filepath.FromSlash(name)), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// edited reads the built objects back as the plain folder's edits left them.
func (ov *overlay) edited() ([]any, error) {
	data, err := os.ReadFile(filepath.Join(ov.virtual, builtFile))
	if err != nil {
		return nil, err
	}
	f, err := yamledit.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the edited build: %w", err)
	}
	if len(f.Docs()) != len(ov.objs) {
		return nil, fmt.Errorf("the edited build has %d objects, not %d", len(f.Docs()), len(ov.objs))
	}
	out := make([]any, len(ov.objs))
	for i, doc := range f.Docs() {
		if err := doc.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// verify builds the overlay with the new files and compares every object
// with the edited one.
func (ov *overlay) verify(files map[string][]byte, want []any) error {
	saved := map[string][]byte{}
	for name, data := range files {
		p := memPath(path.Join(ov.path, name))
		if old, err := ov.kfs.fs.ReadFile(p); err == nil {
			saved[p] = old
		}
		if err := ov.kfs.fs.WriteFile(p, data); err != nil {
			return err
		}
	}
	m, err := ov.kfs.build(ov.path)
	if err != nil {
		return fmt.Errorf("the overlay with bgrender's edit: %w", err)
	}
	got := map[objID]any{}
	for _, r := range m.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return err
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return err
		}
		got[idOf(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName())] = v
	}
	for i, obj := range ov.objs {
		g, ok := got[obj.id]
		if !ok {
			return exitcode.Invalidf("kustomize build %s with bgrender's edit has no %s any more; nothing is committed", display(ov.path), obj.id)
		}
		if diffs := diffValues(nil, want[i], g); len(diffs) > 0 {
			return ov.overridden(obj, diffs[0], want[i])
		}
	}
	return nil
}

// overridden explains why the build does not give the edited value lf (as
// the build has it) of obj.
func (ov *overlay) overridden(obj *builtObject, lf leaf, want any) error {
	wanted := valueAt(want, lf.path)
	field := pathString(lf.path)
	base := fmt.Sprintf("kustomize build %s, with bgrender's edit, gives %s %s = %v, not %v", display(ov.path), obj.id, field, lf.value, wanted)
	k := ov.k
	kfile := path.Join(display(ov.path), ov.kust)
	if strings.HasSuffix(field, ".image") {
		if s, ok := wanted.(string); ok {
			for _, img := range k.Images {
				if imageName(s) == img.Name || imageName(fmt.Sprint(lf.value)) == img.Name || imageName(fmt.Sprint(lf.value)) == img.NewName {
					return exitcode.Invalidf("%s: remove the images: entry for %s from %s: kustomize applies it after every patch, to both colors' Deployments (they share the image name), while bgrender sets each color's image in a patch (%s, or the overlay's own patch that sets it); nothing is committed", base, img.Name, kfile, PatchFile)
				}
			}
		}
	}
	if field == "spec.replicas" {
		for _, r := range k.Replicas {
			if r.Name == obj.input.name || r.Name == obj.id.name {
				return exitcode.Invalidf("%s: remove the replicas: entry for %s from %s: kustomize applies it after every patch, while bgrender sets each color's replicas in a patch (%s, or the overlay's own patch that sets them); nothing is committed", base, r.Name, kfile, PatchFile)
			}
		}
	}
	return exitcode.Invalidf("%s: something in %s sets it after bgrender's patch (a patchesJson6902 entry, a replacement, a transformer, or a patch with a target); set it there by hand, or remove it so that %s does; nothing is committed", base, kfile, PatchFile)
}

// imageName is an image reference without its tag and digest.
func imageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
