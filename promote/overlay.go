package promote

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// A kustomize overlay (a folder whose kustomization.yaml lists a base
// outside it, such as ../../base/podinfo) keeps its app in the base, which
// other overlays share. bgrender builds the overlay, finds the app in what
// it builds as in a plain folder (the same rules, the same actions: an
// overlay is a plain folder made of the built objects), and writes each
// change back into the overlay only: into a patch of the overlay that
// already sets the field for that object (production's own replicas or
// image patch), else into PatchFile, which it owns. It then builds the
// overlay again and refuses, before anything is committed, when the build
// does not give exactly the edited objects (an images: or replicas: entry
// of the overlay, which kustomize applies after every patch, for one).

// PatchFile is the patch that bgrender writes into an overlay.
const PatchFile = "bgrender-patch.yaml"

// builtFile is the file of the built objects in the plain folder an
// overlay is read as; messages name it.
const builtFile = "kustomize-build.yaml"

// patchHeader heads PatchFile.
const patchHeader = `# Written by bgrender: the blue/green state of this overlay (the live
# color in the Services' selectors, each color's image and replicas, the
# traffic split) as strategic-merge patches of the base's objects. bgrender
# deploy, promote, rollback, shift and scale-idle edit this file (and the
# overlay's own patches where they already set a field); kustomization.yaml
# lists it last in patches, so it wins over the patches before it. Each
# object is named as the overlay's resources have it, before the overlay's
# own namespace and namePrefix, as kustomize matches a patch.
`

// objID names an object as kustomize does.
type objID struct{ apiVersion, kind, namespace, name string }

func (id objID) group() string {
	if g, _, ok := strings.Cut(id.apiVersion, "/"); ok {
		return g
	}
	return ""
}

func (id objID) String() string { return id.kind + " " + id.name }

// builtObject is one object of the overlay's build.
type builtObject struct {
	id     objID // as built
	input  objID // as the overlay's patches see it: before its own namePrefix, nameSuffix and namespace
	before any
}

// overlay is a kustomize overlay read as the plain folder of its build.
type overlay struct {
	*plain
	dir     string // the overlay folder, as the action edits it
	path    string // the overlay folder in the repository
	kfs     *kustomizeFS
	kust    string // the kustomization file's name
	k       *types.Kustomization
	objs    []*builtObject
	virtual string // the plain folder of the built objects
}

// isOverlay tells whether the folder dir, at path in the repository, is a
// kustomize overlay: its kustomization references a folder outside it.
// remote lists the remote bases it references.
func isOverlay(dir, repoPath string) (ok bool, remote []string, err error) {
	name := kustomizationFile(dir)
	if name == "" {
		return false, nil, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return false, nil, err
	}
	// Leniently: a kustomization that does not parse is no overlay of
	// bgrender's, and a plain folder keeps working as it did.
	var k types.Kustomization
	if err := sigsyaml.Unmarshal(data, &k); err != nil {
		return false, nil, nil
	}
	app := folderOf(repoPath)
	local, remote := references(&k)
	for _, ref := range local {
		if p, ok := inRepo(app, ref); !ok || !within(p, app) {
			return true, remote, nil
		}
	}
	return false, remote, nil
}

// openFolder reads the app folder in dir: an overlay, when at is set (the
// folders around it can be read) and it is one, else a managed or plain
// folder. The caller calls done when it is finished with the layout.
func openFolder(dir string, at *repoAt, o PlainOptions) (l layout, done func(), err error) {
	done = func() {}
	var remote []string
	if _, err := os.Stat(filepath.Join(dir, SpecFile)); err != nil && at != nil {
		var ok bool
		ok, remote, err = isOverlay(dir, at.path)
		if err != nil {
			return nil, done, err
		}
		if ok {
			ov, err := openOverlay(dir, *at, o)
			if err != nil {
				return nil, done, err
			}
			return ov, func() { os.RemoveAll(ov.virtual) }, nil
		}
	}
	l, err = openLayout(dir, o)
	if err != nil && len(remote) > 0 && exitcode.Of(err) == exitcode.Invalid {
		// The app may well be in the remote base.
		err = exitcode.Invalidf("%v (the folder's kustomization lists the remote base %s, which bgrender does not fetch: it builds and edits this repository alone; copy the base into it, a folder beside this one, and list that folder in resources)", err, remote[0])
	}
	return l, done, err
}

