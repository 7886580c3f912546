package promote

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// An overlay is built as Flux's kustomize-controller and Argo CD build it,
// in-process with kustomize's krusty, from the repository alone: the app
// folder (as the action edits it, on disk) and every folder its
// kustomization references, read-only from the commit the action builds
// on, copied into an in-memory file system at their repository paths. No
// plugin, exec function, Helm chart or remote base is run or fetched.

// repoAt is where an app folder comes from: its path in the repository,
// and the commit whose tree holds the folders around it.
type repoAt struct {
	path   string
	commit *object.Commit
}

// kustomizeFS is the in-memory copy of the folders an overlay is built
// from.
type kustomizeFS struct {
	fs          filesys.FileSystem
	app, appDir string // the app folder in the repository, and on disk
	root        *object.Tree
	loaded      map[string]bool
	// folders lists the folders read from the commit (outside the app
	// folder), in the order they were found.
	folders []string
}

// kustomizationFile returns the name of the kustomization file in the
// folder dir on disk ("" when it has none).
func kustomizationFile(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// readKustomization parses a kustomization file.
func readKustomization(name string, data []byte) (*types.Kustomization, error) {
	var k types.Kustomization
	if err := sigsyaml.UnmarshalStrict(data, &k); err != nil {
		return nil, exitcode.Invalidf("%s: %v", name, err)
	}
	return &k, nil
}

// references returns the local and remote entries of the fields whose
// entries may name a folder: resources, bases, components, generators,
// transformers and validators.
func references(k *types.Kustomization) (local, remote []string) {
	for _, list := range [][]string{k.Resources, k.Bases, k.Components, k.Generators, k.Transformers, k.Validators} {
		for _, r := range list {
			if isRemote(r) {
				remote = append(remote, r)
			} else {
				local = append(local, r)
			}
		}
	}
	return local, remote
}

// remoteUser is the user@ of an SCP-style Git URL, as kustomize reads it.
var remoteUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote tells a remote base from a local path as kustomize does (a URL
// with a scheme, github.com/…, user@host:…, git::…): kustomize would clone
// or download it.
func isRemote(r string) bool {
	s := strings.TrimPrefix(strings.ToLower(r), "git::")
	return strings.Contains(s, "://") || strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "github.com:") || remoteUser.MatchString(s)
}

// inRepo joins a reference to the folder it is made in; ok is false when it
// leaves the repository.
func inRepo(folder, ref string) (string, bool) {
	p := path.Clean(path.Join("/", folder, ref))
	rel := strings.TrimPrefix(path.Clean(path.Join(folder, ref)), "./")
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return strings.TrimPrefix(p, "/"), true
}

// within tells whether folder p is folder dir or below it.
func within(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// newKustomizeFS copies the app folder (from disk) and every folder its
// kustomization references, recursively (from the commit), into memory.
func newKustomizeFS(at repoAt, dir string) (*kustomizeFS, error) {
	root, err := at.commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s: %w", short(at.commit.Hash.String()), err)
	}
	k := &kustomizeFS{fs: filesys.MakeFsInMemory(), app: folderOf(at.path), appDir: dir, root: root, loaded: map[string]bool{}}
	if err := k.copyDisk(); err != nil {
		return nil, err
	}
	return k, k.load(k.app, "")
}

// folderOf cleans a folder path of the repository: slash-separated,
// relative, "" for the root.
func folderOf(p string) string {
	return strings.Trim(path.Clean("/"+filepath.ToSlash(p)), "/")
}

// display is a folder for messages ("." for the root).
func display(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func memPath(p string) string { return "/" + p }

func (k *kustomizeFS) copyDisk() error {
	return filepath.WalkDir(k.appDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(k.appDir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return k.write(path.Join(k.app, filepath.ToSlash(rel)), data)
	})
}

func (k *kustomizeFS) write(p string, data []byte) error {
	if err := k.fs.MkdirAll(path.Dir(memPath(p))); err != nil {
		return err
	}
	return k.fs.WriteFile(memPath(p), data)
}

// copyTree copies the regular files of a folder of the commit.
func (k *kustomizeFS) copyTree(folder string, t *object.Tree) error {
	return t.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable && f.Mode != filemode.Deprecated {
			return nil
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return k.write(path.Join(folder, f.Name), data)
	})
}

// load reads the kustomization of folder (copying the folder first when it
// is outside the app folder) and follows its references; from names the
// kustomization that referenced it, for messages.
func (k *kustomizeFS) load(folder, from string) error {
	if k.loaded[folder] {
		return nil
	}
	k.loaded[folder] = true
	if !within(folder, k.app) {
		t, err := k.root.Tree(folder)
		if err != nil {
			return exitcode.Invalidf("%s: %s is not a folder of the repository", from, folder)
		}
		if err := k.copyTree(folder, t); err != nil {
			return fmt.Errorf("read %s: %w", folder, err)
		}
		k.folders = append(k.folders, folder)
	}
	name, data := k.kustomization(folder)
	if name == "" {
		return nil // kustomize says so, naming the folder
	}
	kust, err := readKustomization(name, data)
	if err != nil {
		return err
	}
	if len(kust.HelmCharts) > 0 || len(kust.HelmChartInflationGenerator) > 0 {
		return exitcode.Invalidf("%s: helmCharts: bgrender builds an overlay without running Helm, and cannot map a chart's objects back to a file it could edit; render the chart into the repository (helm template … > base/<app>/manifests.yaml) and list that file in resources", name)
	}
	local, remote := references(kust)
	if len(remote) > 0 {
		return exitcode.Invalidf("%s: %s is a remote base: bgrender builds an overlay from this repository alone (it fetches no other), and a remote base's objects are in no file of it that bgrender could edit; copy the base into this repository (a folder beside the overlay) and list that folder in resources instead", name, remote[0])
	}
	for _, ref := range local {
		p, ok := inRepo(folder, ref)
		if !ok {
			return exitcode.Invalidf("%s: %s leaves the repository", name, ref)
		}
		if k.isDir(p) {
			if err := k.load(p, name); err != nil {
				return err
			}
		} else if !k.isFile(p) {
			return exitcode.Invalidf("%s: resources: %s: no such file or folder in the repository", name, ref)
		}
	}
	return nil
}

// kustomization returns the path and content of folder's kustomization
// file in memory.
func (k *kustomizeFS) kustomization(folder string) (string, []byte) {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(folder, n)
		if data, err := k.fs.ReadFile(memPath(p)); err == nil {
			return p, data
		}
	}
	return "", nil
}

func (k *kustomizeFS) isDir(p string) bool {
	if within(p, k.app) {
		st, err := os.Stat(filepath.Join(k.appDir, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(p, k.app), "/"))))
		return err == nil && st.IsDir()
	}
	_, err := k.root.Tree(p)
	return err == nil
}

func (k *kustomizeFS) isFile(p string) bool {
	if within(p, k.app) {
		st, err := os.Stat(filepath.Join(k.appDir, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(p, k.app), "/"))))
		return err == nil && st.Mode().IsRegular()
	}
	_, err := k.root.File(p)
	return err == nil
}

// build runs kustomize on the folder, with the options of `kustomize
// build` (load restrictor rootOnly, no plugins).
func (k *kustomizeFS) build(folder string) (resmap.ResMap, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(k.fs, memPath(folder))
	if err != nil {
		return nil, exitcode.Invalidf("kustomize build %s: %v", display(folder), err)
	}
	return m, nil
}
