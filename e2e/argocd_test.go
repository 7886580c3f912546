package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

const argoExamples = "../examples/gitops/argocd"

// Argo CD's own CRDs, v3.6.1, copied into testdata/crds (see their headers).
var argoCRDFiles = []string{
	"../testdata/crds/argocd-application-crd.yaml",
	"../testdata/crds/argocd-appproject-crd.yaml",
	"../testdata/crds/argocd-applicationset-crd.yaml",
}

// gitopsRepoApps are the app folders of the GitOps repository that the
// Argo CD examples describe, and the example spec each holds as
// bgrender.yaml.
var gitopsRepoApps = map[string]string{
	"apps/my-application": "../examples/seed/app.yaml",
	"apps/checkout":       "../examples/full/app.yaml",
	"apps/hello":          "../examples/minimal/app.yaml",
}

// readDocs decodes every YAML document of a file.
func readDocs(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// requireArgoCRDs installs Argo CD's Application, AppProject and
// ApplicationSet CRDs (server-side apply, strict) and waits until they are
// established.
func requireArgoCRDs(t *testing.T, srv *kubetest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var names []string
	for _, f := range argoCRDFiles {
		for _, crd := range readDocs(t, f) {
			data, err := crd.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			_, err = srv.Dynamic().Resource(crdGVR).Patch(ctx, crd.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
				FieldManager:    kubetest.FieldManager,
				Force:           ptr.To(true),
				FieldValidation: metav1.FieldValidationStrict,
			})
			if err != nil {
				t.Fatalf("installing CRD %s from %s: %v", crd.GetName(), f, err)
			}
			names = append(names, crd.GetName())
		}
	}
	for _, n := range names {
		waitEstablished(t, ctx, srv, n)
	}
	srv.RESTMapper().Reset()
}