func openOverlay(dir string, at repoAt, o PlainOptions) (*overlay, error) {
	if o.File != "" {
		return nil, exitcode.Invalidf("--file %s: %s is a kustomize overlay, whose Services bgrender finds in what it builds; leave --file out (--service names the Service)", o.File, display(folderOf(at.path)))
	}
	kfs, err := newKustomizeFS(at, dir)
	if err != nil {
		return nil, err
	}
	ov := &overlay{dir: dir, path: folderOf(at.path), kfs: kfs, kust: kustomizationFile(dir)}
	data, err := os.ReadFile(filepath.Join(dir, ov.kust))
	if err != nil {
		return nil, err
	}
	if ov.k, err = readKustomization(path.Join(ov.path, ov.kust), data); err != nil {
		return nil, err
	}
	m, err := kfs.build(ov.path)
	if err != nil {
		return nil, err
	}
	inputs, err := ov.inputs()
	if err != nil {
		return nil, err
	}
	var stream bytes.Buffer
	for i, r := range m.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		obj := &builtObject{id: idOf(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName())}
		if err := yaml.Unmarshal(data, &obj.before); err != nil {
			return nil, err
		}
		obj.input = ov.inputOf(obj.id, inputs)
		ov.objs = append(ov.objs, obj)
		if i > 0 {
			stream.WriteString("---\n")
		}
		stream.Write(data)
	}
	if err := ov.openPlain(stream.Bytes(), m, o); err != nil {
		return nil, err
	}
	return ov, nil
}

func idOf(apiVersion, kind, namespace, name string) objID {
	return objID{apiVersion: apiVersion, kind: kind, namespace: namespace, name: name}
}

// openPlain writes the built objects into a temporary folder, with the
// overlay's gates file, and reads it as a plain folder.
func (ov *overlay) openPlain(stream []byte, m resmap.ResMap, o PlainOptions) error {
	virtual, err := os.MkdirTemp("", "bgrender-overlay-")
	if err != nil {
		return err
	}
	ov.virtual = virtual
	files := map[string][]byte{builtFile: stream}
	if data, err := os.ReadFile(filepath.Join(ov.dir, spec.GatesFile)); err == nil {
		files[spec.GatesFile] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(virtual, name), data, 0o644); err != nil {
			os.RemoveAll(virtual)
			return err
		}
	}
	ov.plain, err = openPlain(virtual, o)
	if err == nil {
		ov.plain.dropMigration() // not yet in an overlay (see dropMigration)
	}
	if err != nil {
		os.RemoveAll(virtual)
		var built []string
		for _, obj := range ov.objs {
			built = append(built, obj.id.String())
		}
		if len(built) == 0 {
			built = []string{"no objects"}
		}
		return exitcode.Invalidf("%s is a kustomize overlay; its build (%s) is read as a plain folder: %v", display(ov.path), strings.Join(built, ", "), err)
	}
	return nil
}

// inputs builds what the overlay's patches apply to: its resources and
// components, without its own patches and transformers.
func (ov *overlay) inputs() ([]objID, error) {
	kpath := path.Join(ov.path, ov.kust)
	orig, err := ov.kfs.fs.ReadFile(memPath(kpath))
	if err != nil {
		return nil, err
	}
	var k map[string]any
	if err := sigsyaml.Unmarshal(orig, &k); err != nil {
		return nil, exitcode.Invalidf("%s: %v", kpath, err)
	}
	for key := range k {
		switch key {
		case "apiVersion", "kind", "resources", "bases", "components", "openapi", "crds", "configurations":
		default:
			delete(k, key)
		}
	}
	reduced, err := sigsyaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := ov.kfs.fs.WriteFile(memPath(kpath), reduced); err != nil {
		return nil, err
	}
	m, err := ov.kfs.build(ov.path)
	if werr := ov.kfs.fs.WriteFile(memPath(kpath), orig); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	var ids []objID
	for _, r := range m.Resources() {
		ids = append(ids, idOf(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName()))
	}
	return ids, nil
}

// inputOf finds the object that the overlay's own namePrefix, nameSuffix
// and namespace turned into the built object id.
func (ov *overlay) inputOf(id objID, inputs []objID) objID {
	k := ov.k
	var found []objID
	for _, in := range inputs {
		if in.kind != id.kind || in.group() != id.group() {
			continue
		}
		if id.name != in.name && id.name != k.NamePrefix+in.name+k.NameSuffix {
			continue
		}
		if k.Namespace == "" && in.namespace != id.namespace {
			continue
		}
		found = append(found, in)
	}
	if len(found) == 1 {
		return found[0]
	}
	// Made by the overlay itself (a generator): no patch of it is written,
	// and an edit of it is refused at save.
	return objID{}
}

// namespace is the namespace the build gives the app's objects.
func (ov *overlay) namespace() (string, string, error) {
	ns, from, err := ov.plain.namespace()
	if from != "" {
		from = strings.ReplaceAll(from, builtFile+": ", "kustomize build "+display(ov.path)+": ")
	}
	return ns, from, err
}
