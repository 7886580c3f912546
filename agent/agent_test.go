package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

func TestMain(m *testing.M) { loop.Main(m) }

var (
	kustomizations = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepos       = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	applications   = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
)

// TestReconcileFlux: the real Flux controllers take the request: after
// Reconcile, both the Kustomization and its GitRepository (in another
// namespace, as sourceRef.namespace says) report the annotation's value as
// status.lastHandledReconcileAt, as `flux reconcile ks --with-source`
// would see; and a ServiceAccount bound to examples/rbac/reconcile-flux.yaml
// (adjusted to these names) is allowed to do it.
func TestReconcileFlux(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	git := gittest.NewServer(t)
	seed := t.TempDir()
	if err := os.MkdirAll(filepath.Join(seed, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "apps", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: agent-test, namespace: default}\ndata: {k: v}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := git.CreateRepo(t, "gitops", seed)
	sources := bed.NewNamespace(t, ctx, "sources", nil)
	if err := bed.ApplyYAML(ctx, []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: gitops, namespace: `+sources+`}
spec: {url: "`+url+`", ref: {branch: main}, interval: 10m}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: my-application, namespace: flux-system}
spec: {sourceRef: {kind: GitRepository, name: gitops, namespace: `+sources+`}, path: ./apps, prune: true, interval: 10m}
`)); err != nil {
		t.Fatal(err)
	}

	// The documented Role, for these objects: the Kustomization in
	// flux-system, its source in the sources namespace.
	role, err := os.ReadFile("../examples/rbac/reconcile-flux.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fluxRole := filepath.Join(dir, "flux.yaml")
	srcRole := filepath.Join(dir, "src.yaml")
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fluxRole, string(role))
	write(srcRole, strings.Replace(string(role), "namespace: flux-system", "namespace: "+sources, 1))
	cfg, err := apptest.ServiceAccountConfig(ctx, bed.Server, "flux-system", "deployer", fluxRole)
	if err != nil {
		t.Fatal(err)
	}
	if err := apptest.BindRole(ctx, bed.Server, sources, "flux-system", "deployer", srcRole); err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	ref, err := agent.ParseRef("kustomization/flux-system/my-application")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	done, err := agent.Reconcile(ctx, client, []agent.Ref{ref}, now, func(m string) { t.Errorf("warning: %s", m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].String() != "gitrepository/"+sources+"/gitops" || done[1] != ref {
		t.Errorf("annotated %v", done)
	}
	want := now.UTC().Format(time.RFC3339Nano)
	for _, o := range []struct {
		gvr      schema.GroupVersionResource
		ns, name string
	}{{gitRepos, sources, "gitops"}, {kustomizations, "flux-system", "my-application"}} {
		if err := loop.WaitFor(ctx, o.gvr.Resource+" to handle the request", func(ctx context.Context) (bool, error) {
			u, err := bed.Dynamic().Resource(o.gvr).Namespace(o.ns).Get(ctx, o.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			got, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
			return got == want, nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// Without the Role: told what is needed.
	other, err := apptest.ServiceAccountConfig(ctx, bed.Server, "flux-system", "nobody", "")
	if err != nil {
		t.Fatal(err)
	}
	nobody, err := dynamic.NewForConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	gr, _ := agent.ParseRef("gitrepository/" + sources + "/gitops")
	if _, err := agent.Reconcile(ctx, nobody, []agent.Ref{gr}, now, func(string) {}); err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "needs get and patch") {
		t.Errorf("without the Role: %v", err)
	}
}

// TestReconcileArgoCD: an Application (Argo CD's own CRD) gets the refresh
// annotation, and nothing else of it changes.
func TestReconcileArgoCD(t *testing.T) {
	bed := loop.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	crd, err := os.ReadFile("../testdata/crds/argocd-application-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, crd); err != nil {
		t.Fatal(err)
	}
	ns := bed.NewNamespace(t, ctx, "argocd", nil)
	app := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: my-application, namespace: ` + ns + `}
spec:
  project: default
  source: {repoURL: "https://git.example.com/ops/gitops.git", path: apps/my-application, targetRevision: main}
  destination: {server: "https://kubernetes.default.svc", namespace: production}
`
	if err := loop.WaitFor(ctx, "the Application CRD to serve", func(ctx context.Context) (bool, error) {
		return bed.ApplyYAML(ctx, []byte(app)) == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := bed.Dynamic().Resource(applications).Namespace(ns).Get(ctx, "my-application", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := agent.ParseRef("application/" + ns + "/my-application")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Reconcile(ctx, bed.Dynamic(), []agent.Ref{ref}, time.Now(), func(string) {}); err != nil {
		t.Fatal(err)
	}
	after, err := bed.Dynamic().Resource(applications).Namespace(ns).Get(ctx, "my-application", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := after.GetAnnotations()[agent.ArgoCDRefresh]; got != "normal" {
		t.Errorf("refresh annotation %q", got)
	}
	b, _, _ := unstructured.NestedMap(before.Object, "spec")
	a, _, _ := unstructured.NestedMap(after.Object, "spec")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the spec changed: %v, then %v", b, a)
	}
}