// TestArgoCDExamplesAcceptedByCRDs applies every Argo CD example object
// (the AppProject, the Applications, the ApplicationSet, the plugin's
// ConfigMap) to the real API server with Argo CD's own CRDs installed:
// server-side apply, dryRun=All, strict field validation, no warnings.
func TestArgoCDExamplesAcceptedByCRDs(t *testing.T) {
	srv := kubetest.Require(t)
	requireArgoCRDs(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.CreateNamespace(ctx, "argocd", nil); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, file := range []string{"appproject.yaml", "applications.yaml", "applicationset.yaml", "plugin-configmap.yaml"} {
		objs := readDocs(t, filepath.Join(argoExamples, file))
		for _, o := range objs {
			kinds[o.GetKind()]++
			if o.GetNamespace() != "argocd" {
				t.Errorf("%s: %s/%s is in namespace %q, want argocd", file, o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
		warnings, err := srv.ApplyDryRun(ctx, objs)
		if err != nil {
			t.Errorf("%s: %v", file, err)
		}
		if len(warnings) > 0 {
			t.Errorf("%s: warnings:\n%s", file, strings.Join(warnings, "\n"))
		}
	}
	want := map[string]int{"AppProject": 1, "Application": len(gitopsRepoApps), "ApplicationSet": 1, "ConfigMap": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects in the examples, want %d", kinds[k], k, n)
		}
	}
}

// TestArgoCDRepoServerPatch applies repo-server-patch.yaml to Argo CD's
// own argocd-repo-server Deployment (v3.6.1) as kubectl patch does (a
// strategic merge), then has the API server take the result (strict,
// dry-run), in a namespace that warns below the restricted Pod Security
// Standard: no warning may name the bgrender sidecar.
func TestArgoCDRepoServerPatch(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := readDocs(t, "../testdata/argocd/argocd-repo-server-deployment.yaml")
	patch := readDocs(t, filepath.Join(argoExamples, "repo-server-patch.yaml"))
	if len(base) != 1 || len(patch) != 1 {
		t.Fatalf("want one Deployment in each file, got %d and %d", len(base), len(patch))
	}
	baseJSON, _ := base[0].MarshalJSON()
	patchJSON, _ := patch[0].MarshalJSON()
	merged, err := strategicpatch.StrategicMergePatch(baseJSON, patchJSON, appsv1.Deployment{})
	if err != nil {
		t.Fatalf("strategic merge of the patch: %v", err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(merged, &d); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, "argocd-repo-server") || !slices.Contains(names, "bgrender") {
		t.Fatalf("containers after the patch: %v, want the repo server's and bgrender", names)
	}
	for _, v := range []string{"var-files", "plugins", "bgrender-cmp-plugin", "bgrender-cmp-tmp", "tmp"} {
		if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(vol corev1.Volume) bool { return vol.Name == v }) {
			t.Errorf("volume %s missing after the patch", v)
		}
	}
	ns := srv.NewNamespace(t, ctx, "argocd-repo-server", map[string]string{"pod-security.kubernetes.io/warn": "restricted"})
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(merged, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{u})
	if err != nil {
		t.Fatalf("the patched Deployment: %v", err)
	}
	for _, w := range warnings {
		if strings.Contains(w, `"bgrender"`) || strings.Contains(w, "bgrender-cmp") {
			t.Errorf("warning about the sidecar: %s", w)
		}
	}
}

// cmpPlugin mirrors Argo CD v3.6.1's ConfigManagementPlugin file
// (cmpserver/plugin/config.go: PluginConfig and what it holds), so that a
// strict decode fails on any field Argo CD does not know.
type cmpPlugin struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Version          string        `json:"version"`
		Init             cmpCommand    `json:"init,omitempty"`
		Generate         cmpCommand    `json:"generate"`
		Discover         cmpDiscover   `json:"discover"`
		Parameters       cmpParameters `json:"parameters"`
		PreserveFileMode bool          `json:"preserveFileMode,omitempty"`
		ProvideGitCreds  bool          `json:"provideGitCreds,omitempty"`
	} `json:"spec"`
}

type cmpCommand struct {
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
}

type cmpDiscover struct {
	Find struct {
		cmpCommand `json:",inline"`
		Glob       string `json:"glob"`
	} `json:"find"`
	FileName string `json:"fileName"`
}

type cmpParameters struct {
	Static []struct {
		Name           string            `json:"name"`
		Title          string            `json:"title"`
		Tooltip        string            `json:"tooltip"`
		Required       bool              `json:"required"`
		ItemType       string            `json:"itemType"`
		CollectionType string            `json:"collectionType"`
		String         string            `json:"string"`
		Array          []string          `json:"array"`
		Map            map[string]string `json:"map"`
	} `json:"static"`
	Dynamic cmpCommand `json:"dynamic"`
}

// readPlugin decodes plugin.yaml strictly and checks it as Argo CD's
// ValidatePluginConfig does.
func readPlugin(t *testing.T) (*cmpPlugin, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(argoExamples, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p cmpPlugin
	if err := sigsyaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	switch {
	case p.APIVersion != "argoproj.io/v1alpha1" || p.Kind != "ConfigManagementPlugin":
		t.Fatalf("plugin.yaml: %s %s, want argoproj.io/v1alpha1 ConfigManagementPlugin", p.APIVersion, p.Kind)
	case p.Metadata.Name == "":
		t.Fatal("plugin.yaml: metadata.name is empty")
	case len(p.Spec.Generate.Command) == 0:
		t.Fatal("plugin.yaml: spec.generate.command is empty")
	}
	return &p, data
}

// TestArgoCDPluginFileIsStrict checks the mirror: a field Argo CD does not
// know fails the decode, so TestArgoCDPlugin's decode means something.
func TestArgoCDPluginFileIsStrict(t *testing.T) {
	_, data := readPlugin(t)
	bad := bytes.Replace(data, []byte("  generate:\n"), []byte("  generate:\n    workingDir: /tmp\n"), 1)
	var p cmpPlugin
	if err := sigsyaml.UnmarshalStrict(bad, &p); err == nil || !strings.Contains(err.Error(), "workingDir") {
		t.Fatalf("a plugin.yaml with spec.generate.workingDir decoded: %v", err)
	}
}

// gitopsRepo writes the GitOps repository the Argo CD examples describe,
// with its app folders and a plain one, and returns its root.
func gitopsRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for dir, src := range gitopsRepoApps {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, dir, "bgrender.yaml"), data)
	}
	plain, err := filepath.Glob("../testdata/gitops/plain/*.yaml")
	if err != nil || len(plain) == 0 {
		t.Fatalf("plain manifests: %v", err)
	}
	for _, f := range plain {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, "apps", "plain", filepath.Base(f)), data)
	}
	return root
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// argoEnv is the environment Argo CD's repo server gives a plugin's
// commands (reposerver/repository/repository.go: newEnv, getPluginEnvs),
// after the sidecar's own.
func argoEnv(app *unstructured.Unstructured, revision string) []string {
	str := func(fields ...string) string { s, _, _ := unstructured.NestedString(app.Object, fields...); return s }
	return append(os.Environ(),
		"ARGOCD_APP_NAME="+app.GetName(),
		"ARGOCD_APP_NAMESPACE="+str("spec", "destination", "namespace"),
		"ARGOCD_APP_PROJECT_NAME="+str("spec", "project"),
		"ARGOCD_APP_REVISION="+revision,
		"ARGOCD_APP_REVISION_SHORT="+revision[:7],
		"ARGOCD_APP_REVISION_SHORT_8="+revision[:8],
		"ARGOCD_APP_SOURCE_REPO_URL="+str("spec", "source", "repoURL"),
		"ARGOCD_APP_SOURCE_PATH="+str("spec", "source", "path"),
		"ARGOCD_APP_SOURCE_TARGET_REVISION="+str("spec", "source", "targetRevision"),
		"KUBE_VERSION=1.37.2",
		"KUBE_API_VERSIONS=admissionregistration.k8s.io/v1,apps/v1,autoscaling/v2,networking.k8s.io/v1,policy/v1,v1",
	)
}

