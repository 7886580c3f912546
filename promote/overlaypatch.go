package promote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
)

// patchDoc is one strategic-merge patch document, and the object it patches.
type patchDoc struct {
	target objID
	node   *yaml.Node
	doc    int // in its file
}

// handPatch is a patch file of the overlay that people wrote.
type handPatch struct {
	name    string // relative to the overlay
	f       *yamledit.File
	docs    []patchDoc
	changed bool
}

// patchSource is a patch that kustomize applies, in order: a hand patch,
// or (hand nil) bgrender's.
type patchSource struct{ hand *handPatch }

// patchWriter places each changed field of the build in a patch of the
// overlay.
type patchWriter struct {
	ov         *overlay
	sources    []patchSource
	own        []*yaml.Node // the documents of PatchFile
	ownOld     []byte       // PatchFile as it was (nil: none)
	registered bool         // the kustomization lists PatchFile in patches
}

func (ov *overlay) newPatchWriter() (*patchWriter, error) {
	data, err := os.ReadFile(filepath.Join(ov.dir, ov.kust))
	if err != nil {
		return nil, err
	}
	k, err := readKustomization(ov.kust, data)
	if err != nil {
		return nil, err
	}
	w := &patchWriter{ov: ov}
	// kustomize applies patchesStrategicMerge first, then patches in
	// their order (then patchesJson6902, replicas and images, which no
	// patch of bgrender's can win over: the check after writing tells).
	for _, p := range k.PatchesStrategicMerge {
		if err := w.addHand(string(p)); err != nil {
			return nil, err
		}
	}
	for _, p := range k.Patches {
		switch {
		case path.Clean(p.Path) == PatchFile:
			w.registered = true
			w.sources = append(w.sources, patchSource{})
		case p.Path != "" && p.Target == nil:
			if err := w.addHand(p.Path); err != nil {
				return nil, err
			}
		}
	}
	if !w.registered {
		w.sources = append(w.sources, patchSource{})
	}
	own, err := os.ReadFile(filepath.Join(ov.dir, PatchFile))
	if err == nil {
		w.ownOld = own
		if w.own, err = parsePatchDocs(PatchFile, own); err != nil {
			return nil, err
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	return w, nil
}

// addHand reads a patch file of the overlay folder (a patch elsewhere,
// or inline, is not edited).
func (w *patchWriter) addHand(name string) error {
	name = path.Clean(name)
	if strings.Contains(name, "\n") || name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) || name == PatchFile {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(w.ov.dir, filepath.FromSlash(name)))
	if err != nil {
		return nil // an inline patch; kustomize reads it
	}
	f, err := yamledit.Parse(data)
	if err != nil {
		return exitcode.Invalidf("%s: %v", path.Join(display(w.ov.path), name), err)
	}
	h := &handPatch{name: name, f: f}
	for i, doc := range f.Docs() {
		h.docs = append(h.docs, patchDoc{target: docTarget(doc), node: doc, doc: i})
	}
	w.sources = append(w.sources, patchSource{hand: h})
	return nil
}

func docTarget(doc *yaml.Node) objID {
	return idOf(yamledit.Scalar(doc, "apiVersion"), yamledit.Scalar(doc, "kind"),
		yamledit.Scalar(doc, "metadata", "namespace"), yamledit.Scalar(doc, "metadata", "name"))
}

// patches tells whether a patch document patches the object in: the
// same kind and name, and the namespace when the patch names one.
func (t objID) patches(in objID) bool {
	return t.kind == in.kind && t.name == in.name && t.group() == in.group() && (t.namespace == "" || t.namespace == in.namespace)
}

// parsePatchDocs parses bgrender's patch, without its header (files()
// writes it again).
func parsePatchDocs(name string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte(patchHeader))))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, exitcode.Invalidf("%s: %v", name, err)
		}
		if len(doc.Content) > 0 && doc.Content[0].Kind == yaml.MappingNode {
			m := doc.Content[0]
			if len(docs) == 0 && len(m.Content) > 0 {
				// Another version's header.
				m.HeadComment, m.Content[0].HeadComment = "", ""
			}
			docs = append(docs, m)
		}
	}
}

// set writes one changed field of obj: where the last patch that sets it
// is (a hand patch is edited in place), else in bgrender's patch.
func (w *patchWriter) set(obj *builtObject, lf leaf) error {
	for i := len(w.sources) - 1; i >= 0; i-- {
		h := w.sources[i].hand
		if h == nil {
			if w.ownSets(obj.input, lf.path) {
				break
			}
			continue
		}
		for _, d := range h.docs {
			if !d.target.patches(obj.input) {
				continue
			}
			if ok, err := h.setInPlace(d.doc, lf); err != nil {
				return exitcode.Invalidf("%s: %v", path.Join(display(w.ov.path), h.name), err)
			} else if ok {
				return nil
			}
		}
	}
	return w.setOwn(obj.input, lf)
}

