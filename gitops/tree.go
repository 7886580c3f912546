package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// snapshot is the regular files of a folder: slash-separated relative
// path → content, and the mode each had in Git.
type snapshot struct {
	files map[string][]byte
	modes map[string]filemode.FileMode
}

// extract writes the regular files of tree into dir and returns what it
// wrote. Symlinks and submodules are left out, and so never changed. A
// nil tree is an empty folder.
func extract(tree *object.Tree, dir string) (*snapshot, error) {
	s := &snapshot{files: map[string][]byte{}, modes: map[string]filemode.FileMode{}}
	if tree == nil {
		return s, nil
	}
	err := tree.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable && f.Mode != filemode.Deprecated {
			return nil
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			perm = 0o755
		}
		if err := os.WriteFile(dst, data, perm); err != nil {
			return err
		}
		s.files[f.Name] = data
		s.modes[f.Name] = f.Mode
		return nil
	})
	return s, err
}

// readDir reads the regular files below dir.
func readDir(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	return files, err
}

// change is a new content for a path, or a deletion (data nil).
type change struct {
	data []byte
	mode filemode.FileMode
}

// changes compares the files an editor left with the snapshot it started
// from; keys are prefixed with prefix (the app folder in the repository).
func (s *snapshot) changes(after map[string][]byte, prefix string) map[string]*change {
	out := map[string]*change{}
	for name, data := range after {
		old, had := s.files[name]
		if had && bytes.Equal(old, data) {
			continue
		}
		mode := filemode.Regular
		if had && s.modes[name] == filemode.Executable {
			mode = filemode.Executable
		}
		out[path.Join(prefix, name)] = &change{data: data, mode: mode}
	}
	for name := range s.files {
		if _, kept := after[name]; !kept {
			out[path.Join(prefix, name)] = &change{}
		}
	}
	return out
}

// applyChanges writes a new tree: the tree at h (zero for none) with the
// changes, whose keys are relative to it. Only the trees on the way to a
// change are rewritten; every other entry keeps its hash. It returns the
// zero hash when the tree ends up empty.
func applyChanges(st storer.EncodedObjectStorer, h plumbing.Hash, changes map[string]*change) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !h.IsZero() {
		t, err := object.GetTree(st, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*change{}
	for p, c := range changes {
		name, rest, nested := strings.Cut(p, "/")
		if !nested {
			if c.data == nil {
				delete(entries, name)
				continue
			}
			if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a folder in the repository, not a file", name)
			}
			bh, err := writeBlob(st, c.data)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			entries[name] = object.TreeEntry{Name: name, Mode: c.mode, Hash: bh}
			continue
		}
		if sub[name] == nil {
			sub[name] = map[string]*change{}
		}
		sub[name][rest] = c
	}
	for name, cs := range sub {
		var old plumbing.Hash
		if e, ok := entries[name]; ok {
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a file in the repository, not a folder", name)
			}
			old = e.Hash
		}
		nh, err := applyChanges(st, old, cs)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if nh.IsZero() {
			delete(entries, name)
			continue
		}
		entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: nh}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// Git orders entries by name, comparing a folder as if it ended in "/".
	sortKey := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return sortKey(t.Entries[i]) < sortKey(t.Entries[j]) })
	obj := st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

func writeBlob(st storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

// subtree returns the tree of folder p ("" or "." for the root).
func subtree(root *object.Tree, p string) (*object.Tree, error) {
	p = folderPath(p)
	if p == "" {
		return root, nil
	}
	t, err := root.Tree(p)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, errNoFolder
	}
	return t, err
}

var errNoFolder = errors.New("folder not found")

// ErrNoFolder is returned by FolderHash and ExtractFolder when the commit
// has no such folder.
var ErrNoFolder = errNoFolder

// FolderHash returns the tree hash of folder p in commit, so that a caller
// reading many commits can skip the ones where the folder did not change.
func FolderHash(commit *object.Commit, p string) (plumbing.Hash, error) {
	folder, err := commitFolder(commit, p)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return folder.Hash, nil
}

// ExtractFolder writes the regular files of folder p, as commit had them,
// into dir.
func ExtractFolder(commit *object.Commit, p, dir string) error {
	folder, err := commitFolder(commit, p)
	if err != nil {
		return err
	}
	_, err = extract(folder, dir)
	return err
}

func commitFolder(commit *object.Commit, p string) (*object.Tree, error) {
	root, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	return subtree(root, p)
}