// cmpRun runs one of the plugin's commands as Argo CD's cmp-server does
// (cmpserver/plugin/plugin.go runCommand): command[0] with command[1:] and
// args, no shell, in the app's folder, with env.
func cmpRun(c cmpCommand, dir string, env []string) (stdout, stderr string, err error) {
	if len(c.Command) == 0 {
		return "", "", errors.New("command is empty")
	}
	cmd := exec.Command(c.Command[0], append(c.Command[1:], c.Args...)...)
	cmd.Env = env
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// cmpDiscovers is Argo CD's matchRepository for discover.fileName: a glob
// in the app's folder.
func cmpDiscovers(t *testing.T, p *cmpPlugin, dir string) bool {
	t.Helper()
	if p.Spec.Discover.FileName == "" {
		t.Fatal("plugin.yaml: no discover.fileName (the test knows only that rule)")
	}
	m, err := filepath.Glob(filepath.Join(dir, p.Spec.Discover.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return len(m) > 0
}

// TestArgoCDPlugin runs the plugin as Argo CD would, for every Application
// of applications.yaml and every folder the ApplicationSet's directory
// generator finds: discover picks the spec folders and not the plain one;
// generate prints exactly what `bgrender render` prints; a broken spec
// fails generate with the file and line on stderr and nothing on stdout.
// The AppProject must allow every rendered kind and namespace.
func TestArgoCDPlugin(t *testing.T) {
	p, data := readPlugin(t)
	cm := readDocs(t, filepath.Join(argoExamples, "plugin-configmap.yaml"))
	if got, _, _ := unstructured.NestedString(cm[0].Object, "data", "plugin.yaml"); got != string(data) {
		t.Errorf("plugin-configmap.yaml's data.plugin.yaml differs from plugin.yaml")
	}
	bin := helmtest.BuildBgrender(t)
	// The sidecar runs bgrender from PATH, as the image puts it there.
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	repo := gitopsRepo(t)
	project := readDocs(t, filepath.Join(argoExamples, "appproject.yaml"))[0]
	revision := "f913b6cbf58aa5ae5ca1f8a2b149477aebcbd9d8"

	apps := readDocs(t, filepath.Join(argoExamples, "applications.yaml"))
	seen := map[string]bool{}
	for _, app := range apps {
		path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
		plugin, _, _ := unstructured.NestedString(app.Object, "spec", "source", "plugin", "name")
		t.Run(app.GetName(), func(t *testing.T) {
			if _, ok := gitopsRepoApps[path]; !ok {
				t.Fatalf("spec.source.path %q is not an app folder of the example repository", path)
			}
			seen[path] = true
			if plugin != p.Metadata.Name {
				t.Errorf("spec.source.plugin.name %q, want the plugin's %q", plugin, p.Metadata.Name)
			}
			checkGenerate(t, p, bin, filepath.Join(repo, path), argoEnv(app, revision), project)
		})
	}
	for dir := range gitopsRepoApps {
		if !seen[dir] {
			t.Errorf("no Application for %s", dir)
		}
	}

	// The ApplicationSet: one Application per folder under apps/, each
	// named after it; discovery chooses the plugin for spec folders.
	set := readDocs(t, filepath.Join(argoExamples, "applicationset.yaml"))[0]
	gens, _, _ := unstructured.NestedSlice(set.Object, "spec", "generators")
	dirs, _, _ := unstructured.NestedSlice(gens[0].(map[string]any), "git", "directories")
	pattern, _ := dirs[0].(map[string]any)["path"].(string)
	folders, err := filepath.Glob(filepath.Join(repo, pattern))
	if err != nil || len(folders) != len(gitopsRepoApps)+1 {
		t.Fatalf("directory generator %q: %v, %v", pattern, folders, err)
	}
	for _, f := range folders {
		rel, _ := filepath.Rel(repo, f)
		_, isSpec := gitopsRepoApps[rel]
		if got := cmpDiscovers(t, p, f); got != isSpec {
			t.Errorf("discover on %s: %v, want %v", rel, got, isSpec)
		}
		if !isSpec {
			continue
		}
		app := &unstructured.Unstructured{Object: map[string]any{}}
		tmpl, _, _ := unstructured.NestedMap(set.Object, "spec", "template", "spec")
		app.Object["spec"] = tmpl
		app.SetName(filepath.Base(rel))
		_ = unstructured.SetNestedField(app.Object, rel, "spec", "source", "path")
		t.Run("applicationset/"+app.GetName(), func(t *testing.T) {
			checkGenerate(t, p, bin, f, argoEnv(app, revision), project)
		})
	}

	t.Run("broken spec", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "apps", "broken")
		writeFile(t, filepath.Join(dir, "bgrender.yaml"), []byte("apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata:\n  name: broken\nspec:\n  replicas: many\n"))
		stdout, stderr, err := cmpRun(p.Spec.Generate, dir, argoEnv(apps[0], revision))
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("generate on a broken spec: %v, want exit 2", err)
		}
		if stdout != "" || !strings.Contains(stderr, "bgrender.yaml:6") {
			t.Errorf("stdout %q, stderr %q; want nothing on stdout and bgrender.yaml:6 on stderr", stdout, stderr)
		}
	})
}