// setInPlace edits the field in document doc when the document sets it
// to a scalar and the new value is a string or an integer.
func (h *handPatch) setInPlace(doc int, lf leaf) (bool, error) {
	if lf.removed || len(lf.path) == 0 || lf.path[len(lf.path)-1].item {
		return false, nil
	}
	n := h.f.Docs()[doc]
	for _, s := range lf.path[:len(lf.path)-1] {
		n = lookupStep(n, s)
	}
	last := lf.path[len(lf.path)-1]
	if v := lookupStep(n, last); v == nil || v.Kind != yaml.ScalarNode {
		return false, nil
	}
	var err error
	switch v := lf.value.(type) {
	case string:
		_, err = h.f.SetNode(n, []string{last.key}, v)
	case int:
		_, err = h.f.SetNodeInt(n, []string{last.key}, int64(v))
	default:
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h.changed = true
	// Nodes found before an edit are stale after it.
	for i, d := range h.f.Docs() {
		h.docs[i].node = d
	}
	return true, nil
}

// ownDoc returns bgrender's patch of the object in, made when create.
func (w *patchWriter) ownDoc(in objID, create bool) *yaml.Node {
	for _, d := range w.own {
		if docTarget(d).patches(in) {
			return d
		}
	}
	if !create {
		return nil
	}
	meta := mapping("name", scalar(in.name))
	if in.namespace != "" {
		meta = mapping("name", scalar(in.name), "namespace", scalar(in.namespace))
	}
	d := mapping("apiVersion", scalar(in.apiVersion), "kind", scalar(in.kind), "metadata", meta)
	w.own = append(w.own, d)
	return d
}

func (w *patchWriter) ownSets(in objID, p []step) bool {
	n := w.ownDoc(in, false)
	for _, s := range p {
		n = lookupStep(n, s)
	}
	return n != nil
}

// setOwn writes the field into bgrender's patch.
func (w *patchWriter) setOwn(in objID, lf leaf) error {
	n := w.ownDoc(in, true)
	for i, s := range lf.path {
		lastStep := i == len(lf.path)-1
		var value *yaml.Node
		if lastStep {
			value = &yaml.Node{}
			if lf.removed {
				value = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
			} else if err := value.Encode(lf.value); err != nil {
				return err
			}
		}
		next := lookupStep(n, s)
		switch {
		case s.item && next == nil:
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s: %s is not a list in %s", in, pathString(lf.path[:i]), PatchFile)
			}
			next = mapping("name", scalar(s.key))
			n.Content = append(n.Content, next)
		case s.item:
		case next != nil && lastStep:
			*next = *value
		case next == nil:
			if n.Kind != yaml.MappingNode {
				return fmt.Errorf("%s: %s is not a mapping in %s", in, pathString(lf.path[:i]), PatchFile)
			}
			switch {
			case lastStep:
				next = value
			case lf.path[i+1].item:
				next = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			default:
				next = mapping()
			}
			n.Content = append(n.Content, scalar(s.key), next)
		}
		n = next
	}
	return nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, scalar(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

// files returns the new content of every file of the overlay that
// changes, by name in the overlay folder.
func (w *patchWriter) files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range w.sources {
		if s.hand != nil && s.hand.changed {
			out[s.hand.name] = s.hand.f.Bytes()
		}
	}
	if len(w.own) == 0 {
		return out, nil
	}
	var b bytes.Buffer
	b.WriteString(patchHeader)
	for _, d := range w.own {
		b.WriteString("---\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		d.HeadComment = ""
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(b.Bytes(), w.ownOld) {
		out[PatchFile] = b.Bytes()
	}
	if !w.registered {
		data, err := os.ReadFile(filepath.Join(w.ov.dir, w.ov.kust))
		if err != nil {
			return nil, err
		}
		f, err := yamledit.Parse(data)
		if err != nil {
			return nil, exitcode.Invalidf("%s: %v", w.ov.kust, err)
		}
		if err := f.AppendItem(0, "patches", "path: "+PatchFile); err != nil {
			return nil, exitcode.Invalidf("%s: %v (list %s in patches by hand, last)", path.Join(display(w.ov.path), w.ov.kust), err, PatchFile)
		}
		out[w.ov.kust] = f.Bytes()
	}
	return out, nil
}