// checkGenerate runs the plugin's generate in dir and compares its output
// with `bgrender render bgrender.yaml` run there by hand.
func checkGenerate(t *testing.T, p *cmpPlugin, bin, dir string, env []string, project *unstructured.Unstructured) {
	t.Helper()
	if !cmpDiscovers(t, p, dir) {
		t.Errorf("discover does not match %s", dir)
	}
	got, stderr, err := cmpRun(p.Spec.Generate, dir, env)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	cmd := exec.Command(bin, "render", filepath.Join(dir, "bgrender.yaml"))
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("bgrender render: %v", err)
	}
	if got != string(want) {
		t.Errorf("generate printed %d bytes that differ from render's %d", len(got), len(want))
	}
	if len(want) == 0 {
		t.Fatal("render printed nothing")
	}
	checkProjectAllows(t, project, []byte(got), env)
}

// checkProjectAllows reads the objects the plugin printed as Argo CD does
// (a YAML stream) and checks each against the AppProject: namespaced, of a
// whitelisted kind, in an allowed destination namespace.
func checkProjectAllows(t *testing.T, project *unstructured.Unstructured, manifests []byte, env []string) {
	t.Helper()
	allowedNS := map[string]bool{}
	dests, _, _ := unstructured.NestedSlice(project.Object, "spec", "destinations")
	for _, d := range dests {
		allowedNS[d.(map[string]any)["namespace"].(string)] = true
	}
	allowedKind := map[string]bool{}
	kinds, _, _ := unstructured.NestedSlice(project.Object, "spec", "namespaceResourceWhitelist")
	for _, k := range kinds {
		m := k.(map[string]any)
		allowedKind[fmt.Sprintf("%s/%s", m["group"], m["kind"])] = true
	}
	defaultNS := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "ARGOCD_APP_NAMESPACE="); ok {
			defaultNS = v
		}
	}
	if !allowedNS[defaultNS] {
		t.Errorf("the Application's destination namespace %q is not one of the project's", defaultNS)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	n := 0
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("the plugin's output is not a YAML stream: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		n++
		u := &unstructured.Unstructured{Object: m}
		gk := u.GroupVersionKind().Group + "/" + u.GetKind()
		if !allowedKind[gk] {
			t.Errorf("%s/%s: kind %s is not in the project's namespaceResourceWhitelist", u.GetKind(), u.GetName(), gk)
		}
		ns := u.GetNamespace()
		if ns == "" {
			ns = defaultNS
		}
		if !allowedNS[ns] {
			t.Errorf("%s/%s: namespace %q is not one of the project's destinations", u.GetKind(), u.GetName(), ns)
		}
	}
	if n == 0 {
		t.Error("no objects in the plugin's output")
	}
}
